"""Mine each package in a child process of its own, under a time and a memory limit; keep what finished.

Importing a package runs its code. :func:`mine_isolated` runs ``python -m generator.real.jobs``
for one package (or for the fem capture, :data:`FEM`), so that a crash, a hang or a leak in one
package costs only that package: it is reported with its reason and the build goes on, and
nothing it imported or allocated is there when the next one is mined.

The child writes the package's rows as a Parquet file beside a manifest (the package's
identity: name, version, a digest of its installed files, Warp's and the builder's versions, the
targets and allowed licenses; the row count, the file's checksum, the mining report) through
:func:`generator.codegen.resume.save_table`. That pair marks the package finished: a later build with
the same identity verifies and reuses it instead of mining again; anything that fails a check
is deleted and mined again. The child's own output goes to ``<name>.log`` beside them.

The child's environment has no secrets (:func:`mine_env`), and the child runs in a session of
its own, killed whole when its work is over: nothing a package started at import outlives it.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import pyarrow as pa

from common.progress import Progress
from extraction import Source, init_quiet, rows_table, warp_version
from extraction.child import child_env, has_exited, kill_group
from extraction.isolate import resident_bytes
from extraction.roundtrip import RoundTrip, with_round_trip
from generator.codegen.resume import load_table, save_table
from generator.real.fem import fem_records
from generator.real.mine import mine_package
from generator.real.packages import files_digest, package_info
from generator.real.sources import package_root, package_spec
from generator.version import BUILDER_VERSION

logger = logging.getLogger(__name__)

FEM = "fem"  # not a package: the kernels warp.fem generates for warp-ir's Poisson example (fem_examples/)
PACKAGE_TIMEOUT_S = 1800.0  # a whole package (the largest here takes about 4 minutes)
DEFAULT_MEMORY_MB = 8192  # resident memory a child may use (the largest here peaks near 1.5 GB)
MODULE_TIMEOUT_S = 120.0  # importing one module
_POLL_S = 0.2
PROGRESS_EVERY_S = 30.0  # seconds between plain progress lines while packages are mined (one may take minutes)
_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True, slots=True)
class MineJob:
    """One package to mine.

    Attributes:
        package: Canonical distribution name, or :data:`FEM`.
        targets: Code generation targets.
        allow_licenses: SPDX ids mined besides the permissive ones.
        modules: Only these modules (and those under them); ``None``: every module.
        round_trip: Check every row's round trip (:mod:`extraction.roundtrip`) in the package's child.
        skip_scripts: The package's scripts not to run (each stopped an earlier child: a crash, its memory);
            not part of :meth:`identity`: the rows are what the package gives once they are left out.
    """

    package: str
    targets: tuple[str, ...]
    allow_licenses: tuple[str, ...] = ()
    modules: tuple[str, ...] | None = None
    round_trip: bool = True
    skip_scripts: tuple[str, ...] = ()

    def identity(self) -> dict[str, Any]:
        """Everything that makes this package's rows what they are (a saved result must match all of it)."""
        if self.package == FEM:
            source: dict[str, str | None] = {"version": BUILDER_VERSION,
                                             "files": files_digest(_ROOT, ["fem_examples"])}
        else:
            info = package_info(self.package)
            root = package_root(package_spec(info))
            source = {"version": info.version, "license": info.license,
                      "files": files_digest(root, info.import_names) if root else ""}
        return {"package": self.package, **source, "warp_version": warp_version(), "builder_version": BUILDER_VERSION,
                "targets": list(self.targets), "allow_licenses": sorted(self.allow_licenses),
                "modules": list(self.modules) if self.modules is not None else None, "round_trip": self.round_trip}


@dataclass(slots=True)
class Mined:
    """What mining one package gave: its rows (``None`` when the child failed) and its report."""

    package: str
    table: pa.Table | None
    report: dict[str, Any]
    identity: dict[str, Any]  # what its saved rows were checked against (MineJob.identity)
    reused: bool = False  # a finished result of an earlier build was verified and reused


