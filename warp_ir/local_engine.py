"""The local engine: the ``datasets`` builder prepares the rows on this machine, in ``num_proc`` processes."""

from __future__ import annotations

import gc
import json
from pathlib import Path
from typing import Any

from generator.planning.plan import PLAN_SIGNATURES, read_signatures
from generator.codegen.rowstats import ROW_STATS, merge_counts, merge_row_stats
from warp_ir.produced import Produced
from warp_ir.writer import MAX_SHARD_SIZE, remove_tree


def run_local(cache: Path, config_name: str, num_proc: int, **config: Any) -> Produced:
    """Prepare the rows of ``config_name`` with :class:`warp_ir_dataset.WarpIR` as Parquet files.

    Args:
        cache: The build's own working folder (the builder's cache, finished shards, counts).
        config_name: ``synthetic`` or ``real``.
        num_proc: Worker processes (``datasets``' ``num_proc``).
        **config: :class:`warp_ir_dataset.WarpIRConfig` fields.

    Returns:
        The files the builder wrote (in ``cache``), the counts, the row statistics and the plan (or
        the real report).
    """
    from warp_ir_dataset import WarpIR  # noqa: PLC0415 - keeps `warp-ir --help` fast

    stats_dir = cache / "stats" / config_name
    remove_tree(stats_dir)
    builder = WarpIR(config_name=config_name, cache_dir=str(cache / "hf"), stats_dir=str(stats_dir),
                     resume_dir=str(cache / "shards"), plan_workers=num_proc, **config)
    # Workers are forked from this process: objects that live for the whole build are moved out of the
    # garbage collector's reach, so its passes in the workers do not copy their pages.
    freeze = num_proc > 1 and gc.get_freeze_count() == 0
    if freeze:
        gc.freeze()
    try:
        # Parquet straight from the builder's writers: no Arrow cache to write, read back and convert
        builder.download_and_prepare(num_proc=num_proc if num_proc > 1 else None, download_mode="force_redownload",
                                     file_format="parquet", max_shard_size=MAX_SHARD_SIZE)
    finally:
        if freeze:
            gc.unfreeze()
    files = {name: builder_files(builder, name) for name in builder.info.splits}
    produced = Produced(config=builder.config, files=files, counts=merge_counts(stats_dir),
                        row_stats=merge_row_stats(stats_dir / ROW_STATS))
    if config_name == "synthetic":
        produced.plan = json.loads((stats_dir / "plan.json").read_text())
        produced.plan_signatures = read_signatures(stats_dir / PLAN_SIGNATURES)
    else:
        produced.real_report = json.loads((stats_dir / "real_report.json").read_text())
    return produced


def builder_files(builder: Any, split: str) -> list[Path]:
    """The Parquet files ``download_and_prepare(file_format="parquet")`` wrote for ``split``, in row order.

    ``datasets`` names them ``<name>-<split>.parquet``, or ``<name>-<split>-SSSSS-of-NNNNN.parquet``
    when the split has several shards (one per worker job, more past ``max_shard_size``).

    Raises:
        FileNotFoundError: A file the split's info announces is missing.
    """
    base = Path(builder.cache_dir) / f"{builder.dataset_name}-{split}"
    count = len(builder.info.splits[split].shard_lengths or [])
    paths = [Path(f"{base}-{i:05d}-of-{count:05d}.parquet") for i in range(count)] if count > 1 else \
        [Path(f"{base}.parquet")]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"the builder did not write {', '.join(missing)}")
    return paths
