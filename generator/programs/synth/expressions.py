"""Type-directed expressions: for a wanted type, a builtin call, an operator, a read or a literal.

Every expression is well typed by construction (argument types come from Warp's own overload
table) and domain-guarded where a builtin has a partial domain, so generated kernels run to
finite values: ``sqrt(|x| + c)``, ``acos(clamp(x, -1, 1))``, division by ``|b| + c``, integer
division by ``(b & 7) + 1``, shifts by ``b & 7``, ``normalize(v + c)``, ``randi`` between literal
bounds...
"""

from __future__ import annotations

from extraction.signatures import BuiltinSignature
from generator.programs.synth.registry import BINARY_OPERATORS, PYTHON_CASTS, UNARY_OPERATORS, registry
from generator.programs.synth.scope import ArrayArg, Context, Helper
from generator.programs.synth.types import SCALAR_TYPES, composite, info, literal, offset_literal, py, scalar_literal

_ATTRS = "xyzw"


def const(scalar: str, value: str) -> str:
    """A typed constant written the shortest way Warp accepts next to a value of ``scalar``."""
    return scalar_literal(None, scalar, bare=True, value=value)


def expr(ctx: Context, type_name: str, depth: int) -> str:
    """An expression of type ``type_name``, at most ``depth`` calls deep."""
    rng = ctx.rng
    if depth <= 0 or rng.random() < 0.15:
        return leaf(ctx, type_name)
    choices: list[tuple[float, str]] = [(5.0, "builtin"), (3.0, "operator"), (1.5, "leaf")]
    if any(h.return_type == type_name for h in ctx.helpers):
        choices.append((2.5, "helper"))
    if type_name == "bool":
        choices.append((4.0, "compare"))
    forms = special_forms(ctx, type_name)
    if forms:
        choices.append((1.0, "special"))
    kind = ctx.weighted(choices)
    if kind == "compare":
        return compare(ctx, depth)
    if kind == "special":
        return special(ctx, rng.choice(forms), type_name, depth)
    if kind == "helper":
        return helper_call(ctx, rng.choice([h for h in ctx.helpers if h.return_type == type_name]), depth)
    if kind in ("builtin", "operator"):
        sigs = registry().returning(type_name, ctx.allowed, operators=kind == "operator")
        if sigs:
            return call(ctx, _pick_signature(ctx, sigs), depth)
    return leaf(ctx, type_name)


# bit-preserving casts that always give a finite value: float bits read as an integer of the same width
_CASTS = {"int32": "float32", "uint32": "float32", "int64": "float64", "uint64": "float64", "vec3i": "vec3f"}


def special_forms(ctx: Context, type_name: str) -> list[str]:
    """Builtins of ``type_name`` the overload table cannot offer (see :func:`special`)."""
    t = info(type_name)
    forms = []
    if t.kind == "mat" and t.shape[0] == t.shape[1]:
        forms += ["matrix_from_cols", "matrix_from_rows"]
    if type_name == "int32":
        if any(info(v.type).kind in ("vec", "mat", "quat", "transform") for v in ctx.variables()):
            forms.append("len")
        if ctx.arrays:
            forms.append("len_array")
        if any(a.dtype == "float32" and a.ndim == 1 for a in ctx.arrays):
            forms.append("sample_cdf")
    if _CASTS.get(type_name) in ctx.allowed:
        forms.append("cast")
    if type_name == "bool":
        forms.append("bool")
    if t.is_float and type_name != "float16":
        forms.append("bfloat16")
    return forms