def result_paths(folder: Path, package: str) -> tuple[Path, Path, Path]:
    """Where a package's mined rows, their manifest and its child's output are kept in ``folder``."""
    return folder / f"{package}.parquet", folder / f"{package}.json", folder / f"{package}.log"


def script_marker(log: Path) -> Path:
    """Where a package's child writes the name of the script it is running (removed when they are done)."""
    return log.with_suffix(".script")


# A script that crashes its package's child (or makes it too large) is left out and the package mined again,
# at most this many times.
MAX_SCRIPT_RETRIES = 3


def _last_line(log: Path) -> str:
    """The child's last line of output that is not Warp's own start-up chatter (``Warp CUDA warning: ...``)."""
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("Warp ")]
    return lines[-1][:200] if lines else ""


def _failed(job: MineJob, identity: dict[str, Any], status: str, seconds: float) -> Mined:
    logger.warning("mining %s: %s", job.package, status)
    report: dict[str, Any] = {"package": job.package, "status": status, "seconds": round(seconds, 2)}
    if job.package != FEM:
        info = package_info(job.package)
        report.update(version=info.version, license=info.license, repository=info.repository)
    return Mined(job.package, None, report, identity)


def mine_env() -> dict[str, str]:
    """The environment of a mining child: this process's without its secrets (``HF_TOKEN``, ``*_KEY``, ...).

    Warp's code generator iterates over a set of names in one place (loop variables a static loop
    leaves behind): a fixed string hash (``PYTHONHASHSEED=0``) makes its output, and so the rows,
    the same in every run.
    """
    return child_env() | {"PYTHONHASHSEED": "0"}


def mine_isolated(job: MineJob, folder: Path, timeout_s: float = PACKAGE_TIMEOUT_S,
                  memory_mb: int = DEFAULT_MEMORY_MB, stop: threading.Event | None = None) -> Mined:
    """Mine one package in a child process (or reuse its verified result from an earlier build in ``folder``).

    Args:
        job: The package.
        folder: Where finished packages are kept (the build's resume folder).
        timeout_s: Seconds the child may take before it is killed.
        memory_mb: Resident memory the child may use before it is killed.
        stop: When set (the build is interrupted), the child is killed and ``KeyboardInterrupt`` raised.

    Returns:
        The rows and report; a child that failed, hung or used too much memory gives no rows
        and a report whose ``status`` says why.
    """
    if stop is not None and stop.is_set():
        raise KeyboardInterrupt
    folder.mkdir(parents=True, exist_ok=True)
    data, manifest, log = result_paths(folder, job.package)
    identity = job.identity()
    saved = load_table(data, manifest, identity, kind="package result", again="mining it again")
    if saved is not None:
        logger.info("mining %s: reusing its verified result", job.package)
        return Mined(job.package, saved[0], saved[1]["report"], identity, reused=True)
    marker = script_marker(log)
    for _ in range(MAX_SCRIPT_RETRIES):
        marker.unlink(missing_ok=True)
        mined = _mine_child(job, identity, folder, timeout_s, memory_mb, stop)
        culprit = marker.read_text(encoding="utf-8").strip() if marker.is_file() else ""
        if mined.table is not None or not culprit or culprit in job.skip_scripts:
            break
        logger.warning("mining %s: the script %s stopped it (%s); mining it again without that script",
                       job.package, culprit, mined.report["status"])
        job = replace(job, skip_scripts=(*job.skip_scripts, culprit))
    else:
        mined = _mine_child(job, identity, folder, timeout_s, memory_mb, stop)
    marker.unlink(missing_ok=True)
    return mined


