"""The local engine: the ``datasets`` builder prepares the rows on this machine, in ``num_proc`` processes."""

from __future__ import annotations

import dataclasses
import gc
from pathlib import Path

from datasets.naming import filenames_for_dataset_split

from generator.codegen.rowstats import builtin_name_set, split_rank
from generator.codegen.watch import watch_shards
from generator.config import BuildConfig
from warp_ir.produced import Produced
from warp_ir.stats import files_diversity, files_row_stats
from warp_ir.writer import MAX_SHARD_SIZE, remove_tree
from warp_ir_dataset import WarpIR


def run_local(cache: Path, config: BuildConfig, num_proc: int) -> Produced:
    """Prepare the rows of ``config`` with :class:`warp_ir_dataset.WarpIR` as Parquet files.

    Args:
        cache: The build's own working folder (the builder's cache, finished shards, counts).
        config: What to build (planned with ``num_proc`` processes: ``plan_workers`` is set to it).
        num_proc: Worker processes (``datasets``' ``num_proc``).

    Returns:
        The files the builder wrote (in ``cache``), the counts, the row statistics, the near-twin report and the
        plan (or the real report).
    """
    stats_dir = cache / "stats" / config.name
    remove_tree(stats_dir)
    settings = {**config.settings(), "plan_workers": num_proc}
    builder = WarpIR(config_name=config.name, cache_dir=str(cache / "hf"), stats_dir=str(stats_dir),
                     resume_dir=str(cache / "shards"), **settings)
    # Workers (and the shards' children) are forked from this process: objects that live for the whole build are
    # moved out of the garbage collector's reach, so that its passes neither copy their pages in a forked process
    # nor walk them here (0.1 s a full pass)
    freeze = gc.get_freeze_count() == 0
    if freeze:
        gc.freeze()
    try:
        # Parquet straight from the builder's writers: no Arrow cache to write, read back and convert
        with watch_shards(stats_dir):  # programs compiled of those planned, instead of datasets' own bars
            builder.download_and_prepare(num_proc=num_proc if num_proc > 1 else None,
                                         download_mode="force_redownload", file_format="parquet",
                                         max_shard_size=MAX_SHARD_SIZE)
    finally:
        if freeze:
            gc.unfreeze()
    files = {name: builder_files(builder, name) for name in builder.info.splits}
    gathered = builder.gathered()
    in_order = dict(sorted(files.items(), key=lambda kv: split_rank(kv[0])))
    row_stats = gathered.row_stats or files_row_stats(in_order, builtin_name_set())  # real: read back
    diversity = files_diversity(in_order, use_datasketch=False, known=gathered.plan_signatures) if files else None
    return Produced(config=dataclasses.replace(config, plan_workers=num_proc), files=files, counts=gathered.counts,
                    row_stats=row_stats, plan=gathered.plan, real_report=gathered.real_report, diversity=diversity)


def builder_files(builder: WarpIR, split: str) -> list[Path]:
    """The Parquet files ``download_and_prepare(file_format="parquet")`` wrote for ``split``, in row order.

    Raises:
        FileNotFoundError: A file the split's info announces is missing.
    """
    paths = [Path(p) for p in filenames_for_dataset_split(builder.cache_dir, builder.dataset_name, split, "parquet",
                                                           builder.info.splits[split].shard_lengths)]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"the builder did not write {', '.join(missing)}")
    return paths
