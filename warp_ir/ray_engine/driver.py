"""The Ray engine's driver: plan, keep a bounded number of file tasks in flight, merge what they report.

The driver never holds a row: the plan is made in a task (the driver gets the file list, and
passes the plan's signatures on to the near-twin task by reference), each file task writes its
Parquet file where the output is and reports its counts and row statistics, and the driver
merges those. At most ``max_in_flight`` tasks are submitted at once (back-pressure: a million
programs are not a million futures). A worker killed mid-task is retried by Ray (its half-written
file never appears under its final name); a driver killed mid-build is started again with the same
command, and the file tasks find their finished files marked, check their bytes and keep them.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from common.errors import ConfigError, first_line
from common.progress import Progress
from generator.codegen.pipeline import Counts
from generator.codegen.rowstats import RowStats, split_rank
from generator.config import BuildConfig
from warp_ir.produced import Produced
from warp_ir.ray_engine.store import join, open_store, url_of
from warp_ir.ray_engine.tasks import ROWS_PER_FILE, FileSpec, near_twins_of_files, plan_files, write_file

logger = logging.getLogger(__name__)

# the plan and near-twin tasks hold every program's signature: each runs in a worker of its own that exits after
# it (max_calls=1), so the file tasks' workers never carry that memory
MAX_RETRIES = 3  # times Ray runs a file task again after its worker died (a node lost, a process killed)
IN_FLIGHT_PER_CPU = 2  # file tasks submitted per CPU of the cluster (one running, one queued behind it)
# Warp's code generator iterates over a set of names in one place: fixing the string hash seed makes every
# worker generate the same code for the same program
WORKER_ENV = {"env_vars": {"PYTHONHASHSEED": "0"}}


class RayTaskFailed(RuntimeError):
    """A task failed for a reason other than its worker dying (that is retried)."""


def run_ray(work: str, config: BuildConfig, prefix: str = "data", address: str | None = None,
            rows_per_file: int = ROWS_PER_FILE, max_in_flight: int | None = None) -> Produced:
    """Build the synthetic configuration with Ray tasks writing their own Parquet files under ``work``.

    Args:
        work: Where the files and their markers go (a path or fsspec URL every node can reach); a
            folder per build fingerprint is made there, so a rerun of the same build resumes.
        config: What to build (the synthetic configuration).
        prefix: The configuration's folder under it (``data``).
        address: ``ray://host:10001``, ``host:6379`` or ``auto``; ``None`` starts a local Ray instance
            (loopback only) unless one is running in this process already.
        rows_per_file: Planned programs per file.
        max_in_flight: File tasks submitted at once (default: two per CPU of the cluster).

    Returns:
        The files (paths on ``work``'s file system, split -> in order), counts, row statistics, the plan's
        summary and the near-twin report.

    Raises:
        ConfigError: Ray is not installed.
        RayTaskFailed: A task raised (a file above the Hub's size, templates changed mid-build, ...).
    """
    try:
        import ray  # noqa: PLC0415
    except ImportError as exc:
        raise ConfigError("the ray engine needs Ray: pip install 'warp-ir-dataset[ray]'") from exc
    cfg = config
    fs, root = open_store(work)
    build_id = f"{cfg.fingerprint()}-{rows_per_file}"
    build_dir = join(root, build_id)
    started_here = not ray.is_initialized()
    if started_here:
        local: dict[str, Any] = {} if address else {"_node_ip_address": "127.0.0.1"}  # loopback only
        ray.init(address=address, include_dashboard=False, log_to_driver=False, runtime_env=WORKER_ENV, **local)
    try:
        started = time.perf_counter()
        plan: Any = ray.remote(num_returns=2, max_calls=1, runtime_env=WORKER_ENV)(plan_files)  # two refs
        head_ref, signatures_ref = plan.remote(config, rows_per_file)
        head = _get(ray, head_ref, "the plan")
        specs: list[FileSpec] = head["files"]
        logger.info("ray: planned %d programs in %d file(s) (%.0f s)", sum(head["plan"]["planned"].values()),
                    len(specs), time.perf_counter() - started)
        limit = max_in_flight or IN_FLIGHT_PER_CPU * max(1, int(ray.cluster_resources().get("CPU", 1)))
        reports = _run_files(ray, specs, url_of(fs, build_dir), prefix, build_id, cfg, limit)
        reused = sum(r.reused for r in reports.values())
        counts, stats = Counts(), RowStats()
        for spec in sorted(specs, key=lambda s: (s.split, s.index)):  # as the local build merges its shards' counts
            counts.merge(reports[spec.name].counts)
        for spec in sorted(specs, key=lambda s: (split_rank(s.split), s.index)):  # row order
            stats.merge(reports.pop(spec.name).row_stats)
        files: dict[str, list[str]] = {}
        for spec in specs:
            files.setdefault(spec.split, []).append(join(build_dir, prefix, spec.name))
        diversity = None
        if counts.rows:
            twins = ray.remote(max_calls=1, runtime_env=WORKER_ENV)(near_twins_of_files)
            diversity = _get(ray, twins.remote(url_of(fs, build_dir), files, signatures_ref), "the near-twin count")
    finally:
        if started_here:
            ray.shutdown()
    logger.info("ray: %d file(s), %d rows, %d kept from an earlier run", len(specs), counts.rows, reused)
    return Produced(config=cfg, files=files, counts=counts, plan=head["plan"], row_stats=stats, diversity=diversity,
                    reused=reused)


@dataclass(slots=True)
class FileReport:
    """What the driver keeps of a finished file's marker (its row statistics as arrays: 40 bytes a row)."""

    counts: Counts
    row_stats: RowStats
    reused: bool


def _run_files(ray: Any, specs: list[FileSpec], work: str, prefix: str, build: str, cfg: Any,
               limit: int) -> dict[str, FileReport]:
    """Run a file task for every spec, at most ``limit`` at once; what they reported, by file name."""
    task = ray.remote(write_file).options(max_retries=MAX_RETRIES, retry_exceptions=False, runtime_env=WORKER_ENV)
    waiting = list(reversed(specs))
    running: dict[Any, FileSpec] = {}
    reports: dict[str, FileReport] = {}
    bar, rows = Progress(len(specs), "compiling", "file", done="compiled"), 0
    while waiting or running:
        while waiting and len(running) < limit:
            spec = waiting.pop()
            running[task.remote(spec, work, prefix, spec.identity(build), cfg.targets, cfg.validate,
                                cfg.round_trip)] = spec
        done, _ = ray.wait(list(running), num_returns=1)
        for ref in done:
            spec = running.pop(ref)
            marker = _get(ray, ref, f"{prefix}/{spec.name}")
            reports[spec.name] = FileReport(Counts.from_json(marker["counts"]),
                                            RowStats.from_json(marker["row_stats"]), marker["reused"])
            logger.info("ray: %s/%s %s (%d rows); %d of %d file(s) done", prefix, spec.name,
                        "kept" if marker["reused"] else "written", marker["rows"], len(reports), len(specs))
            rows += marker["rows"]
            bar.update(1, note=f"{rows:,} rows")
    bar.close()
    return reports


def _get(ray: Any, ref: Any, what: str) -> Any:
    """``ray.get(ref)``, a failed task turned into a one-line :class:`RayTaskFailed`."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as exc:
        cause = exc.cause if isinstance(exc.cause, BaseException) else exc
        raise RayTaskFailed(f"ray: {what} failed: {type(cause).__name__}: {first_line(cause)}") from None