def _mine_child(job: MineJob, identity: dict[str, Any], folder: Path, timeout_s: float, memory_mb: int,
                stop: threading.Event | None) -> Mined:
    """Run one mining child for ``job`` and read what it saved (see :func:`mine_isolated`)."""
    data, manifest, log = result_paths(folder, job.package)
    cmd = [sys.executable, "-P", "-m", "generator.real.jobs", "--job", json.dumps(asdict(job)),
           "--identity", json.dumps(identity), "--data", str(data), "--manifest", str(manifest)]
    start = time.monotonic()
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=folder, env=mine_env(), stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
        status = None
        try:
            while not has_exited(proc):  # left unreaped: its process group is killed below
                if stop is not None and stop.is_set():
                    raise KeyboardInterrupt
                if time.monotonic() - start > timeout_s:
                    status = f"killed: still mining after {timeout_s:g} s"
                elif resident_bytes(proc.pid) > memory_mb * 2**20:
                    status = f"killed: used more than {memory_mb} MiB of memory"
                if status:
                    break
                time.sleep(_POLL_S)
        finally:  # finished, failed, killed or interrupted: nothing the package started outlives the child
            kill_group(proc)
    seconds = time.monotonic() - start
    if status:
        return _failed(job, identity, status, seconds)
    if proc.returncode != 0:
        how = f"was killed by signal {-proc.returncode}" if proc.returncode < 0 else \
            f"exited with status {proc.returncode}"
        return _failed(job, identity, f"failed: the child {how}: {_last_line(log)}".rstrip(": "), seconds)
    saved = load_table(data, manifest, identity)
    if saved is None:
        return _failed(job, identity, f"failed: the child left no result: {_last_line(log)}".rstrip(": "), seconds)
    return Mined(job.package, saved[0], saved[1]["report"], identity)


def source_bytes(job: MineJob) -> int:
    """How much Python a job mines, a proxy for its time: the bytes of its distribution's ``.py`` files outside
    test folders, as its installed file list records them (0 for the fem capture, or when unknown)."""
    if job.package == FEM:
        return 0
    try:
        files = importlib.metadata.distribution(job.package).files or []
    except importlib.metadata.PackageNotFoundError:
        return 0
    return sum(f.size or 0 for f in files
               if f.suffix == ".py" and not {"tests", "test", "testing"} & set(f.parts))


def mine_all(jobs: Sequence[MineJob], folder: Path, workers: int = 1, timeout_s: float = PACKAGE_TIMEOUT_S,
             memory_mb: int = DEFAULT_MEMORY_MB) -> list[Mined]:
    """Mine every job, ``workers`` children at a time; results in the order of ``jobs``.

    An interruption (Ctrl-C) kills the children still running before it is raised again. Progress: packages
    mined of ``jobs``, and the ones being mined (:mod:`common.progress`; a plain line at most every
    :data:`PROGRESS_EVERY_S` seconds, even while one package takes minutes).
    """
    stop = threading.Event()
    pool = ThreadPoolExecutor(max_workers=max(1, workers))
    bar = Progress(len(jobs), "mining", "package", done="mined", every_s=PROGRESS_EVERY_S, heartbeat=True)
    running: list[str] = []
    lock = threading.Lock()

    def mine(job: MineJob) -> Mined:
        with lock:
            running.append(job.package)
            bar.update(0, note="now " + ", ".join(running))
        try:
            mined = mine_isolated(job, folder, timeout_s, memory_mb, stop)
        finally:
            with lock:
                running.remove(job.package)
        rows = mined.table.num_rows if mined.table is not None else 0
        with lock:
            status = str(mined.report.get("status") or "done").partition(":")[0]  # mined, skipped, failed, killed
            last = f"{job.package} {status}, {rows:,} rows"
            bar.update(1, note=last + ("; now " + ", ".join(running) if running else ""))
        return mined

    try:  # the largest packages first, so that a long one does not start last; results in the order of ``jobs``
        largest_first = sorted(range(len(jobs)), key=lambda i: -source_bytes(jobs[i]))
        futures = {i: pool.submit(mine, jobs[i]) for i in largest_first}
        mined = [futures[i].result() for i in range(len(jobs))]
    except BaseException:
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
        bar.close(failed=True)
        raise
    finally:
        pool.shutdown(wait=True)
    bar.close()
    return mined


