"""The engine contract: what an engine hands the build, the same for both.

Both engines (:mod:`warp_ir.local_engine`, :mod:`warp_ir.ray_engine`) return a :class:`Produced`;
:mod:`warp_ir.build` lays the files out, and :mod:`warp_ir.build_record` records the build and renders the
card from it without reading a row back (except what the card's extras need: token counts, chat views).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from generator.codegen.pipeline import Counts
from generator.codegen.rowstats import RowStats
from generator.config import BuildConfig


@dataclass(slots=True)
class Produced:
    """What an engine produced for one configuration.

    Attributes:
        config: The configuration actually built.
        files: Split -> the Parquet files written, in row order (local paths, or fsspec paths on the
            output's file system for the Ray engine writing to a URL); splits in the builder's order.
        counts: Rows kept and programs rejected, by family and reason.
        row_stats: Statistics the workers gathered while the rows streamed past.
        plan: The plan's JSON summary (synthetic configuration).
        real_report: What was mined, package by package (real configuration).
        diversity: The near-twin report of the rows (``None`` when there are none).
        reused: Files (or shards) a previous, interrupted run had finished and this one verified and kept.
    """

    config: BuildConfig
    files: dict[str, list[Any]] = field(default_factory=dict)
    counts: Counts = field(default_factory=Counts)
    row_stats: RowStats = field(default_factory=RowStats)
    plan: dict[str, Any] | None = None
    real_report: dict[str, Any] | None = None
    diversity: dict[str, Any] | None = None
    reused: int = 0
