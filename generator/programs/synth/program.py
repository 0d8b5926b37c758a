"""Whole programs: ``@wp.func`` helpers (some with a ``@wp.func_grad``) and exactly one kernel."""

from __future__ import annotations

import random
from typing import Any

from extraction.inputs import LAUNCH_SHAPES
from generator.programs.rng import TemplateRng
from generator.programs.synth.expressions import array_index, expr, helper_call
from generator.programs.synth.resources import arg_decl, make_resources
from generator.programs.synth.resources import statement as resource_statement
from generator.programs.synth.scope import ArrayArg, Context, Helper
from generator.programs.synth.statements import Emitter, block, declare
from generator.programs.synth.tiles import statement as tile_statement
from generator.programs.synth.types import FLOAT_TYPES, INT_TYPES, composite, info, py

_HELPER_NAMES = (
    "smooth_term", "blend_value", "kernel_weight", "spring_force", "falloff", "penalty", "soft_clamp",
    "response", "shape_fn", "contact_term", "attenuate", "restoring_force",
)
_COUNT_PARAMS = ("count", "num_iters", "n_steps", "substeps")
_TIDS = ("i", "j", "k", "l")
# top-level kernel statements by complexity (inclusive ranges); helpers per program
_STATEMENTS = {1: (2, 4), 2: (4, 7), 3: (7, 11), 4: (10, 16)}
_HELPERS = {1: (0, 0), 2: (0, 1), 3: (1, 2), 4: (1, 3)}
MAX_LINES = 135  # statements stop here; the closing lines keep programs under 150
# The run validator gives an array of another rank than the launch (max launch side)**ndim elements:
# a 4-d array beside a 1-d launch of 64 threads would be 64**4 = 16.7M elements (GBs once the gradient
# check copies it), so ranks are kept to at most this many elements.
MAX_ARRAY_ELEMENTS = 1 << 18


def array_ranks(launch_dim: int) -> list[int]:
    """Ranks an input array may have beside a ``launch_dim``-dimensional launch (bounded validator memory)."""
    side = max(LAUNCH_SHAPES[launch_dim])
    return [n for n in (1, 2, 3, 4) if n in (1, launch_dim) or side**n <= MAX_ARRAY_ELEMENTS]


def allowed_types(float_type: str) -> tuple[str, ...]:
    """Every type a program over ``float_type`` may use (ordered: draws are deterministic)."""
    f = float_type
    comps = [composite("vec", f, n) for n in (2, 3, 4)] + [composite("mat", f, n) for n in (2, 3, 4)]
    comps += [composite(k, f) for k in ("quat", "transform", "spatial_vector", "spatial_matrix")]
    extra = ["float32", "vec2f", "vec3f", "vec4f"] if f != "float32" else []
    return ("bool", *INT_TYPES, *FLOAT_TYPES, *comps, *extra, "vec2i", "vec3i", "vec4i")


def _array_decl(ctx: Context, array: ArrayArg) -> str:
    dtype = py(array.dtype)
    if array.ndim == 1:
        return f"{array.name}: wp.array(dtype={dtype})"
    if ctx.rng.random() < 0.5:
        return f"{array.name}: wp.array{array.ndim}d(dtype={dtype})"
    return f"{array.name}: wp.array(dtype={dtype}, ndim={array.ndim})"


def _array_name(ctx: Context, dtype: str) -> str:
    t = info(dtype)
    kind = "scalar" if not t.shape else "matrix" if len(t.shape) == 2 else "vector"
    return ctx.names.name(kind)


def _helper(ctx: Context, em: Emitter, complexity: int) -> Helper:
    """Write one ``@wp.func`` (calling only earlier helpers), sometimes with a custom gradient."""
    rng = ctx.rng
    f = ctx.float_type
    ret = rng.choice((f, f, composite("vec", f, 3), "int32" if rng.random() < 0.3 else f))
    arg_types = [rng.choice((f, f, composite("vec", f, 3), "int32", composite("quat", f), composite("mat", f, 3)))
                 for _ in range(rng.randint(1, 3))]
    name = ctx.names.pick(_HELPER_NAMES)
    params = [ctx.names.name("local") for _ in arg_types]
    ctx.frames = [[]]
    for p, t in zip(params, arg_types, strict=True):
        ctx.declare(p, t, mutable=False)
    em.line("@wp.func")
    em.line(f"def {name}({', '.join(f'{p}: {py(t)}' for p, t in zip(params, arg_types, strict=True))}) -> {py(ret)}:")
    em.indent += 1
    block(ctx, em, rng.randint(1, complexity), complexity, in_kernel=False, max_lines=MAX_LINES - 40)
    em.line(f"return {expr(ctx, ret, 2)}")
    em.indent -= 1
    em.line("")
    floats = all(info(t).is_float or (info(t).kind == "vec" and info(t).scalar == f) for t in arg_types)
    if ret == f and floats and rng.random() < 0.5:
        ctx.used["func_grad"] += 1
        em.line(f"@wp.func_grad({name})")
        sig = ", ".join(f"{p}: {py(t)}" for p, t in zip(params, arg_types, strict=True))
        em.line(f"def adj_{name}({sig}, adj_ret: {py(ret)}):")
        em.indent += 1
        for p, t in zip(params, arg_types, strict=True):
            if info(t).is_float:
                em.line(f"wp.adjoint[{p}] += adj_ret * {rng.choice(('wp.cos', 'wp.tanh', 'wp.sign'))}({p})")
            else:
                em.line(f"wp.adjoint[{p}] += {p} * adj_ret")
        em.indent -= 1
        em.line("")
    em.line("")
    helper = Helper(name, tuple(arg_types), ret)
    ctx.helpers.append(helper)
    return helper


