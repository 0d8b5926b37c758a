"""Run a kernel on CPU and check its gradient against central finite differences.

``run``: the kernel launches on generated inputs, finishes, writes only finite values,
and two launches on the same inputs agree (otherwise it is marked nondeterministic,
as atomics into one slot may be).

The kernel is also launched on the other input sets of :data:`extraction.inputs.INPUT_SCALES`, and marked weak
(:mod:`extraction.weak`) when it writes nothing, only zeros, or the same for every set.

``grad``: arrays the launch changes are outputs, float arrays it leaves alone are
inputs. With random weights ``W`` on the outputs, ``L(x) = sum(W * out(x))``; the
backward pass recorded by ``wp.Tape`` gives ``dL/dx``, and along random unit
directions ``v`` it must match ``(L(x + h v) - L(x - h v)) / 2h``. Tolerances: with
float64 everywhere, ``h = 1e-6`` and a relative tolerance of ``1e-4`` (round-off
~1e-16/h, truncation ~h^2); with float32, ``h = 1e-2`` and ``2e-2`` (round-off
~6e-8/h ≈ 1e-5 per output, summed over a few hundred outputs, truncation ~h^2 = 1e-4).
float16 kernels are not gradient-checked (their round-off exceeds any useful tolerance).
A kernel whose code branches, clamps, rounds or uses min/max/abs may be checked across a
kink: a mismatch there is recorded as "not differentiable everywhere", not a failure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import warp as wp
import warp.types as wt

from extraction.inputs import INPUT_SCALES, InputError, LaunchInputs, is_float_dtype, make_inputs, scalar_of
from extraction.weak import describe, weak_reasons

_NON_SMOOTH = re.compile(
    r"\bif \(|wp::(where|select|min|max|abs|sign|step|floor|ceil|round|rint|trunc|frac|clamp|mod|"
    r"atomic_min|atomic_max|atomic_cas|atomic_exch|smoothstep|int\w*|uint\w*|bit_\w+|noise|pnoise|"
    r"curlnoise|rand\w*|sample_\w+|mesh_query\w*|bvh_query\w*|hash_grid\w*|volume_\w+|tile_sort|tile_arg\w+|"
    r"tile_max|tile_min|tile_scan_max\w*|tile_scan_min\w*)\("
)


@dataclass(slots=True)
class RunResult:
    """Outcome of the run and gradient checks of one kernel."""

    ran: bool | None = None
    deterministic: bool | None = None
    differentiable: bool | None = None  # None: not examined; False: marked not differentiable, with a note
    grad_ok: bool | None = None
    grad_max_rel_error: float | None = None
    note: str = ""
    weak: str | None = None  # :func:`extraction.weak.describe` of the run on every input set ("" none; None not run)


def _launch(kernel, inputs: LaunchInputs, args: list, tiled: int | None) -> None:
    if tiled:
        wp.launch_tiled(kernel, dim=inputs.shape, inputs=args, block_dim=int(tiled), device="cpu")
    else:
        wp.launch(kernel, dim=inputs.shape, inputs=args, device="cpu")


def _snapshot(args: list) -> list[np.ndarray | None]:
    return [a.numpy().copy() if isinstance(a, (wp.array, wp.indexedarray)) and not wt.type_is_struct(a.dtype)
            else None for a in args]


def _floaty(arr) -> bool:
    return isinstance(arr, wp.array) and is_float_dtype(arr.dtype)


def check_run(kernel, inputs: LaunchInputs, tiled: int | None) -> tuple[RunResult, list[int]]:
    """Launch twice on fresh copies of the same inputs; return the result and the indices of output arrays."""
    before = _snapshot(inputs.build())  # the inputs as stored (converted to the arrays' dtypes)
    results = []
    for _ in range(2):
        args = inputs.build()
        _launch(kernel, inputs, args, tiled)
        wp.synchronize_device("cpu")
        results.append(_snapshot(args))
    outputs = [i for i, (b, a) in enumerate(zip(before, results[0]))
               if a is not None and b is not None and b.shape == a.shape and not np.array_equal(b, a)]
    first = results[0]
    finite = all(np.all(np.isfinite(a.astype(float))) for i in outputs
                 if (a := first[i]) is not None and a.dtype.kind == "f")  # an output is never None
    if not finite:
        return RunResult(ran=False, note="run: non-finite output"), outputs
    same = all(y is not None and np.array_equal(x, y, equal_nan=True)
               for x, y in zip(results[0], results[1]) if x is not None)
    note = "" if same else "nondeterministic: two launches on the same inputs differ"
    if not outputs:
        note = (note + "; " if note else "") + "run: the kernel wrote nothing"
    return RunResult(ran=True, deterministic=same, note=note), outputs


def _written(kernel, inputs: LaunchInputs, tiled: int | None) -> list[np.ndarray]:
    """The arrays one launch on ``inputs`` changes, after it (in argument order)."""
    args = inputs.build()
    before = _snapshot(args)
    _launch(kernel, inputs, args, tiled)
    wp.synchronize_device("cpu")
    return [a for b, a in zip(before, _snapshot(args))
            if a is not None and b is not None and (b.shape != a.shape or not np.array_equal(b, a, equal_nan=True))]


def check_weak(kernel, source: str, launch_dim: int | None, tiled: int | None, seed: int = 0) -> str:
    """Why the kernel is a weak problem on the input sets of :data:`extraction.inputs.INPUT_SCALES` (``""``: it
    is not; :mod:`extraction.weak`)."""
    sets = [_written(kernel, make_inputs(kernel, source, launch_dim, seed + 1000 * k, scale), tiled)
            for k, scale in enumerate(INPUT_SCALES)]
    return describe(weak_reasons(sets))


def check_grad(kernel, inputs: LaunchInputs, outputs: list[int], tiled: int | None, code: str,
               seed: int = 0) -> RunResult:
    """Compare the tape's gradient with central differences along random directions."""
    rng = np.random.default_rng(seed + 1)
    probe = inputs.build()
    out_idx = [i for i in outputs if _floaty(probe[i])]
    in_idx = [i for i, a in enumerate(probe) if _floaty(a) and i not in outputs]
    if not out_idx or not in_idx:
        return RunResult(differentiable=False, note="grad: no float input array or no float output array")
    dtypes = {scalar_of(probe[i].dtype) for i in out_idx + in_idx}
    if wp.float16 in dtypes:
        return RunResult(differentiable=False, note="grad: float16 is not gradient-checked")
    f64 = dtypes == {wp.float64}
    h, tol = (1e-6, 1e-4) if f64 else (1e-2, 2e-2)
    weights = {i: rng.standard_normal(probe[i].numpy().shape) for i in out_idx}

    def loss(values: list) -> float:
        args = LaunchInputs(inputs.names, inputs.types, values, inputs.shape, inputs.keep_alive).build()
        _launch(kernel, inputs, args, tiled)
        return float(sum(np.sum(weights[i] * args[i].numpy().astype(np.float64)) for i in out_idx))

    args = inputs.build(requires_grad=True)
    tape = wp.Tape()
    with tape:
        _launch(kernel, inputs, args, tiled)
    tape.backward(grads={args[i]: wp.array(weights[i], dtype=args[i].dtype, device="cpu") for i in out_idx})
    grads = {i: args[i].grad.numpy().astype(np.float64) for i in in_idx}
    worst = 0.0
    for _ in range(3):
        dirs = {i: rng.standard_normal(grads[i].shape) for i in in_idx}
        norm = np.sqrt(sum(np.sum(d * d) for d in dirs.values()))
        dirs = {i: d / norm for i, d in dirs.items()}
        plus, minus = list(inputs.values), list(inputs.values)
        for i in in_idx:
            base = np.asarray(inputs.values[i], dtype=np.float64)
            plus[i], minus[i] = base + h * dirs[i], base - h * dirs[i]
        fd = (loss(plus) - loss(minus)) / (2 * h)
        analytic = float(sum(np.sum(grads[i] * dirs[i]) for i in in_idx))
        scale = max(abs(fd), abs(analytic), 1e-3)
        worst = max(worst, abs(fd - analytic) / scale)
    if worst <= tol:
        return RunResult(differentiable=True, grad_ok=True, grad_max_rel_error=worst)
    why = _not_differentiable_because(code, [inputs.names[i] for i in out_idx])
    if why:
        return RunResult(differentiable=False, grad_max_rel_error=worst,
                         note=f"grad: not differentiable: {why}; rel. error {worst:.2g}")
    return RunResult(differentiable=True, grad_ok=False, grad_max_rel_error=worst,
                     note=f"grad: rel. error {worst:.3g} > {tol:g}")


