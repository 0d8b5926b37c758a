"""Planning alone at scale: render, normalise, hash, sign and place programs (no code generation).

    python benchmarks/planner.py [--num-samples 1000000] [--workers 2] [--families a,b] [--no-fuzzy-dedup]

Runs :func:`generator.planning.plan.make_plan` the way a build does (``--workers`` processes draw, this
process deduplicates and assigns splits through the near-twin index) and reports the time, the
draws and why they were dropped, and the peak resident memory of the planning process and of its
drawing workers; progress goes to stderr, a line a batch. Target: a 1,000,000-program plan fits in
a few GB.
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num-samples", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--families", default=None, help="comma-separated (default: the default build's)")
    parser.add_argument("--fuzzy-dedup", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)  # progress

    from generator.planning.plan import DEFAULT_SPLITS, make_plan
    from generator.programs.templates import default_families, load_templates

    ts = load_templates()
    fams = args.families.split(",") if args.families else default_families(ts)
    start = time.perf_counter()
    plan = make_plan(args.seed, args.num_samples, ts, fams, DEFAULT_SPLITS, 100, workers=args.workers,
                     fuzzy_dedup=args.fuzzy_dedup)
    seconds = time.perf_counter() - start
    summary = plan.to_json()
    summary.pop("render_failures")
    result = {
        "num_samples": args.num_samples, "workers": args.workers, "fuzzy_dedup": args.fuzzy_dedup,
        "seconds": round(seconds, 1), "draws_per_second": round(plan.draws / seconds),
        "draws_per_kept": round(plan.draws / max(1, plan.kept), 2),
        "peak_rss_mib_planner": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "peak_rss_mib_worker": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
        "twin_index_mib": round(plan.twin_index_bytes / 2**20, 1),
        **summary,
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
