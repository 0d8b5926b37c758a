"""What the synthesized programs cost a build: a default build against a template-only build of the same size.

    python benchmarks/synthesized_cost.py [--num-samples 10000] [--num-proc 2] [--out /tmp/synth-cost]

Builds ``--num-samples`` programs twice, one after the other in this run, with ``warp-ir build``: the default mix
(templates and both synthesizers) and the template families alone (``--families`` without ``synthesized``), and
prints both wall times, their ratio (target: at most 1.2) and each build's synthesized share of rows. Both folders
are removed afterwards unless ``--keep``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _build(out: Path, num_samples: int, num_proc: int, families: list[str] | None) -> float:
    cmd = [sys.executable, "-c", "import sys; from warp_ir.cli import main; sys.exit(main())", "-q", "build",
           "--out", str(out), "--num-samples", str(num_samples), "--num-proc", str(num_proc), "--overwrite",
           "--baseline-rows", "0"]  # (the card's retrieval baseline: scoring after the build, not the builder's cost)
    if families:
        cmd += ["--families", ",".join(families)]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num-samples", type=int, default=10_000)
    parser.add_argument("--num-proc", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None, help="folder for the two builds (default: a temp folder)")
    parser.add_argument("--keep", action="store_true", help="keep the two builds")
    args = parser.parse_args()

    from generator.programs.templates import SYNTH_FAMILY, default_families

    root = args.out or Path(tempfile.mkdtemp(prefix="warp-ir-synth-cost-"))
    root.mkdir(parents=True, exist_ok=True)
    templates_only = [f for f in default_families() if f != SYNTH_FAMILY]
    try:
        default_s = _build(root / "default", args.num_samples, args.num_proc, None)
        templates_s = _build(root / "templates", args.num_samples, args.num_proc, templates_only)
        shares = {}
        for name in ("default", "templates"):
            info = json.loads((root / name / "build_info.json").read_text())["synthetic"]
            families = info["rows_by_family"]
            rows = sum(families.values()) or 1
            shares[name] = round(families.get(SYNTH_FAMILY, 0) / rows, 4)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    print(json.dumps({"num_samples": args.num_samples, "num_proc": args.num_proc,
                      "default_seconds": round(default_s, 1), "templates_only_seconds": round(templates_s, 1),
                      "ratio": round(default_s / templates_s, 3), "synthesized_share_of_rows": shares}, indent=1))


if __name__ == "__main__":
    main()
