"""Lay a build's Parquet out in the Hub layout: ``<prefix>/<split>-XXXXX-of-YYYYY.parquet``."""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

logger = logging.getLogger(__name__)

MAX_SHARD_SIZE = "500MB"  # files the builder writes itself (uncompressed bytes; ~18k rows, ~120 MB of Parquet)


def hub_name(split: str, index: int, count: int) -> str:
    """``<split>-XXXXX-of-YYYYY.parquet``: the name of file ``index`` of the ``count`` files of a split."""
    return f"{split}-{index:05d}-of-{count:05d}.parquet"


def hub_file(target: Path, split: str, index: int, count: int) -> Path:
    """``target/<split>-XXXXX-of-YYYYY.parquet``: file ``index`` of the ``count`` files of a split."""
    return target / hub_name(split, index, count)


def place_parquet_files(files: Mapping[str, Sequence[Path]], out_dir: Path,
                        prefix: str = "data") -> dict[str, list[Path]]:
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


def remove_tree(path: Path) -> None:
    """Remove a directory tree if it exists."""
    if path.exists():
        shutil.rmtree(path)
