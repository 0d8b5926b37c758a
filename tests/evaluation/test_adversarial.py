"""Corrupted references: each kind changes the entry point's own code, and only that."""

from __future__ import annotations

import difflib

from evaluation.adversarial import KINDS, corrupt
from evaluation.tasks import TASKS, entry_point


def _changed_lines(a: str, b: str) -> list[str]:
    return [ln for ln in difflib.unified_diff(a.splitlines(), b.splitlines(), n=0, lineterm="")
            if ln[:1] in "+-" and not ln.startswith(("+++", "---"))]


def test_each_kind_changes_the_entry_point_only(blend_row, scale_row, spin_row):
    task = TASKS["python→cpp_forward"]
    reference = blend_row[task.target]
    symbol = entry_point(reference, "cpu", False)[0]
    helper_and_struct = reference[:reference.index("void " + symbol)]
    assert corrupt("no_normalize", task, blend_row) is None  # blend normalises nothing
    for kind in KINDS:
        if kind == "no_normalize":
            continue
        bad = corrupt(kind, task, blend_row, scale_row)
        assert bad and bad != reference, kind
        if kind not in ("other_row", "other_kernel"):
            assert bad.startswith(helper_and_struct), kind  # the helper and the argument struct are untouched
    removed, added = _changed_lines(reference, corrupt("operator", task, blend_row))
    assert "= wp::add(" in removed and "= wp::sub(" in added
    assert " = 1.5;" in reference and " = 1.5;" not in corrupt("constant", task, blend_row)  # comments keep theirs
    assert "wp::array_store" not in corrupt("output_not_written", task, blend_row).split(symbol)[1]
    assert " + 3" in corrupt("out_of_bounds", task, blend_row)
    assert f"    {symbol}(dim, task_index, _wp_args);\n}}" in corrupt("calls_reference", task, blend_row)
    assert corrupt("other_row", task, blend_row, scale_row) == scale_row[task.target]
    assert "blend_other_" in corrupt("other_kernel", task, blend_row)
    nudged = _changed_lines(reference, corrupt("constant_nudge", task, blend_row))
    assert nudged[0].endswith(" = 1.5;") and nudged[1].endswith(" = 1.5003;")
    spin = spin_row[task.target]
    removed, added = _changed_lines(spin, corrupt("no_normalize", task, spin_row))
    assert "wp::normalize(" in removed and "wp::normalize(" not in added
    dec = TASKS["cuda_forward→python"]
    assert "r = (q[i])" in corrupt("no_normalize", dec, spin_row)


def test_backward_and_python_forms(blend_row):
    bwd, dec = TASKS["python→cpp_backward"], TASKS["cuda_forward→python"]
    swapped = _changed_lines(blend_row[bwd.target], corrupt("operator", bwd, blend_row))
    assert len(swapped) == 2 and "wp::adj_" in swapped[1]  # an adjoint swapped, not the forward replay
    source = blend_row["python_source"]
    assert "pass" in corrupt("empty_body", dec, blend_row).split("def blend")[1]
    assert "out[i + 3] =" in corrupt("out_of_bounds", dec, blend_row)
    assert "def blend_other(" in corrupt("other_kernel", dec, blend_row)
    assert corrupt("calls_reference", dec, blend_row) is None
    assert "x * k + 0.25" in corrupt("operator", dec, blend_row)  # the helper is not the kernel: untouched
    assert corrupt("operator", dec, blend_row) != source
