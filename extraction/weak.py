"""Weak problems: kernels whose outputs cannot tell a right answer from a wrong one.

A row is a weak problem when running its reference on several input sets (of different magnitudes and signs,
:data:`extraction.inputs.INPUT_SCALES`) shows one of :data:`REASONS`: it writes nothing, everything it writes is
zero, or NaN or infinite, what it writes is the same for every input set (it does not depend on its inputs), or,
for a backward problem, every gradient it gives its inputs is zero. An answer that writes zeros, a constant, or
nothing at all then scores correct. robust-kbench filters its tasks the same way; the dataset marks such rows
(``validation.weak``) and ``warp-ir eval`` reports them apart, so a leaderboard can keep to discriminative rows.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

REASONS = {
    "writes_nothing": "writes nothing",
    "all_zero": "everything it writes is zero",
    "non_finite": "everything it writes is NaN or infinite",
    "constant": "writes the same for every input set (does not depend on its inputs)",
    "zero_gradients": "every gradient of its inputs is zero",
}


def weak_reasons(outputs_by_set: Sequence[Sequence[np.ndarray]], gradients: Sequence[np.ndarray] | None = None
                 ) -> list[str]:
    """The keys of :data:`REASONS` that apply (empty: a discriminative problem).

    Args:
        outputs_by_set: Per input set, the arrays the kernel wrote (those its launch changed), in argument order.
        gradients: For a backward problem, the gradients of its float inputs over every input set (``None``
            otherwise).
    """
    reasons = []
    written = [a for outputs in outputs_by_set for a in outputs]
    if not written:
        reasons.append("writes_nothing")
    elif all(not np.any(np.asarray(a)) for a in written):
        reasons.append("all_zero")
    elif all(np.asarray(a).dtype.kind in "fc" and not np.any(np.isfinite(np.asarray(a))) for a in written):
        reasons.append("non_finite")
    elif len(outputs_by_set) > 1 and len({len(o) for o in outputs_by_set}) == 1 and all(
            all(np.array_equal(np.asarray(first[i]), np.asarray(other[i]), equal_nan=True) for other in outputs_by_set)
            for first in outputs_by_set[:1] for i in range(len(first))):
        reasons.append("constant")
    if gradients is not None and all(not np.any(np.nan_to_num(np.asarray(g))) for g in gradients):
        reasons.append("zero_gradients")
    return reasons


def describe(reasons: Sequence[str]) -> str:
    """The reasons in words, ``"; "``-joined (``""`` when there are none)."""
    return "; ".join(REASONS[r] for r in reasons)
