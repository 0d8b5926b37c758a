"""Writing lines: the :class:`Emitter` and :func:`declare`, shared by statements and resource idioms."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from generator.programs.synth.scope import Context
from generator.programs.synth.types import info, scalar_literal

_BARE_LITERAL = re.compile(r"-?\d[\d.e+-]*|True|False")


@dataclass(slots=True)
class Emitter:
    """Lines of Python being written, with the current indentation."""

    lines: list[str] = field(default_factory=list)
    indent: int = 0

    def line(self, text: str) -> None:
        """Append one line at the current indentation."""
        self.lines.append("    " * self.indent + text)


def declare(ctx: Context, em: Emitter, type_name: str, rhs: str, name: str | None = None) -> str:
    """``name = rhs`` for a fresh local (through a constructor when ``rhs`` is a bare literal)."""
    if _BARE_LITERAL.fullmatch(rhs):
        rhs = scalar_literal(ctx.rng, type_name, bare=False, value=rhs)
    if name is None:
        t = info(type_name)
        kind = "scalar" if not t.shape else "vector" if t.kind in ("vec", "quat", "spatial_vector") else "local"
        name = ctx.names.name("local" if ctx.rng.random() < 0.6 or kind == "scalar" else kind)
    em.line(f"{name} = {rhs}")
    ctx.declare(name, type_name)
    return name
