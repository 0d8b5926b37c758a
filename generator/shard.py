"""Compile one shard: re-render its programs, generate code, validate, and report counts."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from extraction import init_quiet, warp_version
from generator.pipeline import Counts, package_version, records_for
from generator.plan import ShardSpec
from generator.render import RenderError
from generator.sampler import Program, sample_program
from generator.templates import Template, load_templates, templates_digest

logger = logging.getLogger(__name__)


class TemplatesChanged(RuntimeError):
    """The template files changed between planning a build and compiling one of its shards."""


def shard_programs(shard: ShardSpec, templates: Sequence[Template], counts: Counts) -> list[Program]:
    """Re-render the programs of ``shard`` (identical to what the plan rendered).

    Raises:
        TemplatesChanged: The templates on disk are not the ones the plan was made from.
    """
    if shard.templates_digest and templates_digest(tuple(templates)) != shard.templates_digest:
        raise TemplatesChanged("the templates changed while the build was running: start it again")
    programs = []
    for index in shard.indices:
        try:
            programs.append(sample_program(shard.seed, index, templates, shard.families))
        except RenderError as exc:  # cannot happen for a plan made with the same templates
            counts.reject("unknown", f"RenderError: {exc}", f"{shard.seed}:{index}")
    return programs


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary name and a rename (never a half-written file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_json_atomic(path: Path, data: dict) -> None:
    """Write ``data`` as JSON to ``path`` through a temporary name and a rename."""
    write_atomic(path, json.dumps(data, sort_keys=True).encode())


def fingerprint(config: dict[str, Any]) -> str:
    """A key for everything that decides a build's rows: the config, the templates and the versions."""
    key = json.dumps(config, sort_keys=True, default=str)
    key += f"|{templates_digest(load_templates())}|{warp_version()}|{package_version('warp-ir-dataset')}"
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def compile_shard(shard: ShardSpec, targets: Sequence[str], validate: str = "codegen",
                  kernel_cache_dir: str | None = None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Compile (and validate) one shard; return its rows and its counts (plain JSON, for any worker).

    This is all a worker needs, wherever it runs: a ``datasets`` process or a Ray task.
    """
    init_quiet(kernel_cache_dir)
    counts = Counts()
    programs = shard_programs(shard, load_templates(), counts)
    records = records_for(programs, targets, counts)
    if validate != "codegen":
        from generator.validate import validate_records  # noqa: PLC0415 - only needed at higher levels

        records = validate_records(records, validate, targets, counts)
    rows = []
    for rec in records:
        counts.keep(rec.family)
        rows.append(rec.to_row())
    return rows, counts.to_json()


def run_shard(
    shard: ShardSpec,
    targets: Sequence[str],
    validate: str = "codegen",
    stats_dir: str | None = None,
    resume_dir: str | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield the rows of one shard, in index order; write its counts to ``stats_dir`` at the end.

    With ``resume_dir``, a finished shard is saved there (temporary name, then rename) and a
    later run with the same fingerprint reads it back instead of compiling it again, so a
    build killed at any point resumes where it stopped and ends with the same rows.

    Args:
        shard: The slice of the seed space to compile.
        targets: Code generation targets.
        validate: Validation level.
        stats_dir: Where ``<split>-<shard_id>.json`` with the shard's counts goes (optional).
        resume_dir: Where finished shards are kept (a folder per build fingerprint).
    """
    name = f"{shard.split}-{shard.shard_id:05d}"
    done = Path(resume_dir) / f"{name}.pkl" if resume_dir else None
    if done is not None and done.exists():
        saved = pickle.loads(done.read_bytes())
        rows, counts = saved["rows"], Counts.from_json(saved["counts"])
        logger.info("shard %s/%d: resumed (%d rows)", shard.split, shard.shard_id, len(rows))
    else:
        cache = os.path.join(stats_dir, "..", "warp-kernels", f"pid-{os.getpid()}") if stats_dir else None
        rows, counts_json = compile_shard(shard, targets, validate, cache)
        counts = Counts.from_json(counts_json)
        if done is not None:
            # pickle, not JSON: a 100-row shard is ~3 MB of code, which JSON encodes 4x slower (the file is
            # this build's own, under its output folder, and read back only by a build with the same fingerprint)
            write_atomic(done, pickle.dumps({"rows": rows, "counts": counts_json}, protocol=pickle.HIGHEST_PROTOCOL))
    yield from rows
    if stats_dir:
        write_json_atomic(Path(stats_dir) / f"{name}.json", counts.to_json())
    logger.info("shard %s/%d: %d rows, %d rejected", shard.split, shard.shard_id, counts.rows,
                sum(counts.rejected.values()))
