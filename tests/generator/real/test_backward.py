"""A real row's text loses the decorator options that switch the adjoint off, and nothing else."""

from __future__ import annotations

import pytest

from generator.real.backward import without_backward_off

BODY = "def k(a: wp.array(dtype=float)):\n    a[0] = 1.0  # enable_backward=False stays in a comment\n"


@pytest.mark.parametrize("decorator, expected", [
    ("@wp.kernel(enable_backward=False)", "@wp.kernel"),
    ("@warp.kernel(enable_backward=False)", "@warp.kernel"),
    ('@wp.kernel(module="unique", enable_backward=False, grid_stride=False)',
     '@wp.kernel(module="unique", grid_stride=False)'),
    ("@wp.kernel(grid_stride=False, enable_backward=False)", "@wp.kernel(grid_stride=False)"),
    ('@wp.kernel(\n    module="unique",\n    enable_backward=False,\n)', '@wp.kernel(\n    module="unique",\n)'),
    ('@wp.kernel(module_options={"enable_mathdx_gemm": False, "enable_backward": False}, enable_backward=False)',
     '@wp.kernel(module_options={"enable_mathdx_gemm": False})'),
    ('@wp.kernel(module_options={"enable_backward": False})', "@wp.kernel"),
    # what does not switch it off (a name, True, another decorator) is kept as written
    ("@wp.kernel(enable_backward=enable_backward)", "@wp.kernel(enable_backward=enable_backward)"),
    ("@wp.kernel(enable_backward=True)", "@wp.kernel(enable_backward=True)"),
    ("@wp.func_grad(enable_backward=False)", "@wp.func_grad(enable_backward=False)"),
])
def test_decorator_options_that_switch_the_adjoint_off_are_taken_out(decorator, expected):
    assert without_backward_off(f"{decorator}\n{BODY}") == f"{expected}\n{BODY}"


def test_every_kernel_of_a_text_and_non_ascii_text():
    source = ('@wp.func\ndef f(x: float):  # π ≈ 3.14\n    return x\n\n\n'
              '@wp.kernel(enable_backward=False)\ndef k1():\n    pass\n\n\n'
              '@wp.kernel(enable_backward=False, module="unique")\ndef k2():\n    pass\n')
    assert without_backward_off(source) == source.replace("(enable_backward=False)", "").replace(
        "(enable_backward=False, ", "(")


def test_text_that_does_not_parse_is_unchanged():
    broken = "@wp.kernel(enable_backward=False)\ndef k(:\n"
    assert without_backward_off(broken) == broken
