"""What the Ray engine's tasks run: plan a build, write one Parquet file of it, count its near-twins.

Plain functions (the driver wraps them with ``ray.remote``), so they can be run and tested
anywhere. A file task compiles a group of consecutive shards of one split and streams their
rows into one Parquet file at its final place in the output, named by the plan
(``data/<split>-XXXXX-of-YYYYY.parquet``), so no name depends on which task finishes first. Its
marker (``done/<name>.json``: the file's size and SHA-256, its counts and row statistics) is
written after the file; a task whose file is already marked, and whose bytes check out, returns
the marker without compiling anything.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeGuard

import numpy as np
import pyarrow.parquet as pq

from extraction import rows_table
from extraction.roundtrip import RoundTrip, with_round_trip
from generator.codegen.pipeline import Counts
from generator.codegen.resume import manifest, parquet_writer, trusted
from generator.codegen.rowstats import RowStats, builtin_name_set, split_rank
from generator.codegen.shard import compile_shard
from generator.config import BuildConfig
from generator.planning.plan import ShardSpec, make_plan
from generator.programs.templates import load_templates
from warp_ir.ray_engine.store import HashingWriter, file_digest, join, open_store, read_json, write_json, write_whole
from warp_ir.stats import signatures_for_ids
from warp_ir.writer import hub_name

logger = logging.getLogger(__name__)

ROWS_PER_FILE = 2_000  # planned programs per file (~22 MB of Parquet at codegen; 1M rows: 500 files)
MAX_FILE_BYTES = 500 * 10**6  # the Hub's advice for one Parquet file
DONE = "done"  # folder of the markers of finished files


class FileTooLarge(ValueError):
    """A file came out above :data:`MAX_FILE_BYTES`."""


@dataclass(frozen=True, slots=True)
class FileSpec:
    """One output file: consecutive shards of one split, written by one task.

    Attributes:
        split: Split name.
        index: Position of the file in its split.
        count: Files in the split.
        shards: The shards whose rows the file holds, in order.
    """

    split: str
    index: int
    count: int
    shards: tuple[ShardSpec, ...]

    @property
    def name(self) -> str:
        """``<split>-XXXXX-of-YYYYY.parquet``."""
        return hub_name(self.split, self.index, self.count)

    def identity(self, build: str) -> str:
        """What a marker must carry to be trusted for this file: the build's fingerprint and the programs."""
        key = "|".join([build, self.name, *(",".join(map(str, s.indices)) for s in self.shards)])
        return hashlib.sha256(key.encode()).hexdigest()


def file_specs(shards: Mapping[str, Sequence[ShardSpec]], rows_per_file: int = ROWS_PER_FILE) -> list[FileSpec]:
    """Cut each split's shards, in order, into files of at most ``rows_per_file`` planned programs (at least one
    shard each); splits in their plan order."""
    specs: list[FileSpec] = []
    for split, split_shards in shards.items():
        groups: list[list[ShardSpec]] = []
        for shard in split_shards:
            if not groups or sum(len(s.indices) for s in groups[-1]) + len(shard.indices) > rows_per_file:
                groups.append([])
            groups[-1].append(shard)
        specs += [FileSpec(split, i, len(groups), tuple(g)) for i, g in enumerate(groups)]
    return specs


def plan_files(cfg: BuildConfig, rows_per_file: int) -> tuple[dict[str, Any], tuple[np.ndarray, np.ndarray]]:
    """Plan a synthetic build and cut it into files.

    Returns:
        ``{"plan": <the plan's JSON summary>, "files": [FileSpec, ...]}``, and the kept programs' row ids and
        MinHash signatures (the near-twin count's input: the driver passes them on without fetching them).
    """
    assert cfg.families is not None  # BuildConfig fills in the default families
    plan = make_plan(cfg.seed, cfg.num_samples, load_templates(), cfg.families, cfg.split_ratios, cfg.shard_size,
                     workers=cfg.plan_workers, twin_threshold=cfg.twin_threshold, fuzzy_dedup=cfg.fuzzy_dedup,
                     unseen_templates=cfg.held_out_templates())
    return {"plan": plan.to_json(), "files": file_specs(plan.shards, rows_per_file)}, (plan.kept_ids, plan.signatures)


