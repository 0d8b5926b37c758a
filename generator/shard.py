"""Compile one shard: re-render its programs, generate code, validate, and report counts."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from extraction import kernel_cache, rows_table, warp_version
from generator.atomic import write_json_atomic
from generator.pipeline import Counts, package_version, records_for
from generator.plan import ShardSpec
from generator.render import RenderError
from generator.resume import load_shard, save_shard, shard_identity
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
            counts.reject(exc.template.family, f"RenderError: {exc}", f"{shard.seed}:{index}")
    return programs


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
    counts = Counts()
    rows = []
    with kernel_cache(kernel_cache_dir):
        programs = shard_programs(shard, load_templates(), counts)
        records = records_for(programs, targets, counts)
        if validate != "codegen":
            from generator.validate import validate_records  # noqa: PLC0415 - only needed at higher levels

            records = validate_records(records, validate, targets, counts)
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
) -> pa.Table:
    """The rows of one shard, in index order, as one Arrow table; its counts go to ``stats_dir``.

    With ``resume_dir``, a finished shard is saved there (see :mod:`generator.resume`) and a
    later run with the same fingerprint reads it back, once verified, instead of compiling it
    again, so a build killed at any point resumes where it stopped and ends with the same rows.

    Args:
        shard: The slice of the seed space to compile.
        targets: Code generation targets.
        validate: Validation level.
        stats_dir: Where ``<split>-<shard_id>.json`` with the shard's counts goes (optional).
        resume_dir: Where finished shards are kept (a folder per build fingerprint).
    """
    folder = Path(resume_dir) if resume_dir else None
    identity = shard_identity(shard, targets, validate)
    saved = load_shard(folder, shard, identity) if folder is not None else None
    if saved is not None:
        table, counts = saved[0], Counts.from_json(saved[1])
        logger.info("shard %s/%d: resumed (%d rows)", shard.split, shard.shard_id, table.num_rows)
    else:
        cache = os.path.join(stats_dir, "..", "warp-kernels", f"pid-{os.getpid()}") if stats_dir else None
        rows, counts_json = compile_shard(shard, targets, validate, cache)
        table, counts = rows_table(rows), Counts.from_json(counts_json)
        if folder is not None:
            save_shard(folder, shard, identity, table, counts_json)
    if stats_dir:
        write_json_atomic(Path(stats_dir) / f"{shard.name}.json", counts.to_json())
    logger.info("shard %s/%d: %d rows, %d rejected", shard.split, shard.shard_id, counts.rows,
                sum(counts.rejected.values()))
    return table
