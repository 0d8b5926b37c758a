"""Compile one shard: re-render its programs, generate code, validate, and report counts."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from extraction import KernelRecord, init_quiet
from generator.pipeline import Counts, records_for
from generator.plan import ShardSpec
from generator.render import RenderError
from generator.sampler import Program, sample_program
from generator.templates import Template, load_templates

logger = logging.getLogger(__name__)


def shard_programs(shard: ShardSpec, templates: Sequence[Template], counts: Counts) -> list[Program]:
    """Re-render the programs of ``shard`` (identical to what the plan rendered)."""
    programs = []
    for index in shard.indices:
        try:
            programs.append(sample_program(shard.seed, index, templates, shard.families))
        except RenderError as exc:  # cannot happen for a plan made with the same templates
            counts.reject("unknown", f"RenderError: {exc}", f"{shard.seed}:{index}")
    return programs


def write_json_atomic(path: Path, data: dict) -> None:
    """Write ``data`` as JSON to ``path`` through a temporary name and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    os.replace(tmp, path)


def run_shard(
    shard: ShardSpec,
    targets: Sequence[str],
    validate: str = "codegen",
    stats_dir: str | None = None,
) -> Iterator[KernelRecord]:
    """Yield the records of one shard, in index order; write its counts to ``stats_dir`` at the end.

    Args:
        shard: The slice of the seed space to compile.
        targets: Code generation targets.
        validate: Validation level (``codegen`` or ``compile``).
        stats_dir: Where ``<split>-<shard_id>.json`` with the shard's counts goes (optional).
    """
    init_quiet(os.path.join(stats_dir, "..", "warp-kernels", f"pid-{os.getpid()}") if stats_dir else None)
    counts = Counts()
    programs = shard_programs(shard, load_templates(), counts)
    records = records_for(programs, targets, counts)
    if validate != "codegen":
        from generator.validate import validate_records  # noqa: PLC0415 - only needed at higher levels

        records = validate_records(records, validate, targets, counts)
    yield from records
    if stats_dir:
        write_json_atomic(Path(stats_dir) / f"{shard.split}-{shard.shard_id:05d}.json", counts.to_json())
    logger.info("shard %s/%d: %d rows, %d rejected", shard.split, shard.shard_id, counts.rows,
                sum(counts.rejected.values()))
