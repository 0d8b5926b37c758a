"""What a kernel's whole program writes for the values and types its code reads."""

from __future__ import annotations

import math

import numpy as np
import pytest
import warp as wp

from extraction.warp_objects import type_expression
from generator.real.literals import NotSelfContained
from generator.real.literals import value_expression as _value_expr


@pytest.mark.parametrize("value, expected", [
    (1e-15, "1e-15"), (3, "3"), (True, "True"), (None, "None"), (math.inf, "math.inf"), (-math.inf, "-math.inf"),
    ((1, 2.5), "(1, 2.5,)"), ([1, 2], "[1, 2]"), ({"a": 1}, "{'a': 1}"), (frozenset({3, 1}), "frozenset({1, 3})"),
    (np.float32(0.5), "np.float32(0.5)"), (wp.float64(1.5), "wp.float64(1.5)"),
    (wp.vec3(1.0, 2.0, 3.0), "wp.vec3f(1.0, 2.0, 3.0)"), (wp.vec2i(1, 2), "wp.vec2i(1, 2)"),
])
def test_constants_are_written_as_python_that_gives_them_back(value, expected):
    assert _value_expr(value) == expected


def test_a_value_without_a_literal_is_not_self_contained():
    with pytest.raises(NotSelfContained, match="a value it cannot write: object"):
        _value_expr(object())


@pytest.mark.parametrize("t, expected", [
    (float, "float"), (wp.float32, "wp.float32"), (wp.vec3, "wp.vec3f"),
    (wp.types.vector(length=10, dtype=wp.float32), "wp.types.vector(length=10, dtype=wp.float32)"),
    (wp.types.matrix(shape=(3, 4), dtype=wp.float64), "wp.types.matrix(shape=(3, 4), dtype=wp.float64)"),
    (wp.array(dtype=wp.vec3, ndim=2), "wp.array(dtype=wp.vec3f, ndim=2)"),
    (wp.array3d[wp.float16], "wp.array(dtype=wp.float16, ndim=3)"),
    (wp.indexedarray(dtype=float), "wp.indexedarray(dtype=wp.float32, ndim=1)"),
])
def test_types_are_written_as_a_program_writes_them(t, expected):
    assert type_expression(t) == expected
    namespace = {"wp": wp}
    assert wp.types.types_equal(eval(expected, namespace), t)  # our own text, checked
