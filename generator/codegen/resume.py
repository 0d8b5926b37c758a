"""Finished shards (and mined packages) kept on disk so a killed build resumes: Arrow IPC data, verified before it
is trusted.

A shard is saved as two files in its build's resume folder:

* ``<split>-<id>.arrow``: its rows, an Arrow IPC file in the dataset's own schema (a data
  format: reading it runs no code);
* ``<split>-<id>.json``: its manifest: which shard it is (split, id, seed, a digest of its
  sample indices, families, templates, targets, validation level), the row count, the data
  file's size and SHA-256, and the shard's counts.

Both are written through a temporary name and a rename, data first, so a manifest always
describes a complete data file. :func:`load_shard` trusts a saved shard only when every check
passes; a missing, truncated, corrupted, foreign (another shard's) or tampered one is logged with
its path, deleted and compiled again, so the build ends with the same rows as an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from common.atomic import write_atomic
from extraction import FEATURES
from generator.planning.plan import ShardSpec

logger = logging.getLogger(__name__)

MANIFEST_VERSION = 1


def digest(data: bytes | memoryview) -> str:
    """SHA-256 of a shard's data file, as hex (about 1 ms per MB here)."""
    return hashlib.sha256(data).hexdigest()


class ShardRejected(Exception):
    """A saved shard failed a check (the message says which)."""


def shard_identity(shard: ShardSpec, targets: Sequence[str], validate: str) -> dict[str, Any]:
    """Everything that makes a shard's rows what they are (what its manifest must match)."""
    return {
        "split": shard.split, "shard_id": shard.shard_id, "seed": shard.seed,
        "indices": hashlib.sha256(",".join(map(str, shard.indices)).encode()).hexdigest(),
        "count": len(shard.indices), "families": list(shard.families), "templates_digest": shard.templates_digest,
        "targets": list(targets), "validate": validate,
    }


def _paths(folder: Path, shard: ShardSpec) -> tuple[Path, Path]:
    return folder / f"{shard.name}.arrow", folder / f"{shard.name}.json"


def save_table(data_path: Path, manifest_path: Path, identity: dict[str, Any], table: pa.Table,
               extra: dict[str, Any]) -> None:
    """Save finished rows and their manifest (data first, each through a rename).

    Args:
        data_path: The rows' Arrow IPC file.
        manifest_path: The manifest: ``identity``, row count, the data file's size and SHA-256, and ``extra``.
        identity: What made these rows (a later load must present the same).
        table: The rows, in the dataset's schema.
        extra: More JSON kept in the manifest (counts, a report).
    """
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    data = memoryview(sink.getvalue())  # no copy: hashed and written from Arrow's own buffer
    write_atomic(data_path, data)
    manifest = {"version": MANIFEST_VERSION, "shard": identity, "rows": table.num_rows, "bytes": len(data),
                "sha256": digest(data), **extra}
    write_atomic(manifest_path, json.dumps(manifest, sort_keys=True).encode())


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
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ShardRejected(f"unreadable manifest ({type(exc).__name__})") from exc
    if not isinstance(manifest, dict) or manifest.get("version") != MANIFEST_VERSION:
        raise ShardRejected("not a warp-ir shard manifest")
    if manifest.get("shard") != identity:
        raise ShardRejected("the manifest describes another shard")
    try:
        data = data_path.read_bytes()
    except OSError as exc:
        raise ShardRejected(f"data file unreadable ({exc.strerror})") from exc
    if len(data) != manifest.get("bytes") or digest(data) != manifest.get("sha256"):
        raise ShardRejected("the data file does not match its checksum (truncated, corrupted or replaced)")
    try:
        table = pa.ipc.open_file(pa.BufferReader(data)).read_all()
    except (pa.ArrowInvalid, OSError) as exc:
        raise ShardRejected(f"not an Arrow file ({exc})") from exc
    if table.schema != FEATURES.arrow_schema or table.num_rows != manifest["rows"]:
        raise ShardRejected("its rows do not have the dataset's schema or count")
    return table, manifest


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
