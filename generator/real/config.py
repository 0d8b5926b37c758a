"""The ``real`` configuration: which packages are mined, which split each goes to, which rows are kept.

Splits are held out **by package**: the test split holds whole packages (``test_packages``), the
rest (and the fem capture, which is warp-lang's own ``warp.fem``) is train, so a model trained
on the train split is evaluated on code from packages it has never seen.

Rows whose normalised Python source (and argument types) repeat an earlier row are dropped, in
this order: train packages (warp-lang first, so code copied from Warp's examples stays with
Warp), then test packages. A test row that repeats a train row is therefore dropped from test:
the splits share no near-duplicate. Every drop is counted in the package's report, with the
package that kept the row.
"""

from __future__ import annotations

import functools
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from common.errors import ConfigError
from extraction import warp_version
from extraction.record import GENERATED_COLUMNS
from generator.codegen.resume import load_table
from generator.real.jobs import FEM, PACKAGE_TIMEOUT_S, Mined, MineJob, mine_all, result_paths
from generator.real.licenses import normalize_expression
from generator.real.mine import dedupe_key, totals
from generator.real.packages import WARP, canonical, resolve_packages

logger = logging.getLogger(__name__)

# Packages whose rows form the default test split, code none of the train packages wrote, from two fields:
# mujoco-warp (Google DeepMind's rigid-body simulator: collision, constraint solvers, sensors, smooth dynamics)
# with mink-warp (inverse kinematics built on it), so the MuJoCo family is unseen in training; and
# nvalchemi-toolkit-ops (NVIDIA's atomistic chemistry kernels: neighbour lists, electrostatics, dispersion;
# generic kernels with many overloads). Together about a third of the rows. Small packages stay in train,
# where every extra source of style helps more.
DEFAULT_TEST_PACKAGES: tuple[str, ...] = ("mujoco-warp", "mink-warp", "nvalchemi-toolkit-ops")


@dataclass(frozen=True, slots=True)
class RealShard:
    """The kept rows of one mined package: ``gen_kwargs`` of one split.

    Attributes:
        package: Package name (or ``fem``).
        folder: Where its verified rows are kept (see :mod:`generator.real.jobs`).
        identity: The identity its saved rows must match.
        rows: Indices of the kept rows in the package's table.
    """

    package: str
    folder: str
    identity: dict[str, Any]
    rows: tuple[int, ...]


def check_real_settings(packages: Sequence[str] | None, test_packages: Sequence[str] | None,
                        allow_licenses: Sequence[str], timeout_s: float) -> tuple[tuple[str, ...] | None,
                                                                                  tuple[str, ...] | None]:
    """Check the ``real`` configuration's settings; return ``packages`` and ``test_packages`` as canonical names.

    Raises:
        ConfigError: A named package is not installed (:class:`generator.real.packages.PackageError`), a test
            package is not among ``packages``, a license is not an SPDX id, or the time limit is not positive.
    """
    if packages is not None:
        packages = tuple(resolve_packages(packages))
    if test_packages is not None:
        test_packages = tuple(resolve_packages(test_packages))
        outside = [p for p in test_packages if packages is not None and p not in packages]
        if outside:
            raise ConfigError(f"test packages not among the packages mined: {', '.join(outside)}")
    bad = [x for x in allow_licenses if " " in x.strip() or normalize_expression(x) != x]
    if bad:
        raise ConfigError(f"not an SPDX license identifier: {', '.join(bad)} (e.g. LGPL-3.0-only, MPL-2.0)")
    if not (isinstance(timeout_s, (int, float)) and timeout_s > 0):
        raise ConfigError(f"the package time limit must be a positive number of seconds, got {timeout_s!r}")
    return packages, test_packages


def real_jobs(packages: Sequence[str] | None, targets: Sequence[str], allow_licenses: Sequence[str] = (),
              include_fem: bool = False, modules: Sequence[str] | None = None,
              round_trip: bool = True) -> list[MineJob]:
    """One job per package to mine (``packages``, or warp-lang and every installed package depending on it).

    Raises:
        generator.real.packages.PackageError: A named package is not installed.
    """
    jobs = [MineJob(name, tuple(targets), tuple(sorted(allow_licenses)), tuple(modules) if modules else None,
                    round_trip) for name in resolve_packages(packages)]
    return jobs + [MineJob(FEM, tuple(targets), round_trip=round_trip)] if include_fem else jobs


def held_out_packages(mined: Sequence[str], test_packages: Sequence[str] | None) -> list[str]:
    """The mined packages that go to the test split (``test_packages``, default :data:`DEFAULT_TEST_PACKAGES`)."""
    wanted = {canonical(p) for p in (DEFAULT_TEST_PACKAGES if test_packages is None else test_packages)}
    return [p for p in mined if p in wanted]