def _trusted(marker: Any, identity: str) -> TypeGuard[dict[str, Any]]:
    """A finished file's manifest (:mod:`generator.codegen.resume`'s format), with its counts and statistics."""
    return trusted(marker, identity) and isinstance(marker.get("counts"), dict) and \
        isinstance(marker.get("row_stats"), dict)


def write_file(spec: FileSpec, work: str, prefix: str, identity: str, targets: Sequence[str],
               validate: str, round_trip: bool = True) -> dict[str, Any]:
    """Compile the shards of ``spec`` and write their rows as ``work/prefix/<name>``, then mark it done.

    Args:
        spec: The file.
        work: The build's working location (a path or fsspec URL every worker can reach).
        prefix: The configuration's folder (``data``).
        identity: :meth:`FileSpec.identity` of this build.
        targets: Code generation targets.
        validate: Validation level.
        round_trip: Check every row's round trip (:mod:`extraction.roundtrip`: one fresh process a file).

    Returns:
        The file's marker, with ``reused``: whether a finished file was found (verified) and kept.

    Raises:
        FileTooLarge: The file came out above :data:`MAX_FILE_BYTES` (nothing is left under its name).
    """
    fs, root = open_store(work)
    path, marker_path = join(root, prefix, spec.name), join(root, DONE, spec.name + ".json")
    marker = read_json(fs, marker_path)
    if _trusted(marker, identity):
        if fs.exists(path) and file_digest(fs, path) == (marker["bytes"], marker["sha256"]):
            return {**marker, "reused": True}
        logger.warning("%s does not match its marker: writing it again", path)
    counts, stats, names = Counts(), RowStats(), builtin_name_set()
    with tempfile.TemporaryDirectory(prefix="warp-ir-kernels-") as kernels, write_whole(fs, path) as raw, \
            contextlib.ExitStack() as stack:
        checker = stack.enter_context(RoundTrip()) if round_trip else None
        sink = HashingWriter(raw)
        writer = parquet_writer(sink)
        for shard in spec.shards:
            rows, shard_counts = compile_shard(shard, targets, validate, kernels)
            counts.merge(Counts.from_json(shard_counts))
            if rows:
                table = rows_table(rows)
                if checker is not None:
                    table = with_round_trip(table, checker)
                writer.write_table(table)
                stats.add_table(spec.split, table, names)
        rows_written, _ = writer.finalize(close_stream=False)
        if sink.size > MAX_FILE_BYTES:
            raise FileTooLarge(f"{prefix}/{spec.name} came out at {sink.size / 1e6:.0f} MB, above the Hub's "
                               f"{MAX_FILE_BYTES / 1e6:.0f} MB: lower --rows-per-file")
    marker = manifest(identity, rows_written, sink.size, sink.sha256.hexdigest(),
                      {"file": f"{prefix}/{spec.name}", "counts": counts.to_json(), "row_stats": stats.to_json()})
    write_json(fs, marker_path, marker)
    return {**marker, "reused": False}


def near_twins_of_files(work: str, files: dict[str, list[str]], known: tuple[np.ndarray, np.ndarray]) -> dict[str, Any]:
    """The near-twin report of the rows of ``files`` (paths on ``work``'s file system, split -> in order), as
    :func:`warp_ir.stats.diversity` gives it for a local folder: signatures from the plan (``known``) when every
    row is there, else computed from the rows' sources."""
    from generator.planning import astpaths, minhash, similarity  # noqa: PLC0415

    fs, _ = open_store(work)
    ordered = sorted(files.items(), key=lambda kv: split_rank(kv[0]))

    def column(name: str) -> tuple[list[str], list[Any]]:
        splits, values = [], []
        for split, paths in ordered:
            for path in paths:
                with fs.open(path, "rb") as f:
                    part = pq.read_table(f, columns=[name]).column(name).to_pylist()
                splits += [split] * len(part)
                values += part
        return splits, values

    splits, ids = column("id")
    matrix = signatures_for_ids(np.array([int(i, 16) for i in ids], dtype=np.uint64), known)
    if matrix is None:
        splits, sources = column("python_source")
        matrix = np.hstack([minhash.signatures(sources), astpaths.signatures(sources)])
    return similarity.two_measures(matrix, splits, similarity.DEFAULT_TWIN_THRESHOLD)
