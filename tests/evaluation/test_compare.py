"""Comparing runs: tolerances by dtype, NaN where the reference has NaN, exact integers, guard bands."""

from __future__ import annotations

import numpy as np
import pytest


def _out(*arrays, grads=(), guard="", error=""):
    from evaluation.execute import RunOutput

    return RunOutput(names=[f"a{i}" for i in range(len(arrays))], arrays=list(arrays), grads=list(grads),
                     guard=guard, error=error, stage="run" if error else "")


@pytest.mark.parametrize("dtype,tol", [(np.float32, 1e-5), (np.float16, 2e-3), (np.float64, 1e-12)])
def test_floats_match_within_their_dtypes_tolerance(dtype, tol):
    from evaluation.compare import TOLERANCES, compare

    assert TOLERANCES[np.dtype(dtype).name] == tol
    ref = np.array([1.0, -2.0, 0.5], dtype=dtype)
    assert compare(_out(ref * dtype(1 + tol * 0.4)), _out(ref))[0]
    ok, diff, rel, why = compare(_out(ref * dtype(1 + tol * 8)), _out(ref))
    assert not ok and rel > tol and diff > 0 and "differs from the reference in a0" in why


def test_a_changed_constant_fails_where_kernelbenchs_tolerance_passed_it():
    """An output 0.392 * x against 0.3919 * x (the constant nudged by 2.6e-4 of itself) passed 1e-4 + 1e-4 |ref|."""
    from evaluation.compare import compare

    x = np.linspace(-1.0, 1.0, 64, dtype=np.float32)
    ok, diff, rel, _ = compare(_out(np.float32(0.3919) * x), _out(np.float32(0.392) * x))
    assert not ok and diff < 1e-4 and rel > 2e-4
    # an element near zero, beside large ones, is held to a tenth of the largest magnitude
    ref = np.array([1000.0, 1e-3], np.float32)
    assert compare(_out(ref + np.float32(5e-4)), _out(ref))[0]


def test_integers_must_be_equal_and_nan_must_be_where_the_reference_has_it():
    from evaluation.compare import compare

    assert not compare(_out(np.array([1, 2], np.int32)), _out(np.array([1, 3], np.int32)))[0]
    nan = np.array([np.nan, 1.0], np.float32)
    assert compare(_out(nan.copy()), _out(nan))[0]
    assert not compare(_out(np.array([0.0, 1.0], np.float32)), _out(nan))[0]
    assert not compare(_out(np.array([1.0], np.float32)), _out(np.array([1.0, 2.0], np.float32)))[0]  # shape


def test_gradients_errors_and_guard_bands_are_judged_too():
    from evaluation.compare import compare

    a = np.ones(3, np.float32)
    assert not compare(_out(a, grads=[a * 2]), _out(a, grads=[a]))[0]
    ok, _, _, why = compare(_out(a, guard="a0"), _out(a))
    assert not ok and "wrote outside its arrays (a0)" in why
    ok, _, _, why = compare(_out(error="RuntimeError: boom"), _out(a))
    assert not ok and why == "run: RuntimeError: boom"


def test_infinities_must_be_where_the_reference_has_them_with_its_sign():
    from evaluation.compare import compare

    ref = np.array([np.inf, -np.inf, 1.0], np.float32)
    assert compare(_out(ref.copy()), _out(ref))[0]
    assert not compare(_out(np.array([-np.inf, -np.inf, 1.0], np.float32)), _out(ref))[0]
    assert not compare(_out(np.array([np.inf, 5.0, 1.0], np.float32)), _out(ref))[0]
