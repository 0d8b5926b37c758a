"""Run-level and grad-level validation on CPU, and crash isolation."""

from __future__ import annotations

import os

import pytest

from extraction import extract_module, loaded_source
from extraction.isolate import Crashed, run_isolated
from extraction.runtime import validate_kernel
from tests.conftest import FIXTURES

SIN_WITH_GRAD = '''import warp as wp

@wp.func
def my_sin(x: float) -> float:
    return wp.sin(x)

@wp.func_grad(my_sin)
def adj_my_sin(x: float, adj_ret: float):
    wp.adjoint[x] += adj_ret * {derivative}

@wp.kernel
def apply(theta: wp.array(dtype=float), out: wp.array(dtype=float)):
    i = wp.tid()
    out[i] = my_sin(theta[i]) * 2.0
'''


def check(source: str, name: str, level: str = "grad", hints: dict | None = None):
    with loaded_source(source, f"warp_ir_rt_{abs(hash(source))}") as mod:
        (rec,) = [r for r in extract_module(mod, program_source=source) if r.kernel_name == name]
        return validate_kernel(getattr(mod, name), source, rec.launch_dim, level, hints or {}, rec.cpp_forward)


@pytest.mark.parametrize("name", ["arith_kernel", "vector_kernel", "loop_kernel", "matrix_kernel", "trig_kernel",
                                  "struct_helper_kernel", "atomic_kernel"])
def test_prototype_kernels_run_and_pass_grad(name):
    res = check((FIXTURES / "prototype_kernels.py").read_text(), name)
    assert res.ran is True and res.deterministic is True
    assert res.grad_ok is True and res.differentiable is True, res.note
    assert res.grad_max_rel_error < 2e-2


def test_wrong_custom_gradient_is_caught():
    good = check(SIN_WITH_GRAD.format(derivative="wp.cos(x)"), "apply")
    assert good.grad_ok is True, good.note
    bad = check(SIN_WITH_GRAD.format(derivative="wp.sin(x)"), "apply")  # d/dx sin(x) is not sin(x)
    assert bad.ran is True and bad.grad_ok is False and bad.differentiable is True
    assert bad.grad_max_rel_error > 0.1 and "rel. error" in bad.note


def test_integer_kernel_is_not_claimed_differentiable():
    res = check((FIXTURES / "prototype_kernels.py").read_text(), "forward_only_kernel")
    assert res.ran is True and res.grad_ok is None and res.differentiable is False
    assert "no float" in res.note


def test_run_level_skips_gradient():
    res = check((FIXTURES / "prototype_kernels.py").read_text(), "trig_kernel", level="run")
    assert res.ran is True and res.grad_ok is None and res.grad_max_rel_error is None


def test_nonfinite_output_is_not_ran():
    src = ("import warp as wp\n\n@wp.kernel\ndef k(x: wp.array(dtype=float)):\n"
           "    x[wp.tid()] = wp.log(x[wp.tid()] * 0.0)\n")
    res = check(src, "k", level="run")
    assert res.ran is False and "non-finite" in res.note


def _maybe_crash(item: int) -> int:
    if item == 2:
        os.abort()
    if item == 4:
        raise ValueError("bad item")
    return item * 10


def test_isolation_survives_a_crash():
    out = run_isolated([0, 1, 2, 3, 4, 5], _maybe_crash, timeout_s=30)
    assert out[:2] == [0, 10] and out[3] == 30 and out[5] == 50
    assert isinstance(out[2], Crashed) and "signal" in out[2].reason
    assert isinstance(out[4], Crashed) and "bad item" in out[4].reason


def _hang(item: int) -> int:
    if item == 1:
        import time

        time.sleep(60)
    return item


def test_isolation_times_out():
    out = run_isolated([0, 1, 2], _hang, timeout_s=2)
    assert out[0] == 0 and isinstance(out[1], Crashed) and "timeout" in out[1].reason and out[2] == 2


def _eat_memory(item: int) -> int:
    if item == 1:
        hoard = []
        while True:
            hoard.append(bytearray(16 * 2**20))  # touched: resident
    return item + os.getpid() * 0  # a fresh child gives the same answer


def test_isolation_limits_memory_and_can_give_each_item_its_own_child():
    out = run_isolated([0, 1, 2], _eat_memory, timeout_s=60, memory_mb=256)
    assert out[0] == 0 and out[2] == 2
    assert isinstance(out[1], Crashed) and out[1].reason == "used more than 256 MiB of memory"
    pids = run_isolated([0, 1, 2], lambda _: os.getpid(), one_per_child=True)
    assert len(set(pids)) == 3 and os.getpid() not in pids
    assert len(set(run_isolated([0, 1, 2], lambda _: os.getpid()))) == 1


CSR = '''import warp as wp

@wp.kernel
def gather(offsets: wp.array(dtype=int), neighbors: wp.array(dtype=int), x: wp.array(dtype=float),
           out: wp.array(dtype=float)):
    i = wp.tid()
    total = float(0.0)
    for k in range(offsets[i], offsets[i + 1]):
        total += x[neighbors[k]]
    out[i] = total
'''


def test_csr_offsets_get_one_element_more():
    """``offsets[i + 1]`` read by the last thread was one past the array: a garbage loop bound, then a segfault
    (7% of synthesized programs at ``--validate run``)."""
    from extraction.inputs import make_inputs

    with loaded_source(CSR, "warp_ir_rt_csr") as mod:
        inputs = make_inputs(mod.gather, CSR, 1)
        sizes = {n: len(v) for n, v in zip(inputs.names, inputs.values)}
        assert sizes == {"offsets": 65, "neighbors": 64, "x": 64, "out": 64}
    (res,) = run_isolated([CSR], lambda src: check(src, "gather", "run"))
    assert not isinstance(res, Crashed) and res.ran is True, res


