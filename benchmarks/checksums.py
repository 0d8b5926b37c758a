"""What verifying resume files costs: the SHA-256 of every saved shard, against a whole build, in one run.

    python benchmarks/checksums.py [--num-samples 10000] [--num-proc 1]

Runs one build (every shard saved, with its checksum), then the same build again, which reads
every shard back and verifies it. Reports the time spent computing checksums in each, as a
fraction of that build's wall time. Target: under 2% of the first build.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num-samples", type=int, default=10_000)
    parser.add_argument("--num-proc", type=int, default=1, help="1 keeps every checksum in this process (timed)")
    args = parser.parse_args()

    import generator.codegen.resume as resume
    from warp_ir.build import build

    spent = {"s": 0.0, "bytes": 0, "calls": 0}
    digest = resume.digest

    def timed_digest(data: bytes) -> str:
        start = time.perf_counter()
        out = digest(data)
        spent["s"] += time.perf_counter() - start
        spent["bytes"] += len(data)
        spent["calls"] += 1
        return out

    resume.digest = timed_digest
    with tempfile.TemporaryDirectory(prefix="warp-ir-bench-") as tmp:
        out = Path(tmp) / "out"
        for label in ("build (shards saved)", "rebuild (shards verified and read back)"):
            spent.update(s=0.0, bytes=0, calls=0)
            start = time.perf_counter()
            result = build(out, num_samples=args.num_samples, num_proc=args.num_proc, keep_cache=True)
            wall = time.perf_counter() - start
            print(f"{label}: {sum(result.rows.values())} rows in {wall:.1f} s; checksums of {spent['calls']} shard "
                  f"files ({spent['bytes'] / 1e6:.0f} MB) took {spent['s']:.2f} s = {100 * spent['s'] / wall:.2f}% "
                  "(target < 2%)")


if __name__ == "__main__":
    main()
