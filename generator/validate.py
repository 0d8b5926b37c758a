"""Validation stage of the pipeline: prove each record beyond code generation, drop what fails.

``compile``: native compilation for every target (batched, see :mod:`extraction.native`).
Rows that fail are rejected with the compiler's message; rows that pass carry
``validation.level == "compile"``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence

from extraction.native import BATCH_SIZE, batched, compile_records
from extraction.record import VALIDATION_LEVELS, KernelRecord
from generator.pipeline import Counts

logger = logging.getLogger(__name__)


def validate_records(
    records: Iterable[KernelRecord], level: str, targets: Sequence[str], counts: Counts
) -> Iterator[KernelRecord]:
    """Validate ``records`` up to ``level``; yield the ones that pass, in order, and count the rest.

    Args:
        records: Records at the ``codegen`` level.
        level: One of :data:`~extraction.record.VALIDATION_LEVELS`.
        targets: Targets whose code is compiled.
        counts: Where rejections are counted (rows already counted are taken back).
    """
    if VALIDATION_LEVELS.index(level) < VALIDATION_LEVELS.index("compile"):
        yield from records
        return
    for batch in batched(records, BATCH_SIZE):
        broken = compile_records(batch, targets)
        for i, rec in enumerate(batch):
            if i in broken:
                counts.rows -= 1
                counts.by_family[rec.family] -= 1
                counts.reject(rec.family, broken[i], rec.id)
                continue
            rec.validation.level = "compile"
            yield rec
