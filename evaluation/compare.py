"""Comparing a prediction's run with the reference's: every array, every gradient, tolerance by dtype.

Float arrays must match element-wise within ``|pred - ref| <= rtol * (|ref| + FLOOR * max|ref|)``, ``rtol`` the
dtype's tolerance below: relative to each element, with a floor relative to the array's largest element (an
element near zero by cancellation carries the rounding of its larger terms). ``rtol`` for float32 is 1e-5, about
80 units in the last place: equivalent code (another order of the same operations, a fused multiply-add) stays
well inside it, and a constant changed by 2e-4 of itself does not once it moves an output by a tenth of that
(KernelBench's 1e-4 let 0.392 -> 0.3919 pass). NaN and infinities must be where the reference has them.
Integer and boolean arrays must be equal. Shapes must be equal. A guard band written into fails the comparison
whatever the arrays hold.
"""

from __future__ import annotations

import re

import numpy as np

from evaluation.execute import RunOutput

TOLERANCES: dict[str, float] = {"float16": 2e-3, "float32": 1e-5, "float64": 1e-12}
FLOOR = 0.1  # of the array's largest magnitude: the least an element's tolerance is relative to
_TINY = 1e-30


def _differ(pred: np.ndarray, ref: np.ndarray) -> tuple[bool, float, float]:
    """``(within tolerance, largest absolute difference, largest relative difference)`` of two arrays of one
    argument (the relative one against each element's magnitude, floored as the tolerance is)."""
    if pred.shape != ref.shape or pred.dtype != ref.dtype:
        return False, float("inf"), float("inf")
    p, r = pred.astype(np.float64), ref.astype(np.float64)
    if ref.dtype.kind == "f":
        tol = TOLERANCES.get(ref.dtype.name, 1e-5)
        if not np.array_equal(np.isnan(p), np.isnan(r)):
            return False, float("inf"), float("inf")
        if not np.array_equal(np.isinf(p) & (p > 0), np.isinf(r) & (r > 0)) or \
                not np.array_equal(np.isinf(p) & (p < 0), np.isinf(r) & (r < 0)):
            return False, float("inf"), float("inf")  # infinities must be where the reference has them
        finite = np.isfinite(r)
        p, r = p[finite], r[finite]
        if not r.size:
            return True, 0.0, 0.0
        diff = np.abs(p - r)
        scale = np.abs(r) + FLOOR * float(np.abs(r).max())
        rel = diff / np.maximum(scale, _TINY)
        return bool(np.all(diff <= tol * scale)), float(diff.max()), float(rel.max())
    same = np.array_equal(pred, ref)
    if same:
        return True, 0.0, 0.0
    diff = np.abs(p - r)
    return False, float(diff.max()), float((diff / np.maximum(np.abs(r), 1.0)).max())


def compare(pred: RunOutput, ref: RunOutput) -> tuple[bool, float | None, float | None, str]:
    """Whether a prediction's run matches the reference's.

    Returns:
        ``(correct, largest absolute difference, largest relative difference (over all arrays), why not)``.
    """
    if pred.error:
        return False, None, None, f"{pred.stage}: {pred.error}"
    if pred.guard:
        return False, None, None, f"wrote outside its arrays ({pred.guard})"
    worst, worst_rel, wrong = 0.0, 0.0, []
    for kind, ours, theirs in (("", pred.arrays, ref.arrays), ("adjoint of ", pred.grads, ref.grads)):
        if len(ours) != len(theirs):
            return False, None, None, f"{kind}arguments differ from the reference's"
        for name, p, r in zip(ref.names, ours, theirs):
            if r is None:
                continue
            if p is None:
                wrong.append(kind + name)
                continue
            ok, diff, rel = _differ(p, r)
            worst, worst_rel = max(worst, diff), max(worst_rel, rel)
            if not ok:
                wrong.append(kind + name)
    if wrong:
        names = list(dict.fromkeys(re.sub(r" \(input set \d+\)$", "", w) for w in wrong))
        return False, worst, worst_rel, (f"differs from the reference in {', '.join(names)} (max abs. difference "
                                         f"{worst:.3g}, max rel. difference {worst_rel:.3g})")
    return True, worst, worst_rel, ""
