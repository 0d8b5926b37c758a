"""Finished work kept so that a killed build resumes: the one format of every engine, verified before it is trusted.

Finished rows (a local build's shard, a mined package, a Ray task's file) are kept as two files:

* the data: a Parquet file in the dataset's own schema, written by ``datasets``' own writer in row
  groups of :data:`ROW_GROUP_ROWS` (a data format: reading it runs no code);
* its manifest (JSON): the format version, what made the rows (``identity``: for a shard its split,
  id, seed, a digest of its sample indices, families, templates, targets and validation level), the
  row count, the data file's size and SHA-256, and what the work counted (``counts``, a report).

Both are written through a temporary name and a rename, data first, so a manifest always describes
a complete data file. :func:`load_table` trusts saved rows only when every check passes
(:func:`trusted`, then the size and digest of the data); missing, truncated, corrupted, foreign
(another shard's) or tampered rows are logged with their path, deleted and made again, so the build
ends with the same rows as an uninterrupted one. The Ray engine keeps its finished files in the same
format (:mod:`warp_ir.ray_engine.tasks`), on any file system.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from common.atomic import write_atomic
from extraction import FEATURES
from generator.planning.plan import ShardSpec

logger = logging.getLogger(__name__)

MANIFEST_VERSION = 2  # 1: Arrow IPC data files (rejected, so made again)
ROW_GROUP_ROWS = 100  # rows per Parquet row group (~3 MB uncompressed: the Hub's viewer reads them one at a time)


def digest(data: bytes | memoryview) -> str:
    """SHA-256 of a shard's data file, as hex (about 1 ms per MB here)."""
    return hashlib.sha256(data).hexdigest()


class ShardRejected(Exception):
    """A saved shard failed a check (the message says which)."""


def shard_identity(shard: ShardSpec, targets: Sequence[str], validate: str, round_trip: bool = True) -> dict[str, Any]:
    """Everything that makes a shard's rows what they are (what its manifest must match)."""
    return {
        "split": shard.split, "shard_id": shard.shard_id, "seed": shard.seed,
        "indices": hashlib.sha256(",".join(map(str, shard.indices)).encode()).hexdigest(),
        "count": len(shard.indices), "families": list(shard.families), "templates_digest": shard.templates_digest,
        "targets": list(targets), "validate": validate, "round_trip": round_trip,
    }


def _paths(folder: Path, shard: ShardSpec) -> tuple[Path, Path]:
    return folder / f"{shard.name}.parquet", folder / f"{shard.name}.json"


def parquet_writer(stream: io.IOBase) -> Any:
    """``datasets``' own Parquet writer (its schema metadata, row groups of :data:`ROW_GROUP_ROWS`) on ``stream``;
    ``write_table`` each table, then ``finalize(close_stream=False)``."""
    from datasets.arrow_writer import ParquetWriter  # noqa: PLC0415 - datasets takes a second to import

    return ParquetWriter(features=FEATURES, stream=stream, writer_batch_size=ROW_GROUP_ROWS)


def manifest(identity: Any, rows: int, size: int, sha256: str, extra: dict[str, Any]) -> dict[str, Any]:
    """The manifest of finished rows: the format version, ``identity``, the row count, the data file's size and
    SHA-256, and ``extra`` (counts, row statistics, a report)."""
    return {"version": MANIFEST_VERSION, "identity": identity, "rows": rows, "bytes": size, "sha256": sha256,
            **extra}


def trusted(saved: Any, identity: Any) -> bool:
    """Whether ``saved`` is a manifest of this format for the work ``identity`` (its data still to be checked)."""
    return isinstance(saved, dict) and saved.get("version") == MANIFEST_VERSION and \
        saved.get("identity") == identity and isinstance(saved.get("rows"), int) and \
        isinstance(saved.get("bytes"), int) and isinstance(saved.get("sha256"), str)


