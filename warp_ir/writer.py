"""Lay a build's Parquet out in the Hub layout: ``<prefix>/<split>-XXXXX-of-YYYYY.parquet``."""

from __future__ import annotations

import logging
import math
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import datasets

logger = logging.getLogger(__name__)

ROWS_PER_FILE = 20_000  # files written from an in-memory split (the Ray engine)
MAX_SHARD_SIZE = "500MB"  # files the builder writes itself (uncompressed bytes; ~18k rows, ~120 MB of Parquet)


def hub_file(target: Path, split: str, index: int, count: int) -> Path:
    """``target/<split>-XXXXX-of-YYYYY.parquet``: file ``index`` of the ``count`` files of a split."""
    return target / f"{split}-{index:05d}-of-{count:05d}.parquet"


def place_parquet_files(files: dict[str, Sequence[Path]], out_dir: Path, prefix: str = "data") -> dict[str, list[Path]]:
    """Move Parquet files the builder wrote under ``out_dir/prefix`` with Hub names, in the given order.

    Each move is a rename (the builder's cache lives in the same output folder). ``out_dir`` is a
    build's staging folder: nothing else is removed or replaced here.

    Returns:
        Split name -> placed paths, in order.
    """
    target = out_dir / prefix
    placed: dict[str, list[Path]] = {}
    target.mkdir(parents=True, exist_ok=True)
    for split, paths in files.items():
        placed[split] = []
        for i, src in enumerate(paths):
            dst = hub_file(target, split, i, len(paths))
            os.replace(src, dst)
            placed[split].append(dst)
        logger.info("placed %s: %d file(s)", split, len(paths))
    return placed


def write_parquet_splits(
    splits: dict[str, datasets.Dataset], out_dir: Path, prefix: str = "data", rows_per_file: int = ROWS_PER_FILE
) -> dict[str, list[Path]]:
    """Write in-memory splits as Parquet files of at most ``rows_per_file`` rows under ``out_dir/prefix``.

    Files are written under a temporary name and renamed; ``out_dir`` is a build's staging folder.

    Returns:
        Split name -> written paths, in order.
    """
    target = out_dir / prefix
    written: dict[str, list[Path]] = {}
    target.mkdir(parents=True, exist_ok=True)
    for split, ds in splits.items():
        n_files = max(1, math.ceil(len(ds) / rows_per_file))
        paths = []
        for i in range(n_files):
            path = hub_file(target, split, i, n_files)
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
