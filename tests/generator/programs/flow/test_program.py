"""The flow synthesizer: every shape compiles with Warp, reads clean, and writes the idioms it is named for."""

from __future__ import annotations

import ast
import random

import pytest

from extraction import extract_module, loaded_source
from generator.programs.flow.program import SHAPES, compose
from generator.realism.features import features_of
from generator.realism.measures import read_program

# what each shape writes every time (the idioms it stands for)
EXPECTED = {
    "batched": {"batched_launch", "early_return"},
    "csr": {"dynamic_loop", "for_loop"},
    "compaction": {"slot_allocation", "atomic", "decorator_options"},  # enable_backward=False: see program.py
    "reduction": {"atomic"},
    "iterate": {"for_loop"},
    "struct": {"struct_of_arrays", "struct"},
    "factory": {"kernel_factory", "wp_static"},
    "scatter": {"atomic"},
}


def _programs(shape: str, n: int) -> list[tuple[str, dict]]:
    return [compose(random.Random(f"flow-test:{shape}:{k}"), 1 + k % 4, shape) for k in range(n)]


@pytest.mark.parametrize("shape", SHAPES)
def test_shape_compiles_reads_clean_and_has_its_idioms(shape):
    for k, (source, params) in enumerate(_programs(shape, 6)):
        with loaded_source(source, f"flow_test_{shape}_{k}") as module:
            records = extract_module(module, ["cpu"], program_source=source)
        assert len(records) == 1, source
        assert records[0].cpp_forward and records[0].cpp_backward is not None
        reading = read_program(source)
        assert reading.dead_locals == 0 and reading.degenerate == 0 and reading.arbitrary_constants == 0, source
        assert reading.call_depth <= 3 and reading.longest_line <= 120, source
        found = features_of(source)
        assert EXPECTED.get(shape, set()) <= found, (shape, found, source)
        assert params["shape"] == shape


def test_generic_programs_are_instantiated_once():
    generic = [(s, p) for shape in ("map", "csr", "reduction") for s, p in _programs(shape, 8) if p["generic"]]
    assert generic, "the generic idiom never drawn"
    for source, _ in generic:
        assert {"generic_any", "overload"} <= features_of(source)
        assert source.count("wp.overload(") + source.count("@wp.overload") == 1


def test_same_seed_same_bytes():
    a = compose(random.Random("same"), 3, "multistage")
    b = compose(random.Random("same"), 3, "multistage")
    assert a == b


def test_backward_code_follows_the_python():
    """A program that calls wp.sin gets wp::adj_sin in its backward code (names come from the domain)."""
    for shape in ("map", "iterate", "multistage"):
        for k, (source, _) in enumerate(_programs(shape, 30)):
            if "wp.sin(" not in source or "enable_backward=False" in source:
                continue
            with loaded_source(source, f"flow_adj_{shape}_{k}") as module:
                rec = extract_module(module, ["cpu"], program_source=source)[0]
            assert "wp::adj_sin(" in rec.cpp_backward
            return
    pytest.skip("no program of these draws calls wp.sin")


def test_long_kernels_at_high_complexity():
    lengths = []
    for k in range(40):
        source, _ = compose(random.Random(f"long:{k}"), 4, SHAPES[k % len(SHAPES)])
        lengths.append("long_kernel" in features_of(source))
    assert sum(lengths) >= 16  # most complexity-4 kernels do several stages


_COPIES = (ast.Name, ast.Subscript, ast.Attribute)


def _one_value_twice(source: str) -> list[str]:
    """Comparisons, differences, ratios and min/max whose two operands are one value through a copy
    (``h = curvature[i]`` then ``h > curvature[i]``: a branch that never runs)."""
    found = []
    for fn in (n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.FunctionDef)):
        writes: dict[str, int] = {}
        copies: dict[str, str] = {}
        for node in ast.walk(fn):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] \
                if isinstance(node, ast.AugAssign) else []
            for t in targets:
                if isinstance(t, ast.Name):
                    writes[t.id] = writes.get(t.id, 0) + 1
                    if isinstance(node, ast.Assign) and isinstance(node.value, _COPIES):
                        copies[t.id] = ast.unparse(node.value)
        value = {k: v for k, v in copies.items() if writes[k] == 1}

        def same(a: ast.expr, b: ast.expr, value: dict[str, str] = value) -> bool:
            x, y = ast.unparse(a), ast.unparse(b)
            return value.get(x, x) == value.get(y, y)

        for node in ast.walk(fn):
            if isinstance(node, ast.Compare) and len(node.comparators) == 1 and same(node.left, node.comparators[0]) \
                    or isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Sub, ast.Div)) \
                    and same(node.left, node.right) \
                    or isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr in ("min", "max") and len(node.args) == 2 and same(*node.args):
                found.append(ast.unparse(node))
    return found


def test_no_operation_on_a_value_and_its_copy():
    """It was 12% of synthesized rows: a local holding an input compared with (or subtracted from) that input."""
    assert _one_value_twice("def f(c, i):\n    h = c[i]\n    if h > c[i]:\n        return\n") == ["h > c[i]"]
    bad = {}
    for seed in range(400):
        source, _ = compose(random.Random(seed), 1 + seed % 4, SHAPES[seed % len(SHAPES)])
        if found := _one_value_twice(source):
            bad[seed] = found
    assert not bad, bad