def special(ctx: Context, form: str, type_name: str, depth: int) -> str:
    """A call of a builtin outside the overload table: variadic constructors, casts, ``len``...

    ``matrix_from_cols``/``rows`` take a variable number of vectors; ``wp.cast`` reinterprets
    float bits as an integer of the same width (never the other way: integer bits may spell NaN);
    ``bfloat16`` has no value type of its own here, so it is a round trip through ``wp.bfloat16``.
    """
    rng = ctx.rng
    t = info(type_name)
    ctx.used[form.removesuffix("_array")] += 1
    if form.startswith("matrix_from"):
        vec = composite("vec", t.scalar, t.shape[0])
        return f"wp.{form}({', '.join(expr(ctx, vec, depth - 1) for _ in range(t.shape[0]))})"
    if form == "len":
        composites = [v for v in ctx.variables() if info(v.type).kind in ("vec", "mat", "quat", "transform")]
        return f"len({rng.choice(composites).name})"
    if form == "len_array":
        return f"len({rng.choice(ctx.arrays).name})"
    if form == "sample_cdf":
        cdf = rng.choice([a for a in ctx.arrays if a.dtype == "float32" and a.ndim == 1])
        return f"wp.sample_cdf(wp.rand_init({expr(ctx, 'int32', depth - 1)}), {cdf.name})"
    if form == "cast":
        return f"wp.cast({expr(ctx, _CASTS[type_name], depth - 1)}, {py(type_name)})"
    if form == "bool":
        return f"wp.bool({expr(ctx, rng.choice((ctx.float_type, 'int32')), depth - 1)})"
    return f"{py(type_name)}(wp.bfloat16({expr(ctx, type_name, depth - 1)}))"


def helper_call(ctx: Context, helper: Helper, depth: int) -> str:
    """A call of one of the program's ``@wp.func`` helpers."""
    ctx.helper_calls[helper.name] += 1
    return f"{helper.name}({', '.join(expr(ctx, t, depth - 1) for t in helper.arg_types)})"


def leaf(ctx: Context, type_name: str) -> str:
    """A variable, array element, component or literal of ``type_name`` (no call unless a literal needs one)."""
    rng = ctx.rng
    options: list[tuple[float, str]] = [(1.0, "literal")]
    if ctx.variables(type_name):
        options.append((6.0, "var"))
    if any(a.dtype == type_name for a in ctx.arrays):
        options.append((3.0, "array"))
    if _components(ctx, type_name):
        options.append((2.0, "component"))
    kind = ctx.weighted(options)
    if kind == "var":
        return rng.choice(ctx.variables(type_name)).name
    if kind == "array":
        return array_read(ctx, rng.choice([a for a in ctx.arrays if a.dtype == type_name]))
    if kind == "component":
        return rng.choice(_components(ctx, type_name))
    return literal(rng, type_name)


def _components(ctx: Context, type_name: str) -> list[str]:
    """Component reads of composite variables that have type ``type_name``."""
    rng = ctx.rng
    out = []
    want = info(type_name)
    for var in ctx.variables():
        t = info(var.type)
        if not t.shape:
            continue
        if want.is_scalar and t.scalar == type_name:
            if len(t.shape) == 2:
                out.append(f"{var.name}[{rng.randrange(t.shape[0])}, {rng.randrange(t.shape[1])}]")
            elif t.kind == "vec" and rng.random() < 0.5:
                out.append(f"{var.name}.{_ATTRS[rng.randrange(t.shape[0])]}")
            else:
                out.append(f"{var.name}[{rng.randrange(t.shape[0])}]")
        elif want.kind == "vec" and t.kind == "mat" and t.scalar == want.scalar and t.shape[1] == want.shape[0]:
            out.append(f"{var.name}[{rng.randrange(t.shape[0])}]")
    return out


def array_index(ctx: Context, array: ArrayArg) -> str:
    """An in-bounds index: the thread indices, padded with zeros (see ``extraction.inputs``)."""
    idx = [ctx.tids[a] if a < len(ctx.tids) else "0" for a in range(array.ndim)]
    if array.ndim == 1 and len(ctx.tids) == 1 and ctx.rng.random() < 0.2:
        idx = [f"wp.min({ctx.tids[0]} + 1, {array.name}.shape[0] - 1)"]
    return ", ".join(idx)


