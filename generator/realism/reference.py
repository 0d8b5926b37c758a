"""Measure the real configuration of a build and write it as the shipped reference (``real_reference.json``).

A synthetic build's card compares its features with real Warp code's; a build that did not mine packages itself
uses this reference, measured once on a default real build::

    warp-ir build --config real --out /tmp/real-build
    python -m generator.realism.reference /tmp/real-build

The reference records what it was measured on (rows, packages and versions, Warp's version, the date), so the card
can say so.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from generator.realism.stats import REFERENCE, SourceStats

_COLUMNS = ["family", "python_source", "cpp_forward", "cpp_backward", "warp_version", "source"]


def measure(folder: Path) -> dict[str, Any]:
    """The reference figures of the real rows under ``folder/real`` (rows of the opt-in fem capture left out)."""
    files = sorted((folder / "real").glob("*.parquet"))
    if not files:
        raise FileNotFoundError(f"{folder / 'real'} holds no Parquet files: build the real configuration first")
    stats = SourceStats()
    packages: Counter = Counter()
    versions: dict[str, str] = {}
    warp_versions: set[str] = set()
    for path in files:
        for row in pq.read_table(path, columns=_COLUMNS).to_pylist():
            source = row.get("source") or {}
            if row["family"] != "real" or source.get("kind") == "fem":
                continue
            stats.add(row["python_source"] or "", row["cpp_forward"], row["cpp_backward"])
            packages[source.get("package") or ""] += 1
            versions[source.get("package") or ""] = source.get("package_version") or ""
            warp_versions.add(row["warp_version"])
    return {
        "measured_on": {"rows": stats.rows, "packages": {p: {"rows": n, "version": versions[p]}
                                                         for p, n in sorted(packages.items())},
                        "warp_version": sorted(warp_versions), "date": date.today().isoformat()},
        "summary": stats.summary(),
    }


def main(argv: list[str] | None = None) -> int:
    """Command line: measure a real build and write :data:`~generator.realism.stats.REFERENCE`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="a build folder holding real/*.parquet")
    parser.add_argument("--out", type=Path, default=REFERENCE)
    args = parser.parse_args(argv)
    try:
        reference = measure(args.folder)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    args.out.write_text(json.dumps(reference, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
