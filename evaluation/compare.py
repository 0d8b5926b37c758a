"""Comparing a prediction's run with the reference's: every array, every gradient, tolerance by dtype.

Float arrays must match element-wise within ``|pred - ref| <= atol + rtol * |ref|`` with
``atol = rtol`` = the dtype's tolerance below (KernelBench's 1e-4 for float32 and 1e-2 for
float16; 1e-8 for float64); NaN must be where the reference has NaN. Integer and boolean arrays
must be equal. Shapes must be equal. A guard band written into fails the comparison whatever
the arrays hold.
"""

from __future__ import annotations

import numpy as np

from evaluation.execute import RunOutput

TOLERANCES: dict[str, float] = {"float16": 1e-2, "float32": 1e-4, "float64": 1e-8}


def _differ(pred: np.ndarray, ref: np.ndarray) -> tuple[bool, float]:
    """``(within tolerance, largest absolute difference)`` of two arrays of one argument."""
    if pred.shape != ref.shape or pred.dtype != ref.dtype:
        return False, float("inf")
    if ref.dtype.kind == "f":
        tol = TOLERANCES.get(ref.dtype.name, 1e-4)
        p, r = pred.astype(np.float64), ref.astype(np.float64)
        if not np.array_equal(np.isnan(p), np.isnan(r)):
            return False, float("inf")
        both = ~np.isnan(r)
        diff = np.abs(p[both] - r[both])
        worst = float(diff.max()) if diff.size else 0.0
        if np.isinf(worst):  # infinities must match exactly
            return bool(np.array_equal(p[both], r[both])), 0.0 if np.array_equal(p[both], r[both]) else worst
        return bool(np.all(diff <= tol + tol * np.abs(r[both]))), worst
    same = np.array_equal(pred, ref)
    return same, 0.0 if same else float(np.max(np.abs(pred.astype(np.float64) - ref.astype(np.float64))))


def compare(pred: RunOutput, ref: RunOutput) -> tuple[bool, float | None, str]:
    """Whether a prediction's run matches the reference's.

    Returns:
        ``(correct, largest absolute difference over all arrays, why not)``.
    """
    if pred.error:
        return False, None, f"{pred.stage}: {pred.error}"
    if pred.guard:
        return False, None, f"wrote outside its arrays ({pred.guard})"
    worst, wrong = 0.0, []
    for kind, ours, theirs in (("", pred.arrays, ref.arrays), ("adjoint of ", pred.grads, ref.grads)):
        if len(ours) != len(theirs):
            return False, None, f"{kind}arguments differ from the reference's"
        for name, p, r in zip(ref.names, ours, theirs):
            if r is None:
                continue
            if p is None:
                wrong.append(kind + name)
                continue
            ok, diff = _differ(p, r)
            worst = max(worst, diff)
            if not ok:
                wrong.append(kind + name)
    if wrong:
        return False, worst, f"differs from the reference in {', '.join(wrong)} (max abs. difference {worst:.3g})"
    return True, worst, ""
