###########################################################################
# Poisson problem on the unit square
#
# This example solves a 2d Poisson problem with warp.fem:
#
#   -Δu = f   in Ω = [0, 1]²
#     u = g   on ∂Ω
#
# with continuous Lagrange elements of arbitrary degree on a regular grid.
# Dirichlet conditions are enforced strongly by projecting the assembled
# linear system, and the system is solved with Conjugate Gradient.
#
# Two problems are available:
#
#   "sine":     manufactured solution u = sin(πx)·sin(πy),
#               f = 2π²·sin(πx)·sin(πy), g = 0
#   "constant": f = 1, g = 0, compared against the Fourier-series
#               solution of -Δu = 1 on the unit square
###########################################################################

"""2D Poisson solver on the unit square built with :mod:`warp.fem`."""

from __future__ import annotations

import argparse
import logging
import math
from collections.abc import Sequence
from typing import Any, cast

import numpy as np
import warp as wp
import warp.fem as fem
from warp.optim.linear import cg, preconditioner

logger = logging.getLogger(__name__)

PROBLEMS = ("sine", "constant")
"""Names of the selectable problems."""

SINE = 0
CONSTANT = 1

CONSTANT_SERIES_TERMS = 200
"""Number of odd Fourier modes kept in the reference solution of ``-Δu = 1``."""

CONSTANT_CENTER_VALUE = 0.07367135328124
"""Value at (0.5, 0.5) of the solution of ``-Δu = 1`` on the unit square with ``u = 0`` on its boundary."""


@wp.func
def sine_solution(x: wp.vec2d) -> wp.float64:
    """Manufactured solution sin(πx)·sin(πy)."""
    pi = wp.float64(wp.pi)
    return wp.sin(pi * x[0]) * wp.sin(pi * x[1])


@wp.func
def constant_source_solution(x: wp.vec2d, terms: int) -> wp.float64:
    """Series solution of -Δu = 1 on the unit square with u = 0 on its boundary.

    ``u = x(1-x)/2 - Σ_{m odd} 4/(π³m³) sin(mπx) cosh(mπ(y-½)) / cosh(mπ/2)``, with the cosh ratio
    written with exponentials of non-positive arguments so that it never overflows.
    """
    pi = wp.float64(wp.pi)
    one = wp.float64(1.0)
    two = wp.float64(2.0)
    a = pi * wp.abs(x[1] - wp.float64(0.5))
    b = pi * wp.float64(0.5)
    u = x[0] * (one - x[0]) / two
    for k in range(terms):
        m = wp.float64(2 * k + 1)
        ratio = wp.exp(m * (a - b)) * (one + wp.exp(-two * m * a)) / (one + wp.exp(-two * m * b))
        u -= wp.float64(4.0) / (pi * pi * pi * m * m * m) * wp.sin(m * pi * x[0]) * ratio
    return u


