"""The warp.fem Poisson example: accuracy, convergence order, reference solution and kernel capture."""

from __future__ import annotations

import inspect
import re
import types

import numpy as np
import pytest

from fem_examples import poisson
from fem_examples.capture import INTEGRANDS, capture_fem_kernels, integrand_of

RESOLUTIONS = (4, 8, 16)
CONSTANT_TOLERANCE = 1.0e-5
"""L2 distance allowed between the degree-2, 16×16 solution of -Δu = 1 and its series reference (measured 3.9e-6)."""


def _errors(problem: str, degree: int, resolutions=RESOLUTIONS) -> list[float]:
    errors = []
    for resolution in resolutions:
        example = poisson.Example(quiet=True, degree=degree, resolution=resolution, problem=problem)
        example.step()
        assert example.residual < 1.0e-8
        errors.append(example.l2_error())
    return errors


class _SineErrors(dict):
    """L2 errors of the manufactured problem at :data:`RESOLUTIONS`, computed per degree on first use."""

    def __missing__(self, degree: int) -> list[float]:
        self[degree] = _errors("sine", degree)
        return self[degree]


@pytest.fixture(scope="module")
def sine_errors() -> _SineErrors:
    """Shared per-degree L2 errors of the manufactured problem."""
    return _SineErrors()


def test_manufactured_solution_is_accurate(sine_errors):
    errors = sine_errors[2]
    assert errors[-1] < 1.0e-4, errors
    assert all(a > b for a, b in zip(errors, errors[1:])), errors


@pytest.mark.parametrize("degree", [1, 2, 3])
def test_convergence_order_matches_degree(sine_errors, degree):
    orders = poisson.observed_orders(RESOLUTIONS, sine_errors[degree])
    assert len(orders) >= 2
    for order in orders:
        assert order == pytest.approx(degree + 1, abs=0.3), orders


def test_series_reference_solution():
    # Known centre value of the torsion function of the unit square, and the boundary condition.
    assert poisson.constant_source_solution_numpy(0.5, 0.5) == pytest.approx(poisson.CONSTANT_CENTER_VALUE, abs=1e-10)
    t = np.linspace(0.0, 1.0, 11)
    for x, y in ((t, 0 * t), (t, 0 * t + 1), (0 * t, t), (0 * t + 1, t)):
        assert np.abs(poisson.constant_source_solution_numpy(x, y)).max() < 1e-6
    # -Δu = 1 inside, by finite differences
    h = 1.0e-3
    x, y = np.meshgrid(np.linspace(0.2, 0.8, 4), np.linspace(0.2, 0.8, 4))
    u = poisson.constant_source_solution_numpy
    lap = (u(x + h, y) + u(x - h, y) + u(x, y + h) + u(x, y - h) - 4 * u(x, y)) / h**2
    np.testing.assert_allclose(-lap, 1.0, atol=1e-4)


def test_constant_source_matches_reference():
    example = poisson.Example(quiet=True, degree=2, resolution=16, problem="constant")
    example.step()
    error = example.l2_error()
    assert error < CONSTANT_TOLERANCE


def test_cli(capsys):
    assert poisson.main(["--resolution", "4", "--degree", "2", "--quiet"]) == 0
    out = capsys.readouterr().out
    error = float(out.strip().splitlines()[-1].split(":")[1])
    assert 1e-4 < error < 1e-2  # degree 2 on a 4×4 grid: 1.9e-3


def test_capture_fem_kernels():
    kernels = capture_fem_kernels(resolution=4, degree=2)
    assert [k.key.rsplit("_", 1)[0] for k in kernels] == list(INTEGRANDS)
    for kernel in kernels:
        # one Warp module per generated kernel, named after the integrand's module and the kernel key
        assert kernel.module.name == f"fem_examples.poisson.{kernel.key}"
        assert list(kernel.module.kernels) == [kernel.key]
        # kernel.func is warp.fem's generic integration kernel; the integrand holds the user's source
        assert "def integrate_kernel_fn" in inspect.getsource(kernel.func)
        assert "@fem.integrand" in inspect.getsource(integrand_of(kernel).func)
    # a second run at another resolution reuses the same kernels
    assert [k.key for k in capture_fem_kernels(resolution=8, degree=2)] == [k.key for k in kernels]


def test_captured_kernels_extract():
    from extraction import extract_module

    kernels = capture_fem_kernels(resolution=4, degree=2)
    diffusion = kernels[INTEGRANDS.index("diffusion_form")]
    # extract_module only sees module-level kernels whose function lives in that module, and warp.fem's
    # kernel functions live in warp._src.fem.integrate: a namespace standing in for that module works.
    shim = types.SimpleNamespace(__name__=diffusion.func.__module__, **{k.key: k for k in kernels})
    (record,) = extract_module(shim, targets=("cpu",), kernel_names=[diffusion.key], program_source="src")
    assert record.kernel_name == diffusion.key
    assert "diffusion_form" in record.helper_functions
    # Warp mangles the kernel symbol as <key>_<module hash>_cpu_kernel_forward
    assert re.search(rf"void {diffusion.key}_\w+_cpu_kernel_forward\(", record.cpp_forward)
    assert re.search(rf"void {diffusion.key}_\w+_cpu_kernel_backward\(", record.cpp_backward)
