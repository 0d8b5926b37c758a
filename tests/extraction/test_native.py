"""Batched native compilation: one call for many programs, bisection isolates the broken ones."""

from __future__ import annotations

from extraction import extract_module, loaded_source
from extraction.native import compile_records, find_broken


def records(n):
    out = []
    for i in range(n):
        src = (f"import warp as wp\n\n@wp.func\ndef helper(x: float) -> float:\n    return x * {i + 1}.0\n\n"
               f"@wp.kernel\ndef k{i}(x: wp.array(dtype=float)):\n    x[wp.tid()] = helper(wp.sin(x[wp.tid()]))\n")
        with loaded_source(src, f"warp_ir_native_{i}") as mod:
            out.extend(extract_module(mod, program_source=src))
    return out


def test_batch_compiles_for_both_targets():
    recs = records(4)
    assert compile_records(recs, ("cpu", "cuda")) == {}
    assert all(r.validation.cpu_compiled and r.validation.cuda_compiled for r in recs)


def test_bisection_isolates_broken_program():
    recs = records(6)
    recs[4].generated["cpu"] = recs[4].generated["cpu"].replace("wp::sin(", "wp::no_such_function(")
    broken = compile_records(recs, ("cpu",))
    assert list(broken) == [4]
    assert "cpu compile error" in broken[4] and "no_such_function" in broken[4]
    assert [r.validation.cpu_compiled for r in recs] == [True, True, True, True, False, True]


def test_find_broken_call_count():
    calls = []

    def fake_compile(batch):
        calls.append(len(batch))
        return "error: bad" if any(b == 5 for b in batch) else None

    assert find_broken(list(range(16)), fake_compile) == {5: "error: bad"}
    assert len(calls) == 9  # 1 + 2 per level of the bisection


def test_linking_a_cpu_object_runs_none_of_its_code(tmp_path):
    """What lets the scorer link a batch of predictions once and run each in a child: linking runs nothing."""
    import re

    from extraction import _warp
    from extraction.isolate import run_isolated
    from extraction.native import binary_path, compile_sources

    source = records(1)[0].generated["cpu"] + "\nstatic int warp_ir_trap = (__builtin_trap(), 0);\n"
    src = str(tmp_path / "trap.cpp")
    assert compile_sources([source], "cpu", src) is None
    wrapper = re.search(r"WP_API void (\w+_cpu_forward)\(", source)[1]

    def link(_: object) -> bool:
        handle = _warp.load_cpu_binary(binary_path(src, "cpu"))
        linked = _warp.link_cpu_binary(handle, wrapper)
        missing = _warp.link_cpu_binary(handle, "warp_ir_no_such_symbol")
        return linked and not missing

    assert run_isolated([None], link, timeout_s=60) == [True]  # the trapping initializer never ran
