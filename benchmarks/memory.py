"""Peak memory of one worker as a build grows: 1,000 programs against 50,000, in one process.

    python benchmarks/memory.py [--small 1000] [--large 50000]

Compiles programs in one long-lived process the way a build worker does (load from memory,
generate code for both targets, cut, release) and reports the peak resident set size after
``--small`` and after ``--large`` programs. Target: large/small <= 1.5.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def peak_mb() -> float:
    """Peak resident set size of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--large", type=int, default=50000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from extraction import init_quiet
    from generator.codegen.pipeline import Counts, records_for
    from generator.programs.render import RenderError
    from generator.programs.sampler import sample_program
    from generator.programs.templates import default_families, load_templates

    init_quiet()
    ts, fams = load_templates(), default_families()
    counts = Counts()
    start = time.perf_counter()
    small_peak = None
    done = 0
    for lo in range(0, args.large, 500):
        progs = []
        for i in range(lo, min(lo + 500, args.large)):
            try:
                progs.append(sample_program(args.seed, i, ts, fams))
            except RenderError:
                pass
        for rec in records_for(progs, ("cpu", "cuda"), counts):
            counts.keep(rec.family)
        done = min(lo + 500, args.large)
        if small_peak is None and done >= args.small:
            small_peak = peak_mb()
            print(f"after {done:>6} programs: peak RSS {small_peak:7.1f} MiB", flush=True)
        if done % 10000 == 0:
            print(f"after {done:>6} programs: peak RSS {peak_mb():7.1f} MiB ({time.perf_counter() - start:.0f} s)",
                  flush=True)
    large_peak = peak_mb()
    print(f"after {done:>6} programs: peak RSS {large_peak:7.1f} MiB; rows {counts.rows}, "
          f"rejected {sum(counts.rejected.values())}")
    print(f"ratio large/small = {large_peak / small_peak:.3f}   target <= 1.5")


if __name__ == "__main__":
    main()
