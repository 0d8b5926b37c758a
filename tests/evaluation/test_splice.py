"""Splicing a prediction into Warp's module: the reference spliced in gives the module back."""

from __future__ import annotations

import pytest


def _module(row: dict, target: str) -> str:
    from evaluation.execute import KernelSpec, prepare

    return prepare(KernelSpec(row["python_source"], row["kernel_name"], target)).source


def test_definitions_split_structs_functions_and_directives():
    from evaluation.splice import definitions

    code = ('// a.py:1\nstruct S {\n  int a; // }\n};\n\nstatic CUDA_CALLABLE float f_0(float x)\n{\n'
            '  const char* s = "}";\n  return x;\n}\n#include "x.h"\nint g(int);\n')
    pieces = definitions(code)
    assert [p.name for p in pieces] == ["S", "f_0", None, "g"]
    assert "".join(p.text for p in pieces) == code.rstrip("\n")  # nothing lost but the trailing newline
    assert pieces[0].text.startswith("// a.py:1")  # the file comment above a definition goes with it


@pytest.mark.parametrize("column,target", [("cpp_forward", "cpu"), ("cpp_backward", "cpu"),
                                           ("cuda_forward", "cuda"), ("cuda_backward", "cuda")])
def test_the_reference_spliced_into_its_module_gives_the_module(blend_row, column, target):
    from evaluation.splice import splice

    source = _module(blend_row, target)
    assert splice(source, blend_row[column], blend_row[column]).split() == source.split()


def test_a_prediction_replaces_each_definition_by_name_and_drops_what_it_lacks(blend_row):
    from evaluation.splice import splice
    from evaluation.tasks import entry_point

    source = _module(blend_row, "cpu")
    reference = blend_row["cpp_forward"]
    symbol = entry_point(reference, "cpu", False)[0]
    renamed = reference.replace("wp::sin(", "wp::cos(")
    spliced = splice(source, reference, renamed)
    assert "wp::cos(" in spliced and spliced.count("wp::sin(") == source.count("wp::sin(") - 1
    only_kernel = reference[reference.index("void " + symbol) - len("static "):]  # no helper, no args struct
    dropped = splice(source, reference, only_kernel)
    assert "smooth_0(" not in dropped.split("static void " + symbol)[0].split("struct wp_args")[0][-200:]
    assert "struct wp_args_" not in dropped  # the argument struct was not written, so it is gone
    extra = splice(source, reference, "static int extra_helper() { return 1; }\n" + reference)
    assert extra.index("extra_helper") < extra.index(symbol)


def test_the_spliced_module_keeps_warps_other_code(blend_row):
    from evaluation.splice import splice

    source = _module(blend_row, "cpu")
    spliced = splice(source, blend_row["cpp_forward"], "garbage {{{")
    assert "_cpu_kernel_backward" in spliced and "WP_API void" in spliced  # Warp's backward and wrappers stay


def test_a_reference_missing_from_the_module_is_a_splice_error(blend_row):
    from evaluation.splice import SpliceError, splice

    with pytest.raises(SpliceError, match="not in the generated module"):
        splice("int unrelated;\n", blend_row["cpp_forward"], blend_row["cpp_forward"])
