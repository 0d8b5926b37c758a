"""Operations the flow synthesizer writes, by the kind of value they give, each with the name its result gets.

Operands of a binary operation are never the same expression; partial domains are guarded the way people guard
them (``wp.sqrt(wp.abs(x))``, ``a / (wp.abs(b) + EPSILON)``, ``wp.clamp(x, -1.0, 1.0)`` before ``wp.acos``);
an operand longer than :data:`MAX_OPERAND` characters is kept in a named temporary.
"""

from __future__ import annotations

from collections.abc import Callable

from generator.programs.flow.body import Body, wrap

MAX_OPERAND = 34


def _operand(body: Body, kind: str, depth: int, hint: str, avoid: str = "") -> str:
    text = body.value(kind, depth, hint) if depth > 0 else body.leaf(kind, avoid)
    if body.same(text, avoid):
        text = body.leaf(kind, avoid)
        if body.same(text, avoid):
            text = body.literal(kind)
    if len(text) > MAX_OPERAND or text.count("(") > 1:
        return body.assign(hint or "term", kind, text)
    return text


def _bin(body: Body, kind: str, depth: int, hint: str, op: str) -> str:
    """``a <op> b`` of two different operands, parenthesised where needed."""
    a, b = _pair(body, kind, depth, hint)
    return f"{wrap(a)} {op} {wrap(b)}"


def _mixed(body: Body, first: str, second: str, depth: int, hint: str, op: str) -> str:
    """``a <op> b`` of operands of two kinds."""
    return f"{wrap(_operand(body, first, depth - 1, hint))} {op} {wrap(_operand(body, second, depth - 1, hint))}"


def _pair(body: Body, kind: str, depth: int, hint: str) -> tuple[str, str]:
    a = _operand(body, kind, depth - 1, hint)
    b = _operand(body, kind, depth - 1, hint, avoid=a)
    if body.same(a, b):  # two draws can write the same expression (or a local and the input it copies)
        b = _operand(body, kind, 0, hint, avoid=a)
    return a, b


def _eps(body: Body) -> str:
    named = [c for c in body.constants.get("f", []) if "EPS" in c]
    return named[0] if named else body.typing.lit(1e-6)


def _ratio(body: Body, depth: int, hint: str) -> str:
    a, b = _pair(body, "f", depth, hint)
    return f"{wrap(a)} / (wp.abs({b}) + {_eps(body)})"


def _cast_f(body: Body, text: str) -> str:
    p = body.typing.precision
    return {"f32": f"float({text})", "f64": f"wp.float64({text})", "any": f"type({body.typing.anchor})({text})"}[p]


_Op = Callable[[Body, int, str], str]


def _f_ops(body: Body) -> list[tuple[float, str, _Op]]:
    lit = body.typing.lit
    ops: list[tuple[float, str, _Op]] = [
        (3, "total", lambda b, d, h: _bin(b, "f", d, h, "+")),
        (3, "delta", lambda b, d, h: _bin(b, "f", d, h, "-")),
        (4, "product", lambda b, d, h: _bin(b, "f", d, h, "*")),
        (2, "ratio", lambda b, d, h: _ratio(b, d, h)),
        (0.5, "magnitude", lambda b, d, h: f"wp.sqrt(wp.abs({_operand(b, 'f', d - 1, h)}))"),
        (0.5, "dist", lambda b, d, h: f"wp.length({_operand(b, 'v', d - 1, h)})"),
        (0.5, "proj", lambda b, d, h: "wp.dot({}, {})".format(*_pair(b, "v", d, h))),
        (0.25, "decay", lambda b, d, h: f"wp.exp(-wp.abs({_operand(b, 'f', d - 1, h)}))"),
        (0.25, "phase", lambda b, d, h: f"wp.{b.rng.choice(('sin', 'cos'))}({_operand(b, 'f', d - 1, h)})"),
        (0.25, "response", lambda b, d, h: f"wp.tanh({_operand(b, 'f', d - 1, h)})"),
        (1, "upper", lambda b, d, h: "wp.max({}, {})".format(*_pair(b, "f", d, h))),
        (1, "lower", lambda b, d, h: "wp.min({}, {})".format(*_pair(b, "f", d, h))),
        (2, "clamped", lambda b, d, h: f"wp.clamp({_operand(b, 'f', d - 1, h)}, {lit(-1.0)}, {lit(1.0)})"),
        (1, "blend", lambda b, d, h: "wp.lerp({}, {}, {})".format(*_pair(b, "f", d, h),
                                                                  lit(b.rng.choice((0.25, 0.5))))),
        (0.25, "angle", lambda b, d, h: "wp.atan2({}, {})".format(*_pair(b, "f", d, h))),
        (0.25, "log_term", lambda b, d, h: f"wp.log({lit(1.0)} + wp.abs({_operand(b, 'f', d - 1, h)}))"),
        (0.5, "chosen", lambda b, d, h: "wp.where({}, {}, {})".format(_operand(b, "b", d - 1, h),
                                                                      *_pair(b, "f", d, h))),
        (1, "weight", lambda b, d, h: f"{_cast_f(b, _operand(b, 'i', d - 1, h))} * {wrap(_operand(b, 'f', d - 1, h))}"),
    ]
    if not body.has("v"):
        ops = [op for op in ops if op[1] not in ("dist", "proj")]
    if not body.has("i"):
        ops = [op for op in ops if op[1] != "weight"]
    if body.locals("v"):
        ops.append((2, "component", lambda b, d, h: f"{b.use(b.rng.choice(b.locals('v')))}[{b.rng.randrange(3)}]"))
    if body.typing.precision != "any" and (body.locals("m") or body.sources.get("m")):
        ops.append((1, "trace", lambda b, d, h: f"wp.trace({_operand(b, 'm', d - 1, h)})"))
    for name, args, result in body.helpers:
        if result == "f":
            ops.append((3, name.split("_")[-1], _helper(name, args)))
    return ops