def constant_source_solution_numpy(x: np.ndarray, y: np.ndarray, terms: int = CONSTANT_SERIES_TERMS) -> np.ndarray:
    """NumPy twin of :func:`constant_source_solution`, for checks outside Warp kernels."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    m = (2 * np.arange(terms) + 1).reshape((-1,) + (1,) * x.ndim)
    a = np.pi * np.abs(y - 0.5)
    b = np.pi * 0.5
    ratio = np.exp(m * (a - b)) * (1.0 + np.exp(-2.0 * m * a)) / (1.0 + np.exp(-2.0 * m * b))
    series = 4.0 / (np.pi**3 * m**3) * np.sin(m * np.pi * x) * ratio
    return x * (1.0 - x) / 2.0 - series.sum(axis=0)


@wp.func
def exact_solution(x: wp.vec2d, problem: int) -> wp.float64:
    """Exact (or reference) solution of the selected problem at ``x``."""
    if problem == SINE:
        return sine_solution(x)
    return constant_source_solution(x, CONSTANT_SERIES_TERMS)


@wp.func
def source_term(x: wp.vec2d, problem: int) -> wp.float64:
    """Right-hand side f of the selected problem at ``x``."""
    if problem == SINE:
        pi = wp.float64(wp.pi)
        return wp.float64(2.0) * pi * pi * sine_solution(x)
    return wp.float64(1.0)


@wp.func
def as_vec2d(x: Any) -> wp.vec2d:
    """Convert a 2D position of any scalar type to double precision."""
    return wp.vec2d(wp.float64(x[0]), wp.float64(x[1]))


@fem.integrand
def diffusion_form(s: fem.Sample, u: fem.Field, v: fem.Field):
    """Diffusion bilinear form ∫ ∇u·∇v."""
    return wp.dot(fem.grad(u, s), fem.grad(v, s))


@fem.integrand
def source_form(s: fem.Sample, domain: fem.Domain, v: fem.Field, problem: int):
    """Source linear form ∫ f·v."""
    f = source_term(as_vec2d(fem.position(domain, s)), problem)
    return fem.scalar_type(v)(f) * v(s)


@fem.integrand
def boundary_projector_form(s: fem.Sample, u: fem.Field, v: fem.Field):
    """Dirichlet projector form u·v on the boundary sides."""
    return u(s) * v(s)


@fem.integrand
def boundary_value_form(s: fem.Sample, domain: fem.Domain, v: fem.Field, problem: int):
    """Dirichlet value form g·v on the boundary sides, with g the exact solution's trace."""
    g = exact_solution(as_vec2d(fem.position(domain, s)), problem)
    return fem.scalar_type(v)(g) * v(s)


@fem.integrand
def squared_error_form(s: fem.Sample, domain: fem.Domain, u: fem.Field, problem: int):
    """Squared pointwise error (u_h - u)² against the exact solution."""
    diff = wp.float64(u(s)) - exact_solution(as_vec2d(fem.position(domain, s)), problem)
    return fem.scalar_type(u)(diff * diff)


