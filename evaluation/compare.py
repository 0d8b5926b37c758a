"""Comparing a prediction's run with the reference's: every array, every gradient, tolerance by dtype.

Float arrays must match element-wise within ``|pred - ref| <= atol + rtol * |ref|`` with
``atol = rtol`` = the dtype's tolerance below (KernelBench's 1e-4 for float32 and 1e-2 for
float16; 1e-8 for float64); NaN and infinities must be where the reference has them. Integer and boolean arrays
must be equal. Shapes must be equal. A guard band written into fails the comparison whatever
the arrays hold.
"""

from __future__ import annotations

import re

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
        if not np.array_equal(np.isinf(p) & (p > 0), np.isinf(r) & (r > 0)) or \
                not np.array_equal(np.isinf(p) & (p < 0), np.isinf(r) & (r < 0)):
            return False, float("inf")  # infinities must be where the reference has them, with its sign
        finite = np.isfinite(r)
        diff = np.abs(p[finite] - r[finite])
        worst = float(diff.max()) if diff.size else 0.0
        return bool(np.all(diff <= tol + tol * np.abs(r[finite]))), worst
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
        names = list(dict.fromkeys(re.sub(r" \(input set \d+\)$", "", w) for w in wrong))
        return False, worst, f"differs from the reference in {', '.join(names)} (max abs. difference {worst:.3g})"
    return True, worst, ""
