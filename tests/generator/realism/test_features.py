"""Feature detection: each idiom of real Warp code on a program that has it, and not on one that does not."""

from __future__ import annotations

from generator.realism.features import FEATURES, IDIOMS, features_of

REAL_LIKE = '''from typing import Any

import warp as wp

EPS = 1.0e-6


@wp.struct
class Model:
    """Particles."""
    mass: wp.array[float]
    offsets: wp.array[int]


@wp.func
def split(v: wp.vec3, n: wp.vec3) -> tuple[wp.vec3, wp.vec3]:
    """The parts of v along n and across it."""
    vn = n * wp.dot(v, n)
    return vn, v - vn


def make(limit: float):
    @wp.kernel(enable_backward=False)
    def step(model: Model, values: wp.array2d[Any], count: wp.array[int], out: wp.array[Any]):
        world, i = wp.tid()
        if model.mass[i] == 0.0:
            return
        acc = type(values[world, i])(0.0)
        for k in range(model.offsets[i], model.offsets[i + 1]):
            acc += values[world, k] + type(acc)(EPS)
        slot = wp.atomic_add(count, 0, 1)
        if wp.static(limit > 0.0):
            out[slot] = acc
    return step


step = make(1.0)
wp.overload(step, {"values": wp.array2d[wp.float32], "out": wp.array[wp.float32]})
'''


def test_every_idiom_found():
    found = features_of(REAL_LIKE)
    for name in ("generic_any", "overload", "kernel_factory", "module_constant", "decorator_options",
                 "batched_launch", "dynamic_loop", "early_return", "tuple_helper", "struct_of_arrays",
                 "slot_allocation", "array_subscript_style", "wp_static", "wp_func", "struct", "docstring",
                 "for_loop", "branch", "atomic", "multidim_array", "plain_float", "plain_vec3", "vector",
                 "vector_math"):
        assert name in found, name
    for name in ("while_loop", "quaternion", "float64", "float16", "random", "tile", "long_kernel", "wp_constant"):
        assert name not in found, name


def test_plain_program_has_no_idiom():
    src = ("import warp as wp\n\n@wp.kernel\ndef scale(x: wp.array(dtype=wp.float32), y: wp.array(dtype=wp.float32)):\n"
           "    i = wp.tid()\n    y[i] = wp.sin(x[i]) * 2.0\n")
    found = features_of(src)
    assert found == {"transcendental"}
    assert not found & set(IDIOMS)


def test_table_is_about_forty_features_with_the_idioms_marked():
    assert 35 <= len(FEATURES) <= 50
    assert len({f.name for f in FEATURES}) == len(FEATURES)
    assert {"generic_any", "kernel_factory", "struct_of_arrays", "long_kernel"} <= set(IDIOMS)


def test_unparsable_source_has_no_features():
    assert features_of("def broken(:") == set()
