"""Compile shards: re-render their programs, generate code, validate, and report counts.

Compiling a program imports it, which runs its top-level code: code a template folder wrote. That
happens in a child process forked for the shard (:mod:`common.forked`), never in the
process that asked for the rows (``warp-ir build`` itself with one worker). :func:`run_shards` starts
the next shard's child as soon as a shard's rows are in, so that writing them (and their statistics)
overlaps the next compilation.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from common.atomic import write_json_atomic
from common.forked import Child, ChildFailed, start_child
from extraction import FEATURES, init_quiet, kernel_cache, rows_table, warp_version
from extraction.environ import drop_secrets_from_process
from extraction.roundtrip import RoundTrip, with_round_trip
from generator.codegen.pipeline import Counts, package_version, records_for
from generator.codegen.resume import load_shard, save_shard, shard_identity
from generator.planning.plan import ShardSpec
from generator.programs.render import RenderError
from generator.programs.sampler import RENDERED, Program, sample_program
from generator.programs.templates import Template, load_templates, templates_digest

logger = logging.getLogger(__name__)


class TemplatesChanged(RuntimeError):
    """The template files changed between planning a build and compiling one of its shards."""


def shard_programs(shard: ShardSpec, templates: Sequence[Template], counts: Counts) -> list[Program]:
    """Re-render the programs of ``shard`` (identical to what the plan rendered), or take those that the plan, in
    the process this one was forked from, rendered and kept (:data:`generator.programs.sampler.RENDERED`).

    Raises:
        TemplatesChanged: The templates on disk are not the ones the plan was made from.
    """
    if shard.templates_digest and templates_digest(tuple(templates)) != shard.templates_digest:
        raise TemplatesChanged("the templates changed while the build was running: start it again")
    programs = []
    for index in shard.indices:
        try:
            kept = RENDERED.take(shard.templates_digest, shard.families, shard.seed, index)  # what the plan rendered
            programs.append(kept or sample_program(shard.seed, index, templates, shard.families))
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

    This is all a worker needs, wherever it runs: a ``datasets`` process or a Ray task. The programs
    run in a child process (see :func:`compile_shard_table`).
    """
    table, counts = compile_shard_table(shard, targets, validate, kernel_cache_dir)
    return table.to_pylist(), counts


def compile_shard_table(shard: ShardSpec, targets: Sequence[str], validate: str = "codegen",
                        kernel_cache_dir: str | None = None) -> tuple[pa.Table, dict[str, Any]]:
    """Compile (and validate) one shard in a forked child; return its rows as one table, and its counts.

    Rendering, importing (running each program's top-level code), code generation and validation all
    happen in the child (:mod:`common.forked`); this process only reads back an Arrow table
    and JSON.

    Raises:
        TemplatesChanged: The templates on disk are not the ones the plan was made from.
        ChildFailed: The child died (a program crashed it or ended it) or failed without its rows.
    """
    return shard_result(start_shard(shard, targets, validate, kernel_cache_dir), shard)


def start_shard(shard: ShardSpec, targets: Sequence[str], validate: str = "codegen",
                kernel_cache_dir: str | None = None) -> Child:
    """Fork the child that compiles ``shard``; :func:`shard_result` reads what it made.

    Warp is initialised here first (as it was when shards were compiled in this process), so each child
    starts with it.
    """
    init_quiet()

    def work() -> tuple[dict[str, Any], pa.Table]:
        rows, counts = _compile_here(shard, targets, validate, kernel_cache_dir)
        return {"counts": counts}, rows_table(rows)

    # the programs it runs never see the user's tokens
    return start_child(work, f"compiling shard {shard.name}", (TemplatesChanged,), first=drop_secrets_from_process)


def shard_result(child: Child, shard: ShardSpec) -> tuple[pa.Table, dict[str, Any]]:
    """The rows (one table, the build's schema) and counts a shard's child made (see :func:`start_shard`)."""
    header, table = child.result()
    counts = header.get("counts")
    if table is None or not table.schema.equals(FEATURES.arrow_schema, check_metadata=False) or \
            not isinstance(counts, dict):
        raise ChildFailed(f"the process compiling shard {shard.name} sent rows of another schema, or no counts")
    return table.replace_schema_metadata(FEATURES.arrow_schema.metadata), counts


