"""Cutting a stream into batches (compiler calls, signature blocks, scoring groups)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import TypeVar

T = TypeVar("T")


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of at most ``size`` items of ``items``, in order (the last may be shorter).

    Raises:
        ValueError: ``size`` is below 1.
    """
    if size < 1:
        raise ValueError(f"batch size must be at least 1, got {size}")
    it = iter(items)
    while batch := list(islice(it, size)):
        yield batch