def _helper(name: str, args: tuple[str, ...]) -> _Op:
    def write(b: Body, d: int, h: str) -> str:
        operands: list[str] = []
        for kind in args:
            operands.append(_operand(b, kind, d - 1, h, avoid=operands[-1] if operands else ""))
        return f"{name}({', '.join(operands)})"
    return write


def _v_ops(body: Body) -> list[tuple[float, str, _Op]]:
    concrete = body.typing.precision != "any"
    ops: list[tuple[float, str, _Op]] = [
        (3, "sum_vec", lambda b, d, h: _bin(b, "v", d, h, "+")),
        (3, "offset", lambda b, d, h: _bin(b, "v", d, h, "-")),
        (4, "scaled", lambda b, d, h: _mixed(b, "v", "f", d, h, "*")),
        (0.5, "direction", lambda b, d, h: f"wp.normalize({_operand(b, 'v', d - 1, h)})"),
        (0.5, "axis", lambda b, d, h: "wp.cross({}, {})".format(*_pair(b, "v", d, h))),
    ]
    if not body.has("v"):  # vectors only from scalars
        ops = []
    if concrete:
        ops.append((1 if ops else 3, "vec", lambda b, d, h: "{}({}, {}, {})".format(
            b.typing.type_of("v"), *(_operand(b, "f", 0, h) for _ in range(3)))))
        if body.locals("m") or body.sources.get("m"):
            ops.append((2, "rotated", lambda b, d, h: _mixed(b, "m", "v", d, h, "@")))
        if body.locals("q") or body.sources.get("q"):
            ops.append((2, "rotated", lambda b, d, h: f"wp.quat_rotate({_operand(b, 'q', d - 1, h)}, "
                                                     f"{_operand(b, 'v', d - 1, h)})"))
    for name, args, result in body.helpers:
        if result == "v":
            ops.append((3, name.split("_")[-1], _helper(name, args)))
    return ops


def _i_ops(body: Body) -> list[tuple[float, str, _Op]]:
    if not body.has("i"):
        return [(1, "cell", lambda b, d, h: f"int({_operand(b, 'f', d - 1, h)} * {b.typing.lit(4.0)})")]
    return [
        (3, "count", lambda b, d, h: _bin(b, "i", d, h, "+")),
        (1, "bucket", lambda b, d, h: f"{wrap(_operand(b, 'i', d - 1, h))} % {b.rng.choice((2, 4, 8))}"),
        (1, "bits", lambda b, d, h: f"{wrap(_operand(b, 'i', d - 1, h))} & {b.rng.choice((1, 3, 7))}"),
        (1, "cell", lambda b, d, h: f"int({wrap(_operand(b, 'f', d - 1, h))} * {b.typing.lit(4.0)})"),
        (1, "upper_index", lambda b, d, h: "wp.max({}, {})".format(*_pair(b, "i", d, h))),
    ]