def _compile_here(shard: ShardSpec, targets: Sequence[str], validate: str,
                  kernel_cache_dir: str | None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Compile one shard in this process (runs its programs' top-level code: the child's side)."""
    counts = Counts()
    rows = []
    with kernel_cache(kernel_cache_dir):
        programs = shard_programs(shard, load_templates(), counts)
        records = records_for(programs, targets, counts)
        if validate != "codegen":
            from generator.codegen.validate import validate_records  # noqa: PLC0415 - only needed at higher levels

            records = validate_records(records, validate, targets, counts)
        for rec in records:
            counts.keep(rec.family)
            rows.append(rec.to_row())
    return rows, counts.to_json()


def run_shards(
    shards: Sequence[ShardSpec],
    targets: Sequence[str],
    validate: str = "codegen",
    stats_dir: str | None = None,
    resume_dir: str | None = None,
    round_trip: bool = True,
) -> Iterator[tuple[ShardSpec, pa.Table]]:
    """Each shard with its rows, in order, as one Arrow table per shard; the counts go to ``stats_dir``.

    A shard's child is started as soon as the rows of the shard before it are in, before those are
    handed on: what the caller does with them (write them, count them) overlaps the next compilation,
    with one child at work at a time.

    With ``resume_dir``, a finished shard is saved there (see :mod:`generator.codegen.resume`) and a
    later run with the same fingerprint reads it back, once verified, instead of compiling it
    again, so a build killed at any point resumes where it stopped and ends with the same rows.

    Args:
        shards: The slices of the seed space to compile.
        targets: Code generation targets.
        validate: Validation level.
        stats_dir: Where ``<split>-<shard_id>.json`` with each shard's counts goes (optional).
        resume_dir: Where finished shards are kept (a folder per build fingerprint).
        round_trip: Check each compiled shard's rows' round trip (:mod:`extraction.roundtrip`: one fresh
            process for every shard of this call), while the next shard compiles.
    """
    folder = Path(resume_dir) if resume_dir else None
    cache = os.path.join(stats_dir, "..", "warp-kernels", f"pid-{os.getpid()}") if stats_dir else None

    def begin(shard: ShardSpec) -> Child | tuple[pa.Table, dict[str, Any]]:
        identity = shard_identity(shard, targets, validate, round_trip)
        saved = load_shard(folder, shard, identity) if folder is not None else None
        return saved if saved is not None else start_shard(shard, targets, validate, cache)

    pending: Child | tuple[pa.Table, dict[str, Any]] | None = begin(shards[0]) if shards else None
    checker = RoundTrip() if round_trip else None
    try:
        for k, shard in enumerate(shards):
            current, pending = pending, None
            assert current is not None  # one begun for every shard
            compiled = isinstance(current, Child)
            table, counts_json = shard_result(current, shard) if isinstance(current, Child) else current
            if k + 1 < len(shards):  # first, so that nothing below waits for it
                pending = begin(shards[k + 1])
            if compiled and checker is not None:
                table = with_round_trip(table, checker)
            if not compiled:
                logger.info("shard %s/%d: resumed (%d rows)", shard.split, shard.shard_id, table.num_rows)
            elif folder is not None:
                save_shard(folder, shard, shard_identity(shard, targets, validate, round_trip), table, counts_json)
            counts = Counts.from_json(counts_json)
            if stats_dir:
                write_json_atomic(Path(stats_dir) / f"{shard.name}.json", counts.to_json())
            logger.info("shard %s/%d: %d rows, %d rejected", shard.split, shard.shard_id, counts.rows,
                        sum(counts.rejected.values()))
            yield shard, table
    finally:
        if isinstance(pending, Child):  # the caller stopped early, or a shard failed: the next child is not wanted
            pending.cancel()
        if checker is not None:
            checker.close()