def _not_differentiable_because(code: str, outputs: list[str]) -> str:
    """Why Warp's own rules make a kernel's gradient undefined somewhere ("" when they do not).

    Non-smooth operations (branches, min/max, rounding, ...); component writes ``v[i] = x``
    compiled as ``assign_inplace``, which Warp documents as non-differentiable unless the
    ``enable_vector_component_overwrites`` option is set; and arrays read then overwritten in
    place, which ``wp.Tape`` does not support.
    """
    if _NON_SMOOTH.search(code):
        return "gradient undefined at branches/min/max/rounding"
    if "wp::assign_inplace(" in code:
        return "in-place component assignment (assign_inplace) is not differentiable in Warp"
    overwritten = [name for name in outputs if _reads(code, name)]
    if overwritten:
        return f"array '{overwritten[0]}' is read and overwritten in place, which wp.Tape does not support"
    return ""


def _reads(code: str, name: str) -> bool:
    """Whether the generated forward code loads from array ``name`` (``wp::address(var_name, ...)``)."""
    return re.search(rf"wp::address\(var_{re.escape(name)},", code) is not None


def validate_kernel(kernel, source: str, launch_dim: int | None, level: str, hints: dict, code: str,
                    seed: int = 0) -> RunResult:
    """Run (and, at ``grad``, gradient-check) one loaded kernel on CPU.

    Args:
        kernel: The loaded Warp kernel.
        source: Its program source (to match geometry ids to their queries).
        launch_dim: Dimensionality of its launch.
        level: ``run`` or ``grad``.
        hints: The template's ``run:`` hints (``tiled``, ``nondeterministic``).
        code: Its generated forward code (to tell smooth kernels from the rest).
        seed: Input seed.
    """
    tiled = hints.get("tiled")
    try:
        inputs = make_inputs(kernel, source, launch_dim, seed)
        result, outputs = check_run(kernel, inputs, tiled)
    except InputError as exc:
        return RunResult(ran=None, note=f"run: skipped, {exc}")
    except Exception as exc:  # Warp's own failure to launch is the result
        return RunResult(ran=False, note=f"run: {type(exc).__name__}: {str(exc).splitlines()[0][:150]}")
    if result.ran:
        try:
            result.weak = check_weak(kernel, source, launch_dim, tiled, seed)
        except Exception as exc:  # another input set the kernel cannot take: not weak for that, but noted
            result.note = (result.note + "; " if result.note else "") + f"weak: not checked ({type(exc).__name__})"
    if level != "grad" or not result.ran:
        return result
    if not result.deterministic or hints.get("nondeterministic"):
        result.note = (result.note + "; " if result.note else "") + "grad: skipped (nondeterministic)"
        result.differentiable = False
        return result
    try:
        grad = check_grad(kernel, inputs, outputs, tiled, code, seed)
    except Exception as exc:
        grad = RunResult(note=f"grad: {type(exc).__name__}: {str(exc).splitlines()[0][:150]}")
    grad.ran, grad.deterministic, grad.weak = result.ran, result.deterministic, result.weak
    grad.note = "; ".join(n for n in (result.note, grad.note) if n)
    return grad
