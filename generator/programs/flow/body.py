"""A kernel body written from its outputs backwards: every local is created because something reads it.

:class:`Body` holds the lines, the locals in scope and the ones not yet read. :meth:`Body.value` writes an
expression of a wanted kind: it reads a local nobody has read yet when there is one, else an array element, else
an operation of the kind on fresh operands (never the same operand twice), breaking anything deeper than two calls
into a named temporary. Temporaries are only ever made inside :meth:`Body.value`, so each one is read by the
expression that asked for it: no dead locals, by construction.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from generator.programs.flow.vocab import LITERALS

KINDS = ("f", "v", "i", "b", "m", "q")
# a name or an array element (``forces[i]``, ``x[i, j + 1]``, ``model.mass[i]``)
_COPY_RE = re.compile(r"[\w.]+(\[[\w., +\-]*\])?")


@dataclass(slots=True)
class Typing:
    """How a program spells its kinds: ``float32``, ``float64``, or generic (``Any`` with overloads)."""

    precision: str  # "f32", "f64" or "any"
    plain: bool = True  # float32 programs: ``float`` / ``wp.vec3`` rather than ``wp.float32`` / ``wp.vec3f``
    anchor: str = ""  # generic programs: a scalar local whose type casts literals (``type(m)(0.5)``)

    def scalar(self) -> str:
        """The float scalar type's spelling."""
        return {"f32": "float" if self.plain else "wp.float32", "f64": "wp.float64", "any": "Any"}[self.precision]

    def type_of(self, kind: str) -> str:
        """The spelling of ``kind`` (generic programs: ``Any`` for float kinds)."""
        if kind == "i":
            return "int" if self.plain else "wp.int32"
        if kind == "b":
            return "wp.bool"
        if self.precision == "any":
            return "Any"
        suffix = {"f32": "" if self.plain else "f", "f64": "d"}[self.precision]
        return {"f": self.scalar(), "v": f"wp.vec3{suffix}", "m": f"wp.mat33{suffix}",
                "q": f"wp.quat{suffix}"}[kind]

    def lit(self, value: float) -> str:
        """A float literal of the program's scalar type."""
        text = repr(float(value)).replace("e-0", "e-")
        if self.precision == "f64":
            return f"wp.float64({text})"
        if self.precision == "any":
            return f"type({self.anchor})({text})"
        return text

    def zero(self, kind: str) -> str:
        """A zero of ``kind`` that Warp treats as a variable (it may change in a dynamic loop)."""
        if kind == "i":
            return "int(0)"
        if kind == "f":
            return {"f32": "float(0.0)", "f64": "wp.float64(0.0)", "any": f"type({self.anchor})(0.0)"}[self.precision]
        if kind == "v" and self.precision != "any":
            return f"{self.type_of('v')}()"
        raise ValueError(kind)


def wrap(text: str) -> str:
    """``text`` in parentheses where an operator in it would bind looser than the one it is an operand of."""
    depth = 0
    for k, c in enumerate(text):
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif depth == 0 and (c == " " or (c == "-" and k == 0)):
            return f"({text})"
    return text


@dataclass(slots=True)
class Local:
    """A local in scope."""

    name: str
    kind: str
    read: bool = False