# --- the child -----------------------------------------------------------------------------------------

def _fem_rows(job: MineJob) -> tuple[list[dict], dict[str, Any]]:
    start = time.perf_counter()
    records = fem_records(job.targets)
    return [r.to_row() for r in records], {"package": FEM, "status": "mined", "records": len(records),
                                           "extracted": len(records), "seconds": round(time.perf_counter() - start, 2)}


def _whole_problems(table: pa.Table) -> tuple[pa.Table, dict[str, int]]:
    """The rows whose round trip passed, and the others counted by why (a row its text does not decide is not
    a problem a model can solve: it is dropped)."""
    validation = table.column("validation").to_pylist()
    keep = [bool(v["round_trip"]) for v in validation]
    dropped = Counter(v["round_trip_note"] for v, ok in zip(validation, keep) if not ok)
    return table.filter(pa.array(keep, type=pa.bool_())), dict(dropped.most_common())


def _package_rows(job: MineJob) -> tuple[list[dict], dict[str, Any]]:
    pairs, report = mine_package(package_info(job.package), job.targets, job.modules, job.allow_licenses,
                                 MODULE_TIMEOUT_S, skip_scripts=job.skip_scripts,
                                 marker=script_marker(result_paths(Path.cwd(), job.package)[2]))
    rows = []
    for rec, prov in pairs:
        rec.source = Source(kind="real", package=prov.package, package_version=prov.package_version,
                            module=prov.module, path=prov.path, first_line=prov.first_line,
                            last_line=prov.last_line, license=prov.license, license_file=prov.license_file,
                            repository=prov.repository, backward_as_shipped=prov.backward_as_shipped,
                            factory=prov.factory, instantiated_by=prov.instantiated_by,
                            definitions=rec.source.definitions)
        rec.complexity = min(4, 1 + rec.python_source.count("\n") // 20)
        rows.append(rec.to_row())
    return rows, report.to_json()


def main(argv: Sequence[str] | None = None) -> int:
    """Child entry point: mine ``--job`` and save its rows and report as ``--data`` and ``--manifest``."""
    p = argparse.ArgumentParser(prog="python -m generator.real.jobs")
    p.add_argument("--job", required=True)
    p.add_argument("--identity", required=True)
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--manifest", type=Path, required=True)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    fields = json.loads(args.job)
    job = MineJob(package=fields["package"], targets=tuple(fields["targets"]),
                  allow_licenses=tuple(fields["allow_licenses"]),
                  modules=tuple(fields["modules"]) if fields["modules"] is not None else None,
                  round_trip=bool(fields.get("round_trip", True)),
                  skip_scripts=tuple(fields.get("skip_scripts", ())))
    init_quiet()
    rows, report = _fem_rows(job) if job.package == FEM else _package_rows(job)
    table = rows_table(rows)
    if job.round_trip:
        with RoundTrip() as checker:
            table = with_round_trip(table, checker)
        if job.package != FEM:
            table, report["round_trip_dropped"] = _whole_problems(table)
            report["round_trip_dropped_count"] = sum(report["round_trip_dropped"].values())
    if job.package != FEM:  # of the rows the package gives: those whose kernel a factory, or a script's run, made
        sources = table.column("source").to_pylist() if table.num_rows else []
        report["factory_rows"] = sum(bool(src["factory"]) for src in sources)
        report["script_rows"] = sum(bool(src["instantiated_by"]) for src in sources)
    save_table(args.data, args.manifest, json.loads(args.identity), table, {"report": report})
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # skip the mined packages' atexit handlers and non-daemon threads: the result is saved
