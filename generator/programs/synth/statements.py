"""Statements: declarations, assignments, component writes, branches, bounded loops, atomics.

Warp rules kept by construction: a variable keeps one type for its life; a variable declared in
a block is forgotten when the block ends; a numeric variable declared from a bare literal is
declared through its constructor (``wp.float32(0.5)``), since Warp cannot mutate a constant inside
a dynamic loop; every loop is bounded (``range`` of a literal or of ``wp.min(n, 8)``, ``while`` on
a counter incremented first), so ``continue`` never skips the increment.
"""

from __future__ import annotations

from generator.programs.synth import resources, tiles
from generator.programs.synth.emit import Emitter, declare
from generator.programs.synth.expressions import array_index, call, compare, const, expr
from generator.programs.synth.registry import registry
from generator.programs.synth.scope import ArrayArg, Context, Var
from generator.programs.synth.types import composite, info, py

_LOOP_VARS = ("k", "m", "step", "it", "p", "q", "n")
_COMMENTS = (
    "accumulate contributions", "clamp to a safe range", "local update", "relax the estimate",
    "blend neighbouring values", "integrate one step", "apply the correction", "gather terms",
)


def local_type(ctx: Context) -> str:
    """A type for a new local variable, weighted toward what physics kernels use."""
    f = ctx.float_type
    weights = [
        (f, 6.0), (composite("vec", f, 3), 3.0), ("int32", 2.0), (composite("mat", f, 3), 1.0),
        (composite("quat", f), 1.0), (composite("vec", f, 2), 0.5), (composite("vec", f, 4), 0.5),
        (composite("mat", f, 2), 0.4), (composite("mat", f, 4), 0.4), (composite("transform", f), 0.6),
        (composite("spatial_vector", f), 0.4), (composite("spatial_matrix", f), 0.15), ("bool", 0.4),
        ("uint32", 0.4), ("float32", 1.0 if f != "float32" else 0.0), ("vec3i", 0.2), ("int64", 0.1),
        ("uint8", 0.1), ("int16", 0.1), ("float16", 0.1),
    ]
    total = sum(w for _, w in weights)
    r = ctx.rng.random() * total
    for name, w in weights:
        r -= w
        if r <= 0:
            return name
    return f


