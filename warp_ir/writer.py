"""Write a prepared builder's splits in the Hub layout: ``data/<split>-XXXXX-of-YYYYY.parquet``."""

from __future__ import annotations

import logging
import math
import os
import shutil
from pathlib import Path

import datasets

logger = logging.getLogger(__name__)

ROWS_PER_FILE = 20_000


def write_parquet_splits(
    splits: dict[str, datasets.Dataset], out_dir: Path, prefix: str = "data", rows_per_file: int = ROWS_PER_FILE
) -> dict[str, list[Path]]:
    """Write each split as Parquet files of at most ``rows_per_file`` rows under ``out_dir/prefix``.

    The number of files depends only on the number of rows, so the layout is the same
    whatever number of processes built the rows. Files are written under a temporary
    name and renamed; files of an earlier build of the same split are removed.

    Returns:
        Split name -> written paths, in order.
    """
    target = out_dir / prefix
    target.mkdir(parents=True, exist_ok=True)
    written: dict[str, list[Path]] = {}
    for split, ds in splits.items():
        for old in target.glob(f"{split}-*.parquet"):
            old.unlink()
        n_files = max(1, math.ceil(len(ds) / rows_per_file))
        paths = []
        for i in range(n_files):
            path = target / f"{split}-{i:05d}-of-{n_files:05d}.parquet"
            tmp = path.with_name(f".{path.name}.tmp")
            ds.shard(num_shards=n_files, index=i, contiguous=True).to_parquet(str(tmp))
            os.replace(tmp, path)
            paths.append(path)
        written[split] = paths
        logger.info("wrote %s: %d rows in %d file(s)", split, len(ds), n_files)
    return written


def remove_tree(path: Path) -> None:
    """Remove a directory tree if it exists."""
    if path.exists():
        shutil.rmtree(path)