def synthesize(rng: random.Random, complexity: int) -> tuple[str, dict[str, Any]]:
    """Write one well-typed Warp program drawn from ``rng``.

    Args:
        rng: The program's random stream; the same seed gives the same bytes.
        complexity: 1 (a few statements) to 4 (helpers, nested control flow, up to ~150 lines).

    Returns:
        The program source (``import warp as wp``, helpers, exactly one ``@wp.kernel``) and a
        JSON-able dict of what shaped it.
    """
    complexity = max(1, min(4, int(complexity)))
    float_type = "float64" if rng.random() < 0.25 else "float32"
    ctx = Context(rng=rng, names=TemplateRng(rng), allowed=allowed_types(float_type), float_type=float_type)
    em = Emitter()
    em.line("import warp as wp")
    em.line("")
    em.line("")
    for _ in range(rng.randint(*_HELPERS[complexity])):
        _helper(ctx, em, complexity)

    launch_dim = rng.randint(1, min(complexity, 4))
    f = float_type
    array_types = [f, f, f, composite("vec", f, 3), composite("vec", f, 3), "int32", composite("mat", f, 3),
                   composite("quat", f), composite("vec", f, 2), composite("transform", f)]
    out = ArrayArg("", rng.choice([f, f, composite("vec", f, 3), "int32"]), launch_dim)
    out = ArrayArg(_array_name(ctx, out.dtype), out.dtype, launch_dim)
    inputs = []
    for _ in range(rng.randint(1, 1 + complexity // 2)):
        dtype = rng.choice(array_types)
        ndim = rng.choice(array_ranks(launch_dim)) if rng.random() < 0.4 else launch_dim
        inputs.append(ArrayArg(_array_name(ctx, dtype), dtype, ndim))
    scalars = [(ctx.names.name("param"), f) for _ in range(rng.randint(0, 2))]
    if complexity >= 2 and rng.random() < 0.6:
        scalars.append((ctx.names.pick(_COUNT_PARAMS), "int32"))

    ctx.resources = make_resources(ctx, complexity)
    ctx.tiles = rng.random() < 0.25
    ctx.frames = [[]]
    ctx.arrays = [*inputs, out]
    tids = [ctx.names.pick((t,)) for t in _TIDS[:launch_dim]]
    ctx.tids = tids
    for name, t in scalars:
        ctx.declare(name, t, mutable=False)
    args = ([arg_decl(r) for r in ctx.resources] + [_array_decl(ctx, a) for a in inputs]
            + [f"{n}: {py(t) if t != 'int32' else 'int'}" for n, t in scalars])
    args.append(_array_decl(ctx, out))
    kernel_name = ctx.names.kernel_name()
    em.line("@wp.kernel")
    em.line(f"def {kernel_name}({', '.join(args)}):")
    em.indent += 1
    em.line(f"{', '.join(tids)} = wp.tid()")
    for tid in tids:
        ctx.declare(tid, "int32", mutable=False)
    lo, hi = _STATEMENTS[complexity]
    block(ctx, em, rng.randint(lo, hi), complexity, in_kernel=True, max_lines=MAX_LINES)
    for res in ctx.resources:  # every resource is queried (the run validator builds it from its query)
        if not ctx.resource_uses[res.name]:
            resource_statement(ctx, em, res, 2, None)
    if ctx.tiles and not any(name.startswith("tile") for name in ctx.used):
        tile_statement(ctx, em, 2)
    for helper in reversed(ctx.helpers):  # every helper is called (latest first: it may call the others)
        if not ctx.helper_calls[helper.name]:
            declare(ctx, em, helper.return_type, helper_call(ctx, helper, 2))
    em.line(f"{out.name}[{array_index(ctx, out)}] = {expr(ctx, out.dtype, 2)}")
    em.indent -= 1

    source = "\n".join(em.lines).rstrip("\n") + "\n"
    params = {
        "complexity": complexity,
        "float_type": float_type,
        "launch_dim": launch_dim,
        "arrays": [[a.dtype, a.ndim] for a in ctx.arrays],
        "scalars": [t for _, t in scalars],
        "resources": [[r.kind, r.value] for r in ctx.resources],
        "tiles": ctx.tiles,
        "helpers": len(ctx.helpers),
        "custom_grads": ctx.used.get("func_grad", 0),
        "builtins": sorted(k for k in ctx.used if k != "func_grad"),
        "lines": source.count("\n"),
    }
    return source, params