class Example:
    """Poisson problem ``-Δu = f`` on ``[0, 1]²`` with Dirichlet boundary conditions.

    Args:
        quiet: Do not log solver progress.
        degree: Polynomial degree of the Lagrange shape functions.
        resolution: Number of grid cells along each axis.
        problem: ``"sine"`` (manufactured solution) or ``"constant"`` (``f = 1``).
        fp64: Assemble and solve in double precision (single precision otherwise).
        tol: Relative residual tolerance of the Conjugate Gradient solve.
    """

    def __init__(
        self,
        quiet: bool = False,
        degree: int = 2,
        resolution: int = 16,
        problem: str = "sine",
        fp64: bool = True,
        tol: float = 1.0e-12,
    ) -> None:
        if problem not in PROBLEMS:
            raise ValueError(f"unknown problem {problem!r}, expected one of {PROBLEMS}")
        self._quiet = quiet
        self._degree = degree
        self._problem = PROBLEMS.index(problem)
        self._tol = tol if fp64 else max(tol, 1.0e-6)

        self._geo = fem.Grid2D(res=wp.vec2i(resolution), scalar_type=wp.float64 if fp64 else wp.float32)
        self._domain = fem.Cells(geometry=self._geo)
        self._scalar_space = fem.make_polynomial_space(self._geo, degree=degree)
        self._scalar_field = self._scalar_space.make_field()

        self.iterations = 0
        """Conjugate Gradient iterations of the last :meth:`step`."""
        self.residual = math.inf
        """Final residual norm of the last :meth:`step`."""

    @property
    def field(self) -> fem.DiscreteField:
        """The discrete solution ``u_h``."""
        return self._scalar_field

    @property
    def has_exact_solution(self) -> bool:
        """Whether an exact or reference solution is available (true for both built-in problems)."""
        return self._problem in (SINE, CONSTANT)

    def _quadrature(self) -> fem.RegularQuadrature:
        """Quadrature exact enough for smooth data and for the squared error of degree-``p`` fields."""
        return fem.RegularQuadrature(domain=self._domain, order=2 * self._degree + 2)

    def step(self) -> None:
        """Assemble the linear system, enforce the boundary conditions and solve it."""
        test = fem.make_test(space=self._scalar_space, domain=self._domain)
        trial = fem.make_trial(space=self._scalar_space, domain=self._domain)

        rhs = fem.integrate(
            source_form,
            quadrature=self._quadrature(),
            fields={"v": test},
            values={"problem": self._problem},
        )
        matrix = fem.integrate(diffusion_form, fields={"u": trial, "v": test})

        # Nodal integration on the boundary, so that each boundary node is constrained independently
        boundary = fem.BoundarySides(self._geo)
        bd_test = fem.make_test(space=self._scalar_space, domain=boundary)
        bd_trial = fem.make_trial(space=self._scalar_space, domain=boundary)
        bd_matrix = fem.integrate(boundary_projector_form, fields={"u": bd_trial, "v": bd_test}, assembly="nodal")
        bd_rhs = fem.integrate(
            boundary_value_form, fields={"v": bd_test}, values={"problem": self._problem}, assembly="nodal"
        )

        fem.project_linear_system(matrix, rhs, bd_matrix, bd_rhs)

        x = wp.zeros_like(rhs)
        callback = None
        if not self._quiet:

            def callback(i: int, err: float, tol: float) -> None:
                logger.info("cg: iteration %d residual %g (tolerance %g)", i, err, tol)

        # run=True with host-side checks (check_every > 0): the iteration count, residual and tolerance as numbers
        solved = cg(
            A=matrix,
            b=rhs,
            x=x,
            tol=self._tol,
            maxiter=10 * rhs.shape[0],
            M=preconditioner(matrix, "diag"),
            callback=callback,
            check_every=10,
            use_cuda_graph=False,
        )
        iterations, residual, atol = cast(tuple[int, float, float], solved)
        self.iterations = int(iterations)
        self.residual = float(residual)
        if self.residual > atol:
            logger.warning("cg stopped after %d iterations with residual %g > %g", iterations, residual, atol)
        else:
            logger.debug("cg converged after %d iterations, residual %g", iterations, residual)

        self._scalar_field.dof_values = x

    def l2_error(self) -> float | None:
        """L2 norm of ``u_h - u`` against the exact (or reference) solution, or None when there is none."""
        if not self.has_exact_solution:
            return None
        squared = fem.integrate(
            squared_error_form,
            quadrature=self._quadrature(),
            fields={"u": self._scalar_field},
            values={"problem": self._problem},
            output_dtype=wp.float64,
        )
        return math.sqrt(max(float(squared), 0.0))


def observed_orders(resolutions: Sequence[int], errors: Sequence[float]) -> list[float]:
    """Convergence orders ``log(e_i / e_{i+1}) / log(h_i / h_{i+1})`` between consecutive resolutions."""
    return [
        math.log(errors[i] / errors[i + 1]) / math.log(resolutions[i + 1] / resolutions[i])
        for i in range(len(errors) - 1)
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point: ``python -m fem_examples.poisson``."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--device", type=str, default=None, help="Override the default Warp device.")
    parser.add_argument("--resolution", type=int, default=16, help="Grid resolution (cells per axis).")
    parser.add_argument("--degree", type=int, default=2, help="Polynomial degree of shape functions.")
    parser.add_argument("--problem", choices=PROBLEMS, default="sine", help="Problem to solve.")
    parser.add_argument("--fp32", action="store_true", help="Assemble and solve in single precision.")
    parser.add_argument("--quiet", action="store_true", help="Suppress solver progress logging.")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(name)s: %(message)s")
    if args.quiet:
        wp.config.log_level = logging.WARNING  # no start-up banner or module-load lines from Warp

    with wp.ScopedDevice(args.device):
        example = Example(
            quiet=args.quiet,
            degree=args.degree,
            resolution=args.resolution,
            problem=args.problem,
            fp64=not args.fp32,
        )
        example.step()
        error = example.l2_error()

    print(f"problem={args.problem} resolution={args.resolution} degree={args.degree} "
          f"cg_iterations={example.iterations}")
    if error is not None:
        print(f"L2 error: {error:.6e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