def plan_real(mined: Sequence[Mined], folder: Path,
              test_packages: Sequence[str] | None) -> tuple[dict[str, list[RealShard]], dict[str, Any]]:
    """Assign mined packages to splits and drop duplicate rows.

    Returns:
        ``(split -> shards, report)``; the report has one entry per package (its mining counts,
        ``split``, ``duplicates``, ``duplicate_of`` and ``records``), ``totals``, ``splits``, ``rows``,
        ``licenses`` (rows per license) and ``not_mined`` (package -> why: license, crash, time limit, ...).
    """
    names = [m.package for m in mined if m.package != FEM]
    test = set(held_out_packages(names, test_packages))
    order = sorted(mined, key=lambda m: (m.package in test, m.package != WARP, m.package))
    seen: dict[str, str] = {}  # dedupe key -> package that kept it
    shards: dict[str, list[RealShard]] = {"train": [], "test": []}
    reports: dict[str, dict[str, Any]] = {}
    licenses: Counter = Counter()
    for m in order:
        split = "test" if m.package in test else "train"
        rep = dict(m.report, split=split, reused=m.reused)
        kept: list[int] = []
        dup_of: Counter = Counter()
        if m.table is not None:
            cols = m.table.select(["python_source", "arguments", "source"]).to_pylist()
            for i, row in enumerate(cols):
                if m.package == FEM:  # integrands, their own kind of row: repeats were removed when captured
                    kept.append(i)
                else:
                    key = dedupe_key(row["python_source"], row["arguments"])
                    if key in seen:
                        dup_of[seen[key]] += 1
                        continue
                    seen[key] = m.package
                    kept.append(i)
                licenses[row["source"]["license"]] += 1
            if kept:
                shards[split].append(RealShard(m.package, str(folder), m.identity, tuple(kept)))
        rep.update(duplicates=sum(dup_of.values()), duplicate_of=dict(sorted(dup_of.items())), records=len(kept))
        reports[m.package] = rep
    packages = {name: reports[name] for name in sorted(reports) if name != FEM}
    fem = reports.get(FEM)
    report = {
        "packages": packages, "totals": totals(packages),
        "splits": {split: [s.package for s in shards[split]] for split in shards},  # packages with rows
        "rows": {split: sum(len(s.rows) for s in shards[split]) for split in shards},
        "test_packages": sorted(test), "licenses": dict(sorted(licenses.items())),
        "not_mined": {name: p["status"] for name, p in packages.items() if p["status"] != "mined"},
        "warp_version": warp_version(),
    }
    if fem is not None:
        report["fem"] = fem
    return {split: s for split, s in shards.items() if s}, report


def mine_and_plan(jobs: Sequence[MineJob], folder: Path, test_packages: Sequence[str] | None, workers: int = 1,
                  timeout_s: float | None = None) -> tuple[dict[str, list[RealShard]], dict[str, Any]]:
    """Mine every job (each in its own child process; finished ones reused) and plan the splits."""
    mined = mine_all(jobs, folder, workers, timeout_s=timeout_s or PACKAGE_TIMEOUT_S)
    shards, report = plan_real(mined, folder, test_packages)
    for m in mined:
        logger.info("real: %s [%s] %s rows", m.package, m.report.get("status"), report["packages"].get(
            m.package, report.get("fem", {})).get("records"))
    return shards, report


ROW_GROUP_BYTES = 64 * 2**20  # a few real kernels generate megabytes of code: row groups stay small enough to read


def row_batches(table: pa.Table, max_rows: int, max_bytes: int = ROW_GROUP_BYTES) -> list[pa.Table]:
    """``table`` cut into consecutive slices of at most ``max_rows`` rows and (but for a single row) ``max_bytes``."""
    # characters of code per row, counted by Arrow (no Python copy of the megabytes of code)
    lengths = [pc.fill_null(pc.utf8_length(table[c]), 0) for c in ("python_source", *GENERATED_COLUMNS)]
    sizes = functools.reduce(pc.add, lengths).to_pylist()
    out, start, size = [], 0, 0
    for i, n in enumerate(sizes):
        if i > start and (i - start >= max_rows or size + n > max_bytes):
            out.append(table.slice(start, i - start))
            start, size = i, 0
        size += n
    if start < table.num_rows:
        out.append(table.slice(start))
    return out


def real_table(shard: RealShard) -> pa.Table:
    """The kept rows of one package, read back from its verified file.

    Raises:
        RuntimeError: The file changed since it was mined (it is checked again before it is read).
    """
    data, manifest, _ = result_paths(Path(shard.folder), shard.package)
    loaded = load_table(data, manifest, shard.identity)
    if loaded is None:
        raise RuntimeError(f"the mined rows of {shard.package} in {shard.folder} changed during the build")
    return loaded[0].take(pa.array(shard.rows, type=pa.int64()))


__all__ = ["DEFAULT_TEST_PACKAGES", "RealShard", "check_real_settings", "held_out_packages", "mine_and_plan",
           "plan_real", "real_jobs", "real_table", "row_batches"]