def statement(ctx: Context, em: Emitter, complexity: int, in_kernel: bool) -> None:
    """One statement (compound ones recurse into :func:`block`)."""
    rng = ctx.rng
    depth = min(3, 1 + complexity // 2)
    options: list[tuple[float, str]] = [(4.0, "decl"), (3.5, "call"), (0.6, "multi")]
    if ctx.variables(mutable=True):
        options += [(2.0, "assign"), (1.5, "augassign"), (1.0, "component")]
    if ctx.depth < min(complexity, 3):
        options += [(1.5, "if"), (1.5, "for"), (0.5, "while")]
    if in_kernel and ctx.arrays:
        options += [(1.0, "atomic"), (1.0, "store")]
    if in_kernel and ctx.resources:
        options.append((1.5, "resource"))
    if in_kernel and ctx.tiles and tiles.usable(ctx):
        options.append((2.5, "tile"))
    if in_kernel and ctx.depth == 0 and ctx.loop_depth == 0:
        options.append((0.25, "return"))
    if ctx.loop_depth:
        options.append((0.4, "break"))
    if any(info(v.type).kind == "transform" for v in ctx.variables(mutable=True)):
        options.append((0.6, "transform_set"))
    options.append((0.3, "fixed_array"))
    if not ctx.loop_depth:  # a tuple assigned in a loop body fails Warp's loop-carried type check
        options.append((0.4, "tuple"))
    kind = ctx.weighted(options)

    if kind == "decl":
        t = local_type(ctx)
        declare(ctx, em, t, expr(ctx, t, depth))
    elif kind == "call":
        _call_statement(ctx, em, depth)
    elif kind == "multi":
        sigs = [s for s in registry().multi if all(a in ctx.allowed for a in s.arg_types + s.return_types)]
        if not sigs:
            return _call_statement(ctx, em, depth)
        sig = rng.choice(sigs)
        names = [ctx.names.name("local") for _ in sig.return_types]
        em.line(f"{', '.join(names)} = {call(ctx, sig, depth)}")
        for n, t in zip(names, sig.return_types, strict=True):
            ctx.declare(n, t)
    elif kind == "assign":
        var = rng.choice(ctx.variables(mutable=True))
        em.line(f"{var.name} = {expr(ctx, var.type, depth)}")
    elif kind == "augassign":
        _augassign(ctx, em, depth)
    elif kind == "component":
        _component_write(ctx, em, depth)
    elif kind == "if":
        _if(ctx, em, complexity, in_kernel, depth)
    elif kind == "for":
        _for(ctx, em, complexity, in_kernel)
    elif kind == "while":
        _while(ctx, em, complexity, in_kernel)
    elif kind == "atomic":
        atomic(ctx, em, rng.choice(ctx.arrays), depth)
    elif kind == "store":
        array = rng.choice([a for a in ctx.arrays if a.dtype != "bool"] or ctx.arrays)
        em.line(f"{array.name}[{array_index(ctx, array)}] = {expr(ctx, array.dtype, depth)}")
    elif kind == "return":
        em.line(f"if {compare(ctx, 1)}:")
        em.indent += 1
        em.line("return")
        em.indent -= 1
    elif kind == "resource":
        nest = ctx.depth < min(complexity, 3)
        resources.statement(ctx, em, rng.choice(ctx.resources), depth,
                            (lambda loop_vars: _loop_body(ctx, em, complexity, in_kernel, loop_vars)) if nest else None)
    elif kind == "tile":
        tiles.statement(ctx, em, depth)
    elif kind == "transform_set":
        _transform_set(ctx, em, depth)
    elif kind == "fixed_array":
        _fixed_array(ctx, em, depth)
    elif kind == "tuple":
        _tuple(ctx, em, depth)
    elif kind == "break":
        em.line(f"if {compare(ctx, 1)}:")
        em.indent += 1
        em.line(rng.choice(("break", "continue")))
        em.indent -= 1


def block(ctx: Context, em: Emitter, n: int, complexity: int, in_kernel: bool, max_lines: int) -> None:
    """Up to ``n`` statements in the current block (fewer once the program reaches ``max_lines``)."""
    for _ in range(n):
        if len(em.lines) >= max_lines:
            break
        statement(ctx, em, complexity, in_kernel)


def _body(ctx: Context, em: Emitter, complexity: int, in_kernel: bool, loop: bool = False) -> None:
    """An indented block of 1-3 statements, in a scope of its own."""
    ctx.push()
    ctx.loop_depth += loop
    em.indent += 1
    start = len(em.lines)
    block(ctx, em, ctx.rng.randint(1, 3), complexity, in_kernel, max_lines=10**9 if len(em.lines) < 120 else 0)
    if len(em.lines) == start:
        em.line("pass")
    em.indent -= 1
    ctx.loop_depth -= loop
    ctx.pop()


def _loop_body(ctx: Context, em: Emitter, complexity: int, in_kernel: bool, loop_vars: list[tuple[str, str]]) -> None:
    """The body of a loop whose header a caller wrote, with its loop variables in scope (read-only)."""
    ctx.push()
    for name, type_name in loop_vars:
        ctx.declare(name, type_name, mutable=False)
    _body(ctx, em, complexity, in_kernel, loop=True)
    ctx.pop()


def _comment(ctx: Context, em: Emitter) -> None:
    if ctx.rng.random() < 0.25:
        em.line(f"# {ctx.rng.choice(_COMMENTS)}")


def _if(ctx: Context, em: Emitter, complexity: int, in_kernel: bool, depth: int) -> None:
    _comment(ctx, em)
    em.line(f"if {compare(ctx, depth)}:")
    _body(ctx, em, complexity, in_kernel)
    if ctx.rng.random() < 0.3:
        em.line(f"elif {compare(ctx, depth)}:")
        _body(ctx, em, complexity, in_kernel)
    if ctx.rng.random() < 0.5:
        em.line("else:")
        _body(ctx, em, complexity, in_kernel)


def _loop_var(ctx: Context) -> str:
    return ctx.names.pick(_LOOP_VARS)


def _for(ctx: Context, em: Emitter, complexity: int, in_kernel: bool) -> None:
    rng = ctx.rng
    _comment(ctx, em)
    var = _loop_var(ctx)
    counts = [v for v in ctx.variables("int32") if not v.mutable and v.name not in ctx.tids]
    form = rng.choice(("const", "const", "strided", "static", "dynamic"))
    if form == "dynamic" and counts:
        bound = f"range(wp.min({rng.choice(counts).name}, {rng.randint(2, 8)}))"
    elif form == "strided":
        bound = f"range({rng.randint(0, 2)}, {rng.randint(4, 12)}, {rng.randint(2, 3)})"
    elif form == "static":
        bound = f"range(wp.static({rng.randint(2, 4)}))"
    else:
        bound = f"range({rng.randint(2, 6)})"
    em.line(f"for {var} in {bound}:")
    ctx.push()
    ctx.declare(var, "int32", mutable=False)
    _body(ctx, em, complexity, in_kernel, loop=True)
    ctx.pop()


def _while(ctx: Context, em: Emitter, complexity: int, in_kernel: bool) -> None:
    var = _loop_var(ctx)
    em.line(f"{var} = int(0)")
    em.line(f"while {var} < {ctx.rng.randint(2, 6)}:")
    em.indent += 1
    em.line(f"{var} += 1")
    em.indent -= 1
    ctx.push()
    ctx.declare(var, "int32", mutable=False)
    _body(ctx, em, complexity, in_kernel, loop=True)
    ctx.pop()


def _call_statement(ctx: Context, em: Emitter, depth: int) -> None:
    """Declare the result of a builtin drawn by name among all the program may call (breadth first)."""
    names, by_name = _callable(ctx.allowed)
    name = ctx.rng.choice(names)
    sig = ctx.rng.choice(by_name[name])
    declare(ctx, em, sig.return_types[0], call(ctx, sig, depth))


_CALLABLE: dict[tuple[str, ...], tuple[list[str], dict[str, list]]] = {}


def _callable(allowed: tuple[str, ...]) -> tuple[list[str], dict[str, list]]:
    """Names of the builtins callable with ``allowed`` types (sorted), and each one's signatures (in order)."""
    found = _CALLABLE.get(allowed)
    if found is None:
        by_name: dict[str, list] = {}
        for t in allowed:
            for sig in registry().returning(t, allowed, operators=False):
                by_name.setdefault(sig.name, []).append(sig)
        found = (sorted(by_name), by_name)
        _CALLABLE[allowed] = found
    return found


def _mutable_of_kind(ctx: Context, kinds: tuple[str, ...]) -> Var | None:
    """A mutable variable whose type is of one of ``kinds`` (drawn with the program's rng), or ``None``."""
    targets = [v for v in ctx.variables(mutable=True) if info(v.type).kind in kinds]
    return ctx.rng.choice(targets) if targets else None


def _augassign(ctx: Context, em: Emitter, depth: int) -> None:
    rng = ctx.rng
    var = _mutable_of_kind(ctx, ("float", "int", "vec", "mat"))
    if var is None:
        return
    t = info(var.type)
    if t.kind == "float" or (t.kind == "vec" and t.scalar.startswith("float")):
        op = rng.choice(("+=", "-=", "*="))
    else:
        op = rng.choice(("+=", "-="))
    rhs_type = t.scalar if op == "*=" else var.type
    em.line(f"{var.name} {op} {expr(ctx, rhs_type, depth)}")


def _component_write(ctx: Context, em: Emitter, depth: int) -> None:
    rng = ctx.rng
    var = _mutable_of_kind(ctx, ("vec", "mat", "quat", "spatial_vector"))
    if var is None:
        return
    t = info(var.type)
    if len(t.shape) == 2:
        target = f"{var.name}[{rng.randrange(t.shape[0])}, {rng.randrange(t.shape[1])}]"
    elif t.kind == "vec" and t.shape[0] <= 4 and rng.random() < 0.4:
        target = f"{var.name}.{'xyzw'[rng.randrange(t.shape[0])]}"
    else:
        target = f"{var.name}[{rng.randrange(t.shape[0])}]"
    em.line(f"{target} = {expr(ctx, t.scalar, depth)}")


def _transform_set(ctx: Context, em: Emitter, depth: int) -> None:
    """``wp.transform_set_rotation(t, q)`` / ``wp.transform_set_translation(t, p)``: in-place updates.

    (Their ``_copy`` forms never resolve a return type in Warp 1.19: they do not compile.)
    """
    var = ctx.rng.choice([v for v in ctx.variables(mutable=True) if info(v.type).kind == "transform"])
    scalar = info(var.type).scalar
    if ctx.rng.random() < 0.5:
        ctx.used["transform_set_rotation"] += 1
        em.line(f"wp.transform_set_rotation({var.name}, {expr(ctx, composite('quat', scalar), depth)})")
    else:
        ctx.used["transform_set_translation"] += 1
        em.line(f"wp.transform_set_translation({var.name}, {expr(ctx, composite('vec', scalar, 3), depth)})")


def _fixed_array(ctx: Context, em: Emitter, depth: int) -> None:
    """A zero-initialised local array (``wp.zeros(shape=n, dtype=T)``), a few writes, then a read."""
    rng = ctx.rng
    f = ctx.float_type
    dtype = rng.choice((f, f, composite("vec", f, 3), "int32"))
    n = rng.randint(2, 6)
    name = ctx.names.pick(("buf", "scratch", "stack", "samples", "history"))
    ctx.used["zeros"] += 1
    em.line(f"{name} = wp.zeros(shape={n}, dtype={py(dtype) if dtype != 'int32' else 'int'})")
    for k in sorted(rng.sample(range(n), rng.randint(1, n))):
        em.line(f"{name}[{k}] = {expr(ctx, dtype, depth)}")
    terms = [f"{name}[{k}]" for k in sorted(rng.sample(range(n), rng.randint(1, min(n, 3))))]
    declare(ctx, em, dtype, " + ".join(terms))


def _tuple(ctx: Context, em: Emitter, depth: int) -> None:
    """A tuple of two or three values, then one of its items read back."""
    rng = ctx.rng
    f = ctx.float_type
    types = [rng.choice((f, "int32", composite("vec", f, 3))) for _ in range(rng.randint(2, 3))]
    name = ctx.names.pick(("pair", "packed", "result", "values"))
    ctx.used["tuple"] += 1
    em.line(f"{name} = ({', '.join(expr(ctx, t, depth) for t in types)})")
    k = rng.randrange(len(types))
    declare(ctx, em, types[k], f"{name}[{k}]")


def atomic(ctx: Context, em: Emitter, array: ArrayArg, depth: int) -> None:
    """An atomic update of ``array`` at this thread's element (sometimes keeping the old value)."""
    rng = ctx.rng
    t = info(array.dtype)
    if t.kind == "int":
        op = rng.choice(("add", "sub", "min", "max", "and", "or", "xor", "exch", "cas"))
    elif t.kind == "float":
        op = rng.choice(("add", "add", "sub", "min", "max"))
    elif t.kind == "vec":
        op = rng.choice(("add", "sub"))
    else:
        em.line(f"{array.name}[{array_index(ctx, array)}] = {expr(ctx, array.dtype, depth)}")
        return
    args = [array.name, array_index(ctx, array)]
    if op == "cas":
        args.append(const(array.dtype, "0"))
    args.append(expr(ctx, array.dtype, depth))
    ctx.used[f"atomic_{op}"] += 1
    text = f"wp.atomic_{op}({', '.join(args)})"
    if rng.random() < 0.3:
        declare(ctx, em, array.dtype, text)
    else:
        em.line(text)
