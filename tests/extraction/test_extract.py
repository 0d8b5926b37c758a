"""Extraction on the prototype's seven kinds of kernel: real content of forward and backward, both targets."""

from __future__ import annotations

import json
import re

import pytest
import warp as wp

TARGET_COLUMNS = (("cpu", "cpp"), ("cuda", "cuda"))


def both(rec, kind: str) -> list[str]:
    return [getattr(rec, f"{prefix}_{kind}") for _, prefix in TARGET_COLUMNS]


def test_arithmetic(prototype_records):
    rec = prototype_records["arith_kernel"]
    for fwd, bwd in zip(both(rec, "forward"), both(rec, "backward")):
        assert "wp::mul(" in fwd and "wp::add(" in fwd and "wp::div(" in fwd and "wp::sub(" in fwd
        assert "wp::adj_mul(" in bwd and "wp::adj_div(" in bwd and "wp::adj_sub(" in bwd
        assert "arith_kernel_" in fwd


def test_vector(prototype_records):
    rec = prototype_records["vector_kernel"]
    for fwd, bwd in zip(both(rec, "forward"), both(rec, "backward")):
        assert "wp::vec_t<3, wp::float32>" in fwd
        assert "wp::dot(" in fwd and "wp::cross(" in fwd and "wp::length(" in fwd
        assert "wp::adj_dot(" in bwd and "wp::adj_cross(" in bwd and "wp::adj_length(" in bwd


def test_control_flow(prototype_records):
    rec = prototype_records["branch_kernel"]
    for fwd, bwd in zip(both(rec, "forward"), both(rec, "backward")):
        assert re.search(r"if \(var_\d+\) \{", fwd) and re.search(r"if \(!var_\d+\) \{", fwd)
        assert "wp::where(" in fwd
        assert "wp::adj_where(" in bwd and "// adj: elif v < -0.5:" in bwd


def test_loop_with_accumulation(prototype_records):
    rec = prototype_records["loop_kernel"]
    for fwd, bwd in zip(both(rec, "forward"), both(rec, "backward")):
        assert "wp::range(var_n)" in fwd and "start_for_0:;" in fwd and "wp::iter_next(" in fwd
        assert "wp::assign(" in fwd  # acc += ... on a loop-carried local
        assert "wp::adj_assign(" in bwd and "goto start_for_0;" in bwd


def test_atomics(prototype_records):
    rec = prototype_records["atomic_kernel"]
    for fwd, bwd in zip(both(rec, "forward"), both(rec, "backward")):
        assert "wp::atomic_add(" in fwd
        assert "wp::adj_atomic_add(" in bwd


def test_matrix(prototype_records):
    rec = prototype_records["matrix_kernel"]
    for fwd, bwd in zip(both(rec, "forward"), both(rec, "backward")):
        assert "wp::mat_t<3,3,wp::float32>" in fwd.replace(", ", ",")
        assert "wp::transpose(" in fwd and "wp::mul(" in fwd
        assert "wp::adj_transpose(" in bwd and "wp::adj_mul(" in bwd


def test_trigonometry(prototype_records):
    rec = prototype_records["trig_kernel"]
    for fwd, bwd in zip(both(rec, "forward"), both(rec, "backward")):
        assert "wp::sin(" in fwd and "wp::cos(" in fwd
        assert "wp::adj_sin(" in bwd and "wp::adj_cos(" in bwd
        assert "wp::adj_sin(" not in fwd


def test_symbols_and_entry_points(prototype_records):
    rec = prototype_records["trig_kernel"]
    assert re.search(r"static void trig_kernel_[0-9a-f]{8}_cpu_kernel_forward\(", rec.cpp_forward)
    assert re.search(r"static void trig_kernel_[0-9a-f]{8}_cpu_kernel_backward\(", rec.cpp_backward)
    assert re.search(r'extern "C" __global__ void trig_kernel_[0-9a-f]{8}_cuda_kernel_forward\(', rec.cuda_forward)
    assert re.search(r'extern "C" __global__ void trig_kernel_[0-9a-f]{8}_cuda_kernel_backward\(', rec.cuda_backward)
    assert re.search(r"struct wp_args_trig_kernel_[0-9a-f]{8} \{", rec.cpp_forward)
    # source lines are kept as comments with <L n> markers
    assert re.search(r"// out\[i\] = wp.sin\(theta\[i\]\) \* wp.cos\(theta\[i\]\)\s+<L \d+>", rec.cpp_forward)
    # the cut holds only this kernel: nothing of its neighbours
    assert "arith_kernel" not in rec.cpp_forward + rec.cuda_backward