GEOMETRY = '''import warp as wp

@wp.kernel
def probe(mesh: wp.uint64, vol: wp.uint64, offsets: wp.array(dtype=int), p: wp.array(dtype=wp.vec3),
          out: wp.array(dtype=float)):
    i = wp.tid()
    q = wp.mesh_query_point(mesh, p[i], 1.0)
    v = wp.volume_sample(vol, wp.volume_world_to_index(vol, p[i]), wp.Volume.LINEAR, dtype=wp.vec3)
    out[i] = float(offsets[i + 1]) + wp.length(v) + float(q.result)
'''


def test_input_hints_draw_the_inputs_the_whole_program_draws():
    """The answer box gets hints, not the row's program (for the decompile task the program is the answer)."""
    import numpy as np
    import warp as wp

    from extraction.inputs import input_hints, make_inputs

    for name, src in (("csr", CSR), ("geometry", GEOMETRY)):
        hints = input_hints(src)
        assert "def " not in hints and "out[i] =" not in hints, hints
        with loaded_source(src, f"warp_ir_rt_hints_{name}") as mod:
            kernel = next(v for v in vars(mod).values() if hasattr(v, "adj"))
            whole, hinted = make_inputs(kernel, src, 1, seed=5), make_inputs(kernel, hints, 1, seed=5)
            for t, a, b in zip(whole.types, whole.values, hinted.values):
                if t is wp.uint64:  # a geometry's id: the same kind of geometry is made
                    continue
                assert np.array_equal(np.asarray(a), np.asarray(b))
            assert [len(np.atleast_1d(v)) for v in whole.values] == [len(np.atleast_1d(v)) for v in hinted.values]
            assert [type(k) for k in whole.keep_alive] == [type(k) for k in hinted.keep_alive]


VALUES = '''import warp as wp

@wp.kernel
def values(counts: wp.array(dtype=int), idx: wp.array(dtype=int), n: int, step: wp.int8, out: wp.array(dtype=float)):
    i = wp.tid()
    out[i] = float(counts[i] + wp.int32(step)) + out[idx[i]]
    for j in range(n):
        out[i] += 1.0
'''


def test_value_integers_are_drawn_wide_in_the_scaled_sets_and_indices_stay_in_range():
    import numpy as np

    from extraction.inputs import INPUT_SCALES, input_hints, make_inputs

    with loaded_source(VALUES, "warp_ir_rt_values") as mod:
        sets = [make_inputs(mod.values, VALUES, 1, seed=3, scale=s) for s in INPUT_SCALES]
        hinted = [make_inputs(mod.values, input_hints(VALUES), 1, seed=3, scale=s) for s in INPUT_SCALES]
    first, small, large = ({n: v for n, v in zip(s.names, s.values)} for s in sets)
    assert set(np.unique(first["counts"])) <= {0, 1, 2, 3} and 1 <= int(first["step"]) <= 3
    for wide, span in ((small, 1_000), (large, 40_000)):
        counts = np.asarray(wide["counts"])
        assert counts.min() < -span // 4 and counts.max() > span // 4 and np.abs(counts).max() <= span
        assert -128 <= int(wide["step"]) <= 127  # within its type
        assert set(np.unique(wide["idx"])) <= {0, 1, 2, 3} and 1 <= int(wide["n"]) <= 3
    for whole, hint in zip(sets, hinted):  # the answer box's hints draw the same
        for a, b in zip(whole.values, hint.values):
            assert np.array_equal(np.asarray(a), np.asarray(b))


WEAK = '''import warp as wp

@wp.kernel
def constant(x: wp.array(dtype=float), out: wp.array(dtype=float)):
    i = wp.tid()
    out[i] = 0.5 * float(i)

@wp.kernel
def zeros(x: wp.array(dtype=float), out: wp.array(dtype=float)):
    i = wp.tid()
    out[i] = x[i] * 0.0

@wp.kernel
def nothing(x: wp.array(dtype=float), out: wp.array(dtype=float)):
    i = wp.tid()
    if x[i] > 100.0:
        out[i] = x[i]

@wp.kernel
def scaled(x: wp.array(dtype=float), out: wp.array(dtype=float)):
    i = wp.tid()
    out[i] = x[i] * 2.0 + 0.25
'''


@pytest.mark.parametrize("name, why", [
    ("constant", "writes the same for every input set (does not depend on its inputs)"),
    ("zeros", "everything it writes is zero"),
    ("nothing", "writes nothing"),
    ("scaled", ""),
])
def test_weak_problems_are_marked_from_three_input_sets(name, why):
    res = check(WEAK, name, "run")
    assert res.ran is True and res.weak == why


def test_weak_reasons_of_gradients():
    import numpy as np

    from extraction.weak import weak_reasons

    out = [np.ones(3)]
    assert weak_reasons([out, [np.full(3, 2.0)]], gradients=[np.zeros(3), np.zeros((2, 2))]) == ["zero_gradients"]
    assert weak_reasons([out, [np.full(3, 2.0)]], gradients=[np.zeros(3), np.eye(2)]) == []
    assert weak_reasons([[np.full(3, np.nan)], [np.array([np.inf, -np.inf, np.nan])]]) == ["non_finite"]
    assert weak_reasons([[np.array([np.nan, 1.0])], [np.array([np.nan, 2.0])]]) == []