def array_read(ctx: Context, array: ArrayArg) -> str:
    """``arr[i, j]``."""
    return f"{array.name}[{array_index(ctx, array)}]"


def compare(ctx: Context, depth: int) -> str:
    """A boolean: a comparison of two scalars, ``isfinite``, or ``and``/``or``/``not`` of those."""
    rng = ctx.rng
    r = rng.random()
    if r < 0.12 and depth > 1:
        op = rng.choice(("and", "or"))
        return f"({compare(ctx, depth - 1)} {op} {compare(ctx, depth - 1)})"
    if r < 0.18:
        return f"(not {compare(ctx, depth - 1)})"
    scalar = rng.choice((ctx.float_type, ctx.float_type, "int32"))
    op = rng.choice(("<", "<=", ">", ">=", "==", "!=") if scalar == "int32" else ("<", "<=", ">", ">="))
    left = expr(ctx, scalar, depth - 1)
    right = expr(ctx, scalar, depth - 1)
    for _ in range(3):  # neither the same operand twice nor two constants (a condition always true or false)
        if right != left and not (_constant(left) and _constant(right)):
            break
        right = leaf(ctx, scalar) if rng.random() < 0.5 else expr(ctx, scalar, depth - 1)
    return f"({left} {op} {right})"


def _constant(text: str) -> bool:
    """Whether an expression is a literal (``1.5``, ``wp.float64(2.0)``, ``True``)."""
    return text in ("True", "False") or text.replace(".", "", 1).replace("-", "", 1).isdigit() or (
        text.startswith("wp.") and text.endswith(")") and text[text.index("(") + 1:-1].replace(".", "", 1)
        .replace("-", "", 1).isdigit())


# argument positions :func:`guard` always replaces by literals
_FIXED_ARGS = {
    "smoothstep": (0, 1), "quat_from_euler": (1, 2, 3), "quat_to_euler": (1, 2, 3), "pnoise": (2, 3, 4, 5),
    "randi": (1, 2), "randu": (1, 2), "curlnoise": (2,),
}


def call(ctx: Context, sig: BuiltinSignature, depth: int) -> str:
    """A call of ``sig`` (an operator where it is one) on fresh sub-expressions, with domain guards."""
    rng = ctx.rng
    n = len(sig.arg_types)
    if sig.optional and rng.random() < 0.5:
        n -= sig.optional
    fixed = _FIXED_ARGS.get(sig.name, ())
    # arguments the guard replaces by literals get no expression (its calls would be dropped)
    args: list[str] = []
    for k, t in enumerate(sig.arg_types[:n]):
        arg = "0" if k in fixed else expr(ctx, t, depth - 1)
        for _ in range(3):  # never the same operand twice (``x - x``, ``wp.min(x, x)``)
            if arg not in args or k in fixed:
                break
            arg = expr(ctx, t, depth - 1)
        args.append(arg)
    args = guard(ctx, sig, args)
    if sig.name in SCALAR_TYPES or sig.name in PYTHON_CASTS:
        # a bare ``True`` reaches the generated C++ as ``True`` through a scalar cast: cast ``bool(True)``
        args = [f"bool({a})" if a in ("True", "False") else a for a in args]
    ctx.used[sig.name] += 1
    if sig.name in BINARY_OPERATORS and rng.random() < 0.85:
        a, b = info(sig.arg_types[0]), info(sig.arg_types[1])
        matmul = sig.name == "mul" and a.kind in ("mat", "spatial_matrix") and bool(b.shape)
        op = "@" if matmul else BINARY_OPERATORS[sig.name]
        return f"({args[0]} {op} {args[1]})"
    if sig.name in UNARY_OPERATORS and rng.random() < 0.85:
        return f"({UNARY_OPERATORS[sig.name]}{args[0]})"
    prefix = "" if sig.name in PYTHON_CASTS else "wp."
    if sig.dtype_param:
        args.append(f"dtype={py(info(sig.return_types[0]).scalar)}")
    return f"{prefix}{sig.name}({', '.join(args)})"