@dataclass(slots=True)
class Body:
    """The lines of one function and the locals in its scopes."""

    rng: random.Random
    typing: Typing
    complexity: int = 2
    # the operation writers of ``flow.ops`` (which builds on Body), handed in so the two modules import one way
    operate: Callable[[Body, str, int, str], str] | None = None
    folder: Callable[[Body, str, str], str] | None = None
    indent: int = 1
    lines: list[str] = field(default_factory=list)
    scopes: list[list[Local]] = field(default_factory=lambda: [[]])
    taken: set[str] = field(default_factory=set)
    # array reads a value may use: kind -> callables returning an element expression (e.g. ``mass[i]``)
    sources: dict[str, list[Callable[[], str]]] = field(default_factory=dict)
    constants: dict[str, list[str]] = field(default_factory=dict)  # kind -> named constants in scope
    helpers: list[tuple[str, tuple[str, ...], str]] = field(default_factory=list)  # name, arg kinds, result kind
    # inputs (array elements, scalar arguments, module constants) nothing has read yet: kind -> texts
    inputs_unread: dict[str, list[str]] = field(default_factory=dict)
    # locals that hold a copy of an input (``h = curvature[i]``): name -> that input's text
    aliases: dict[str, str] = field(default_factory=dict)

    # -- lines and scopes -------------------------------------------------------------------------------------
    def line(self, text: str) -> None:
        """Write one line at the current indentation."""
        self.lines.append("    " * self.indent + text)

    def open(self, header: str) -> None:
        """Write ``header`` (``if ...:``, ``for ...:``) and enter its block."""
        self.line(header)
        self.indent += 1
        self.scopes.append([])

    def close(self) -> None:
        """Leave the current block; its locals go out of scope (each was read: see the module docstring)."""
        self.indent -= 1
        self.scopes.pop()

    def name(self, hint: str) -> str:
        """A local name from ``hint`` that no other local, argument or constant has."""
        name, n = hint, 2
        while name in self.taken:
            name, n = f"{hint}_{n}", n + 1
        self.taken.add(name)
        return name

    def locals(self, kind: str | None = None) -> list[Local]:
        """Locals in scope (of ``kind``)."""
        return [v for scope in self.scopes for v in scope if kind is None or v.kind == kind]

    def declare(self, name: str, kind: str, read: bool = False) -> Local:
        """Put ``name`` in scope (an argument, a loop index, a local written by the caller)."""
        self.taken.add(name)
        local = Local(name, kind, read)
        self.scopes[-1].append(local)
        return local

    def assign(self, hint: str, kind: str, expression: str) -> str:
        """Write ``name = expression`` for a new local and return its name (the caller reads it)."""
        name = self.name(hint)
        self.bind(name, kind, expression, read=True)
        return name

    def bind(self, name: str, kind: str, expression: str, read: bool = False) -> Local:
        """Write ``name = expression`` and put ``name`` in scope; a copy of a local or an array element is noted
        as the same value (:meth:`same`)."""
        self.line(f"{name} = {expression}")
        local = self.declare(name, kind, read)
        if _COPY_RE.fullmatch(expression):
            self.aliases[name] = self.aliases.get(expression, expression)
        return local

    def mark_read(self, text: str) -> str:
        """Note that ``text`` (an input) is read; return it."""
        for texts in self.inputs_unread.values():
            if text in texts:
                texts.remove(text)
        return text

    def take_unread_inputs(self) -> list[tuple[str, str]]:
        """Every input not read yet, as ``(kind, text)``; they count as read from now on."""
        out = [(k, t) for k, texts in sorted(self.inputs_unread.items()) for t in texts]
        self.inputs_unread.clear()
        return out

    def same(self, a: str, b: str) -> bool:
        """Whether ``a`` and ``b`` are one value: the same text, or a local and the input it copies (so that
        ``h > curvature[i]`` after ``h = curvature[i]`` is never written)."""
        return bool(a) and bool(b) and self.aliases.get(a, a) == self.aliases.get(b, b)

    def has(self, kind: str) -> bool:
        """Whether a value of ``kind`` can be read (a local, an array element or a constant)."""
        return bool(self.locals(kind) or self.sources.get(kind) or self.constants.get(kind))

    def unread(self, kind: str | None = None) -> list[Local]:
        """Locals written and not read yet (of ``kind``)."""
        return [v for v in self.locals(kind) if not v.read]

    # -- values ----------------------------------------------------------------------------------------------
    def use(self, local: Local) -> str:
        """Read ``local``."""
        local.read = True
        return self.mark_read(local.name)

    def leaf(self, kind: str, avoid: str = "") -> str:
        """A local, an array element or a constant of ``kind`` (not ``avoid``)."""
        rng = self.rng
        if kind == "b" and not self.locals("b"):  # a literal condition would be constant
            return self._operation("b", 1)
        pending = [v for v in self.unread(kind) if not self.same(v.name, avoid)]
        if pending:
            return self.use(rng.choice(pending))
        options: list[str] = []
        locals_ = [v for v in self.locals(kind) if not self.same(v.name, avoid)]
        if locals_:
            options += ["local"] * 3
        if self.sources.get(kind):
            options += ["source"] * 2
        if self.constants.get(kind) and rng.random() < 0.5:
            options.append("constant")
        choice = rng.choice(options) if options else "literal"
        if choice == "local":
            return self.use(rng.choice(locals_))
        if choice == "source":
            text = rng.choice(self.sources[kind])()
            return self.mark_read(text) if not self.same(text, avoid) else self.literal(kind)
        if choice == "constant":
            return self.mark_read(rng.choice([c for c in self.constants[kind] if c != avoid] or [self.literal(kind)]))
        return self.literal(kind)

    def literal(self, kind: str) -> str:
        """A round literal of ``kind``."""
        rng = self.rng
        if kind == "f":
            return self.typing.lit(rng.choice(LITERALS))
        if kind == "i":
            return str(rng.choice((1, 2, 3, 4, 8)))
        if kind == "b":
            return "True"
        if kind == "v":
            if self.typing.precision == "any":
                return f"{self.value('v', 0)} * {self.typing.lit(rng.choice(LITERALS))}"
            comps = [rng.choice((0.0, 0.0, 1.0, -1.0, 0.5)) for _ in range(3)]
            if not any(comps):
                comps[rng.randrange(3)] = 1.0
            return f"{self.typing.type_of('v')}({', '.join(self.typing.lit(c) for c in comps)})"
        if kind == "q":
            return f"wp.quat_identity(dtype={self.typing.scalar() if self.typing.precision == 'f64' else 'float'})"
        if kind == "m":
            t = "wp.float64" if self.typing.precision == "f64" else "float"
            return f"wp.identity(n=3, dtype={t})"
        raise ValueError(kind)

    def value(self, kind: str, depth: int = 2, hint: str = "") -> str:
        """An expression of ``kind`` at most ``depth`` calls deep; deeper work goes into named temporaries."""
        pending = self.unread(kind)
        if pending and self.rng.random() < 0.8:
            return self.use(self.rng.choice(pending))
        if depth <= 0 or self.rng.random() < 0.3:
            return self.leaf(kind)
        return self._operation(kind, depth, hint)

    def zero(self, kind: str) -> str:
        """A zero of ``kind`` that may change in a dynamic loop (a generic vector: ``type(v)()``)."""
        if kind == "v" and self.typing.precision == "any":
            return f"type({self.leaf('v')})()"
        return self.typing.zero(kind)

    def temp(self, kind: str, hint: str, depth: int = 2) -> str:
        """A new local holding an operation of ``kind`` (read once by the caller)."""
        expression = self._operation(kind, depth, hint)
        if expression.isidentifier():
            return expression
        return self.assign(hint or {"f": "s", "v": "vec", "i": "n", "b": "ok", "m": "mat", "q": "rot"}[kind], kind,
                           expression)

    def drain(self, kind: str, into: str) -> str:
        """``into`` combined with every unread local (so none is left unread); other kinds reach ``kind`` first."""
        if self.folder is None:
            raise RuntimeError("Body.folder is not set")
        return self.folder(self, kind, into)

    def _operation(self, kind: str, depth: int, hint: str = "") -> str:
        if self.operate is None:
            raise RuntimeError("Body.operate is not set")
        return self.operate(self, kind, depth, hint)