def save_table(data_path: Path, manifest_path: Path, identity: dict[str, Any], table: pa.Table,
               extra: dict[str, Any]) -> None:
    """Save finished rows and their manifest (data first, each through a rename).

    Args:
        data_path: The rows' Parquet file.
        manifest_path: The manifest (:func:`manifest`).
        identity: What made these rows (a later load must present the same).
        table: The rows, in the dataset's schema.
        extra: More JSON kept in the manifest (counts, a report).
    """
    sink = io.BytesIO()
    writer = parquet_writer(sink)
    if table.num_rows:
        writer.write_table(table)
    rows, _ = writer.finalize(close_stream=False)
    data = sink.getbuffer()
    write_atomic(data_path, data)
    write_atomic(manifest_path, json.dumps(manifest(identity, rows, len(data), digest(data), extra),
                                           sort_keys=True).encode())


def save_shard(folder: Path, shard: ShardSpec, identity: dict[str, Any], table: pa.Table,
               counts: dict[str, Any]) -> None:
    """Save a finished shard's rows and manifest (data first, each through a rename)."""
    save_table(*_paths(folder, shard), identity, table, {"counts": counts})


def _verify(data_path: Path, manifest_path: Path, identity: dict[str, Any]) -> tuple[pa.Table, dict]:
    """The rows and manifest of saved rows, once every check has passed.

    Raises:
        ShardRejected: A check failed.
    """
    try:
        saved = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ShardRejected(f"unreadable manifest ({type(exc).__name__})") from exc
    if not trusted(saved, identity):
        raise ShardRejected("not a warp-ir manifest of this format, or it describes other work")
    try:
        data = data_path.read_bytes()
    except OSError as exc:
        raise ShardRejected(f"data file unreadable ({exc.strerror})") from exc
    if len(data) != saved["bytes"] or digest(data) != saved["sha256"]:
        raise ShardRejected("the data file does not match its checksum (truncated, corrupted or replaced)")
    try:
        table = pq.read_table(pa.BufferReader(data))
    except (pa.ArrowInvalid, OSError) as exc:
        raise ShardRejected(f"not a Parquet file ({exc})") from exc
    if not table.schema.equals(FEATURES.arrow_schema, check_metadata=False) or table.num_rows != saved["rows"]:
        raise ShardRejected("its rows do not have the dataset's schema or count")
    return table.replace_schema_metadata(FEATURES.arrow_schema.metadata), saved


def _check_counts(manifest: dict[str, Any], identity: dict[str, Any]) -> dict[str, Any]:
    counts = manifest.get("counts")
    if not isinstance(counts, dict) or not isinstance(counts.get("rejected"), dict) or \
            counts.get("rows") != manifest.get("rows") or \
            counts["rows"] + sum(counts["rejected"].values()) != identity["count"]:
        raise ShardRejected("its counts do not add up to the shard's programs")
    return counts


def load_table(data_path: Path, manifest_path: Path, identity: dict[str, Any], check=None,
               kind: str = "rows", again: str = "making them again") -> tuple[pa.Table, dict] | None:
    """Saved rows and their manifest, or ``None`` when there are none or they failed a check.

    Saved rows that fail a check (``check(manifest)`` may add one by raising
    :class:`ShardRejected`) are logged (``discarding saved <kind> <path>: <reason>; <again>``)
    and deleted, so they are made again.
    """
    if not data_path.exists() and not manifest_path.exists():
        return None
    try:
        if not data_path.exists() or not manifest_path.exists():
            raise ShardRejected("half of it is missing")
        table, manifest = _verify(data_path, manifest_path, identity)
        if check is not None:
            check(manifest)
        return table, manifest
    except ShardRejected as exc:
        logger.warning("discarding saved %s %s: %s; %s", kind, data_path, exc, again)
        data_path.unlink(missing_ok=True)
        manifest_path.unlink(missing_ok=True)
        return None


def load_shard(folder: Path, shard: ShardSpec, identity: dict[str, Any]) -> tuple[pa.Table, dict] | None:
    """The rows (a table) and counts of a saved shard, or ``None`` when there is none or it failed a check.

    A shard that fails a check is logged (with its path and the reason) and deleted, so it is
    compiled again.
    """
    loaded = load_table(*_paths(folder, shard), identity, lambda m: _check_counts(m, identity), kind="shard",
                        again="compiling it again")
    return None if loaded is None else (loaded[0], loaded[1]["counts"])
