"""Which integer arguments hold values (drawn over a wide range) and which are indices, counts or bounds."""

from __future__ import annotations

import pytest

from extraction.value_ints import marks, value_arguments

KERNEL = '''import warp as wp

@wp.kernel
def k(a: wp.array(dtype=int), idx: wp.array(dtype=int), n: int, s: int, out: wp.array(dtype=float),
      cnt: wp.array(dtype=int), sh: int, d: int, m: int, h: int, w: int):
    i = wp.tid()
    v = a[i] * 2
    t = wp.max(v + s, 0)
    j = idx[i]
    out[i] = float(t) + out[j] + float(v % 5)
    for q in range(n):
        out[i] += 1.0
    wp.atomic_add(cnt, 0, v)
    x = 1 << sh
    y = v // d
    while m > 0:
        m -= 1
    out[i] += helper(h)
    z = wp.vec2(float(w), 1.0)
    out[z[1]] = 0.0
'''


def test_values_are_what_only_feeds_arithmetic_and_indices_bounds_shifts_divisors_and_calls_are_not():
    names = ["a", "idx", "n", "s", "out", "cnt", "sh", "d", "m", "h", "w"]
    found = {names[p] for p in value_arguments(KERNEL, "k")}
    # a through v and t (arithmetic, max, a conversion, a modulo by a constant, an atomic's value); s through t;
    # cnt is an atomic's target. idx indexes, n bounds a loop, sh shifts, d divides, m is a while test,
    # h goes to an unknown @wp.func, w reaches an index through a vector
    assert found == {"a", "s", "out", "cnt"}


def test_storing_into_an_array_element_taints_the_array_not_its_index():
    src = '''
def k(a: wp.array(dtype=int), b: wp.array(dtype=int), out: wp.array(dtype=int)):
    i = wp.tid()
    out[i] = a[i] * 3
    b[i] = 1
'''
    assert value_arguments(src, "k") == (0, 1, 2)  # i indexes b but holds none of a's values
    assert value_arguments(src + "    b[out[i]] = 2\n", "k") == (1,)  # a reaches out, out indexes b


@pytest.mark.parametrize("source", ["def k(:\n", "def k(a):\n    pass\ndef k(a):\n    pass\n", "x = 1\n"])
def test_what_cannot_be_read_has_no_value_arguments(source):
    assert value_arguments(source, "k") == ()


def test_marks_give_the_positions_without_the_program():
    text = marks(KERNEL)
    assert "def " not in text and "a[i]" not in text and "wp." not in text
    assert value_arguments(text, "k") == value_arguments(KERNEL, "k")
    assert value_arguments(text, "other") == ()


def test_a_generic_kernels_overload_declarations_do_not_hide_its_body():
    src = '''
@wp.kernel
def k(flags: wp.array(dtype=int), x: Any, out: wp.array(dtype=Any)):
    i = wp.tid()
    if flags[i] > 0:
        out[i] = x

@wp.overload
def k(flags: wp.array(dtype=int), x: float, out: wp.array(dtype=float)):
    ...
'''
    assert value_arguments(src, "k") == (0, 1, 2)
