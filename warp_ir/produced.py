"""What an engine hands the build driver: where the rows were written, and what was counted on the way.

Both engines (:mod:`warp_ir.local_engine`, :mod:`warp_ir.ray_engine`) return one; :mod:`warp_ir.build`
lays the files out, records the build and renders the card from it without reading a row back
(except what the card's extras need: token counts, chat views).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from generator.codegen.pipeline import Counts
from generator.codegen.rowstats import RowStats


@dataclass(slots=True)
class Produced:
    """What an engine produced for one configuration.

    Attributes:
        config: The :class:`warp_ir_dataset.WarpIRConfig` actually used.
        files: Split -> the Parquet files written, in row order (local paths, or fsspec paths on the
            output's file system for the Ray engine writing to a URL).
        counts: Rows kept and programs rejected, by family and reason.
        plan: The plan's JSON summary (synthetic configuration).
        real_report: What was mined, package by package (real configuration).
        row_stats: Statistics the workers gathered while the rows streamed past.
        plan_signatures: The plan's row ids and MinHash signatures (kept programs), for the card's
            near-twin count (local engine).
        diversity: The near-twin report, computed already where the signatures are (Ray engine).
        reused: Files (or shards) a previous, interrupted run had finished and this one verified and kept.
    """

    config: Any
    files: dict[str, list[Any]] = field(default_factory=dict)
    counts: Counts = field(default_factory=Counts)
    plan: dict[str, Any] | None = None
    real_report: dict[str, Any] | None = None
    row_stats: RowStats | None = None
    plan_signatures: tuple[Any, Any] | None = None
    diversity: dict[str, Any] | None = None
    reused: int = 0
