"""How a program reads: every measure on tiny programs whose figures are known by hand."""

from __future__ import annotations

import pytest

from generator.realism.measures import is_arbitrary, read_program

CLEAN = '''import warp as wp

GRAVITY = 9.81


@wp.kernel
def integrate(x: wp.array[wp.vec3], v: wp.array[wp.vec3], dt: float):
    i = wp.tid()
    vel = v[i] + wp.vec3(0.0, -GRAVITY, 0.0) * dt
    for k in range(3):
        vel = vel * 0.5
    x[i] = x[i] + vel * dt
'''


def test_clean_program_reads_clean():
    r = read_program(CLEAN)
    assert r.parsed and r.dead_locals == 0 and r.degenerate == 0 and r.arbitrary_constants == 0
    assert r.locals == 2  # i, vel (the loop variable k is not counted)
    assert r.call_depth == 1  # wp.tid(), wp.vec3(...): no call inside another (v[i] is not a call)
    assert r.longest_line == max(len(line) for line in CLEAN.splitlines())
    assert r.code_lines == 9


@pytest.mark.parametrize("body, dead", [
    ("    a = x[i]\n    x[i] = 1.0\n", 1),            # assigned, never read
    ("    a = x[i]\n    a += 1.0\n    x[i] = 2.0\n", 1),  # only ever added to
    ("    a, b = wp.tid(), 2\n    x[a + i] = 1.0\n", 1),  # one name of a tuple
    ("    _unused = x[i]\n    x[i] = 1.0\n", 0),       # an underscore name is on purpose
    ("    a = x[i]\n    x[i] = a\n", 0),
])
def test_dead_locals(body, dead):
    src = f"import warp as wp\n\n@wp.kernel\ndef k(x: wp.array[float]):\n    i = wp.tid()\n{body}"
    assert read_program(src).dead_locals == dead


@pytest.mark.parametrize("expr, degenerate", [
    ("x[i] - x[i]", 1), ("a / a", 1), ("wp.min(a, a)", 1), ("wp.clamp(a, 0.0, 0.0)", 1),
    ("wp.where(a > 0.0, b, b)", 1), ("float(a < a)", 1), ("a * a", 0), ("a + a", 0), ("float(a != a)", 0),
    ("wp.min(a, b)", 0), ("wp.cross(v, v)[0]", 1), ("wp.dot(v, v)", 0),
])
def test_degenerate_expressions(expr, degenerate):
    src = ("import warp as wp\n\n@wp.kernel\ndef k(x: wp.array[float], v: wp.vec3):\n    i = wp.tid()\n"
           f"    a = x[i]\n    b = x[0]\n    x[i] = {expr}\n")
    assert read_program(src).degenerate == degenerate


@pytest.mark.parametrize("stmt", ["a = a", "if 1.0 < 2.0:\n        a = 2.0", "if True:\n        a = 2.0",
                                  "b = 1.0 if False else 2.0"])
def test_degenerate_statements(stmt):
    src = f"def f(a):\n    b = 0.0\n    {stmt}\n    return a + b\n"
    assert read_program(src).degenerate == 1


@pytest.mark.parametrize("value, arbitrary", [
    (0.382, True), (1.783, True), (0.5, False), (1e-6, False), (0.25, False), (9.81, False), (3.14159265, False),
    (0.35, False), (1000.0, False), (0.0, False), (2.5e-3, False), (12.34, True),
])
def test_arbitrary_constants(value, arbitrary):
    assert is_arbitrary(value) is arbitrary


def test_constants_per_program_and_strings_not_counted():
    src = 'def f(x):\n    """0.382 in a docstring is text."""\n    return x * 0.382 + 0.5 * 1.783\n'
    assert read_program(src).arbitrary_constants == 2


def test_call_depth_ignores_decorators_and_annotations():
    src = ("import warp as wp\n\n@wp.kernel(enable_backward=bool(int(1)))\n"
           "def k(x: wp.array(dtype=wp.vec3)):\n    x[0] = wp.normalize(wp.cross(x[1], wp.vec3(1.0, 0.0, 0.0)))\n")
    assert read_program(src).call_depth == 3


def test_unparsable_program_is_marked():
    r = read_program("def broken(:\n")
    assert not r.parsed and r.dead_locals == 0 and r.lines == 1
