"""Rows of the ``real`` configuration: kernels mined from real Warp code, plus the ``fem`` family."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path

from extraction import KernelRecord, Source, init_quiet
from generator.atomic import write_json_atomic

logger = logging.getLogger(__name__)


def real_records(packages: Sequence[str], targets: Sequence[str], include_fem: bool = True,
                 stats_dir: str | None = None) -> Iterator[KernelRecord]:
    """Mine ``packages`` (and capture the fem integrand kernels), yielding records with their provenance.

    The mining report (per package: modules, kernels found, extracted, failed with reasons,
    duplicates) goes to ``stats_dir/real_report.json``.
    """
    from generator.real import mine_real  # noqa: PLC0415 - imports every mined package

    init_quiet()
    pairs, report = mine_real(packages=tuple(packages), targets=tuple(targets))
    for rec, prov in pairs:
        rec.source = Source(kind="real", package=prov.package, package_version=prov.package_version,
                            module=prov.module, path=prov.path, first_line=prov.first_line,
                            last_line=prov.last_line, license=prov.license)
        rec.complexity = min(4, 1 + rec.python_source.count("\n") // 20)
    fem: list[KernelRecord] = []
    if include_fem:
        from generator.fem import fem_records  # noqa: PLC0415

        fem = fem_records(targets)
        report["fem"] = {"records": len(fem)}
    if stats_dir:
        write_json_atomic(Path(stats_dir) / "real_report.json", report)
    logger.info("real: %s", json.dumps(report["totals"]))
    yield from (rec for rec, _ in pairs)
    yield from fem