def guard(ctx: Context, sig: BuiltinSignature, args: list[str]) -> list[str]:
    """Rewrite the arguments of a builtin with a partial domain so the call stays finite and defined."""
    name, types = sig.name, sig.arg_types
    out = list(args)
    t0 = info(types[0])

    def pos(k: int) -> None:
        if info(types[k]).is_float:
            out[k] = f"(wp.abs({out[k]}) + {const(types[k], '0.5')})"

    def clamp(k: int, lo: str, hi: str) -> None:
        if info(types[k]).is_float:
            out[k] = f"wp.clamp({out[k]}, {const(types[k], lo)}, {const(types[k], hi)})"

    if name in ("sqrt", "log", "log2", "log10", "poisson"):
        pos(len(out) - 1)
    elif name in ("acos", "asin"):
        clamp(0, "-1.0", "1.0")
    elif name == "erfinv":
        clamp(0, "-0.9", "0.9")
    elif name == "erfcinv":
        clamp(0, "0.1", "1.9")
    elif name in ("exp", "sinh", "cosh"):
        clamp(0, "-8.0", "8.0")
    elif name == "tan":
        clamp(0, "-1.4", "1.4")
    elif name == "pow":
        pos(0)
        clamp(1, "-2.0", "2.0")
    elif name in ("div", "div_approx", "mod", "floordiv") and len(out) > 1:
        t1 = info(types[1])
        if t1.is_float:
            out[1] = f"(wp.abs({out[1]}) + {const(types[1], '0.25')})"
        elif t1.kind == "int":
            out[1] = f"(({out[1]} & {const(types[1], '7')}) + {const(types[1], '1')})"
    elif name in ("lshift", "rshift"):
        out[1] = f"({out[1]} & {const(types[1], '7')})"
    elif name == "cw_div":
        out[1] = f"(wp.abs({out[1]}) + {offset_literal(types[1])})"
    elif name == "normalize":
        out[0] = f"({out[0]} + {offset_literal(types[0])})"
    elif name == "smoothstep":
        out[0], out[1] = const(types[0], "0.0"), const(types[1], "1.0")
    elif name in ("quat_from_euler", "quat_to_euler"):
        out[1:4] = [str(k) for k in ctx.rng.sample((0, 1, 2), 3)]
    elif name in ("randi", "randu") and len(out) == 3:
        # ``low + rand % (high - low)``: equal bounds divide by zero (SIGFPE on CPU)
        lo = ctx.rng.randint(0, 4)
        out[1], out[2] = const(types[1], str(lo)), const(types[2], str(lo + ctx.rng.randint(2, 12)))
    elif name == "pnoise":
        out[2:] = [str(ctx.rng.randint(2, 8)) for _ in out[2:]]
    elif name == "curlnoise" and len(out) > 2:
        # octaves is a loop count: a computed uint32 can be 4,294,967,294 (a kernel that runs for hours)
        out[2] = const(types[2], str(ctx.rng.randint(1, 4)))
    elif name in ("smooth_normalize", "norm_huber", "norm_pseudo_huber", "closest_point_edge_edge") and len(out) > 1:
        pos(len(out) - 1)
    elif name == "quat_slerp":
        clamp(2, "0.0", "1.0")
    elif name == "inverse" or name == "inverse_approx":
        n = t0.shape[0]
        out[0] = f"({out[0]} + wp.identity(n={n}, dtype={py(t0.scalar)}) * {const(t0.scalar, '4.0')})"
    return out


def _pick_signature(ctx: Context, sigs: list[BuiltinSignature]) -> BuiltinSignature:
    """A builtin name uniformly (so rare builtins are not drowned by overloads), then one of its overloads."""
    names = sorted({s.name for s in sigs})
    name = ctx.rng.choice(names)
    return ctx.rng.choice([s for s in sigs if s.name == name])