def test_helpers_structs_and_2d_launch(prototype_records):
    rec = prototype_records["struct_helper_kernel"]
    assert rec.helper_functions == ["kinetic"]
    assert rec.launch_dim == 2
    # struct types are named as the user wrote them, without the module warp-ir imported the file as
    assert rec.arguments[0] == {"name": "ps", "type": "array(ndim=1, dtype=Particle)"}
    for fwd, bwd in zip(both(rec, "forward"), both(rec, "backward")):
        assert re.search(r"struct Particle_[0-9a-f]+\s*\{", fwd)
        assert re.search(r"kinetic_\d+\(", fwd)
        assert re.search(r"void adj_kinetic_\d+\(", bwd)
        assert "builtin_tid2d(" in fwd
    # Python side: the kernel plus the struct and helper it needs, not the other kernels
    src = rec.python_source
    assert "class Particle:" in src and "def kinetic(" in src and "def struct_helper_kernel(" in src
    assert "def trig_kernel(" not in src
    assert src.index("class Particle") < src.index("def kinetic") < src.index("def struct_helper_kernel")


def test_metadata(prototype_records):
    rec = prototype_records["loop_kernel"]
    assert rec.arguments == [
        {"name": "x", "type": "array(ndim=1, dtype=float32)"},
        {"name": "n", "type": "int32"},
        {"name": "out", "type": "array(ndim=1, dtype=float32)"},
    ]
    assert rec.launch_dim == 1
    assert rec.differentiable is True
    assert rec.warp_version == wp.__version__
    assert rec.module_name == "warp_ir_user_prototype_kernels"
    row = rec.to_row()
    assert len(row["content_hash"]) == 64
    json.dumps(row)  # a row is plain JSON


def test_forward_only_kernel(prototype_records):
    rec = prototype_records["forward_only_kernel"]
    assert rec.cpp_backward == "" and rec.cuda_backward == ""
    assert rec.differentiable is False
    assert "wp::mul(" in rec.cpp_forward


def test_same_program_gives_same_code_whatever_came_before():
    from extraction import extract_module, loaded_source
    from tests.conftest import FIXTURES

    src = (FIXTURES / "prototype_kernels.py").read_text()
    hashes = []
    for name in ("warp_ir_repeat_a", "warp_ir_repeat_b"):
        with loaded_source(src, name) as mod:
            hashes.append([r.content_hash for r in extract_module(mod, program_source=src)])
    assert hashes[0] == hashes[1]


def test_single_target():
    from extraction import extract_target
    from tests.conftest import FIXTURES

    recs = extract_target(str(FIXTURES / "prototype_kernels.py"), targets=("cuda",))
    assert all(r.cpp_forward is None and r.cuda_forward for r in recs)


def test_program_from_memory_is_released():
    import linecache
    import sys

    from extraction import extract_module, loaded_source
    from extraction.loader import pseudo_filename

    src = "import warp as wp\n\n@wp.kernel\ndef k(x: wp.array(dtype=float)):\n    x[wp.tid()] = wp.exp(x[wp.tid()])\n"
    with loaded_source(src, "warp_ir_test_mem") as mod:
        rec = extract_module(mod, program_source=src)[0]
        assert pseudo_filename(src) in linecache.cache
    assert "wp::adj_exp(" in rec.cuda_backward and rec.python_source == src
    assert "warp_ir_test_mem" not in sys.modules
    assert pseudo_filename(src) not in linecache.cache


def test_rejected_program_reports_warp_reason():
    from extraction import ExtractionError, extract_module, loaded_source

    src = "import warp as wp\n\n@wp.kernel\ndef k(x: wp.array(dtype=float)):\n    x[0] = wp.select(True, 1.0, 2.0)\n"
    with loaded_source(src, "warp_ir_test_bad") as mod, pytest.raises(ExtractionError, match=r"wp.where"):
        extract_module(mod)