def _b_ops(body: Body) -> list[tuple[float, str, _Op]]:
    def compare(b: Body, d: int, h: str) -> str:
        x, y = _pair(b, "f", d, h)
        return f"{wrap(x)} {b.rng.choice(('<', '>', '<=', '>='))} {wrap(y)}"

    def threshold(b: Body, d: int, h: str) -> str:
        x = _operand(b, "f", d - 1, h)
        y = b.leaf("f", avoid=x) if b.rng.random() < 0.5 else _eps(b)
        return f"{wrap(x)} > {wrap(y if not b.same(x, y) else b.literal('f'))}"

    def flag(b: Body, d: int, h: str) -> str:
        return f"{_operand(b, 'i', 0, h)} {b.rng.choice(('!=', '=='))} 0"

    return [(3, "inside", compare), (3, "active", threshold), (2, "flagged", flag)]


def _m_ops(body: Body) -> list[tuple[float, str, _Op]]:
    return [
        (2, "outer", lambda b, d, h: "wp.outer({}, {})".format(*_pair(b, "v", d, h))),
        (1, "skew", lambda b, d, h: f"wp.skew({_operand(b, 'v', d - 1, h)})"),
        (1, "transposed", lambda b, d, h: f"wp.transpose({_operand(b, 'm', d - 1, h)})"),
        (1, "scaled_mat", lambda b, d, h: _mixed(b, "m", "f", d, h, "*")),
    ]


def _q_ops(body: Body) -> list[tuple[float, str, _Op]]:
    return [
        (2, "spin", lambda b, d, h: f"wp.quat_from_axis_angle(wp.normalize({_operand(b, 'v', 0, h)}), "
                                    f"{_operand(b, 'f', 0, h)})"),
        (1, "composed", lambda b, d, h: _bin(b, "q", d, h, "*")),
        (1, "inverse", lambda b, d, h: f"wp.quat_inverse({_operand(b, 'q', d - 1, h)})"),
    ]


_TABLES = {"f": _f_ops, "v": _v_ops, "i": _i_ops, "b": _b_ops, "m": _m_ops, "q": _q_ops}


def operation(body: Body, kind: str, depth: int, hint: str = "") -> str:
    """An operation giving ``kind`` (see the module docstring)."""
    ops = _TABLES[kind](body)
    weights = [w for w, _, _ in ops]
    _, name, write = body.rng.choices(ops, weights=weights)[0]
    return write(body, max(depth, 1), hint or name)


def fold(body: Body, kind: str, into: str) -> str:
    """``into`` (of ``kind``) combined with every local not read yet and every input not read yet."""
    lit = body.typing.lit
    for _ in range(8):
        pending = [(v.kind, body.use(v)) for v in body.unread()] + body.take_unread_inputs()
        if not pending:
            break
        for k, name in pending:
            if len(into) + len(name) > 56 and not into.isidentifier():
                into = body.assign({"f": "combined", "v": "combined_vec", "i": "combined_index"}.get(kind, "c"), kind,
                                   into)
            if k == kind:
                into = f"{into} + {name}" if kind != "b" else f"{into} and {name}"
            elif k == "b":
                into = (f"wp.where({name}, {into}, {wrap(into)} * {lit(0.5)})" if kind in "fv"
                        else f"{into} + wp.where({name}, 1, 0)")
            elif kind == "f":
                conv = {"v": f"wp.length({name})", "i": _cast_f(body, name), "m": f"wp.trace({name})",
                        "q": f"wp.length({name})"}[k]
                into = f"{into} + {conv}"
            elif kind == "v":
                conv = {"f": f"{wrap(into)} * {name}", "i": f"{wrap(into)} * {_cast_f(body, name)}",
                        "m": f"{name} @ {wrap(into)}", "q": f"wp.quat_rotate({name}, {into})"}[k]
                into = conv
            elif kind == "i":
                conv = {"f": f"int({name})", "v": f"int(wp.length({name}))", "m": f"int(wp.trace({name}))",
                        "q": f"int(wp.length({name}))"}[k]
                into = f"{into} + {conv}"
            else:
                raise ValueError(kind)
    return into
