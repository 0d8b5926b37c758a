"""``@wp.func`` helpers the flow synthesizer's programs call: small named computations, some returning tuples.

Each helper is written for the program's typing (``float``/``wp.float64``/generic ``Any``), with round literals.
"""

from __future__ import annotations

from dataclasses import dataclass

from generator.programs.flow.body import Typing


@dataclass(frozen=True, slots=True)
class Helper:
    """One helper: name, argument names and kinds, result kinds (two for a tuple), body lines (``{lit:x}`` marks)."""

    name: str
    args: tuple[tuple[str, str], ...]
    results: tuple[str, ...]
    lines: tuple[str, ...]
    doc: str
    result_names: tuple[str, ...] = ("value",)


HELPERS: tuple[Helper, ...] = (
    Helper("smoothing_weight", (("r", "f"), ("h", "f")), ("f",),
           ("q = wp.max(h - r, {lit:0.0})", "return q * q / (h * h * h + {lit:1e-06})"),
           "Compact-support weight of a neighbour at distance r.", ("weight",)),
    Helper("soft_clamp", (("x", "f"), ("limit", "f")), ("f",),
           ("return x / ({lit:1.0} + wp.abs(x) / (wp.abs(limit) + {lit:1e-06}))",),
           "Smoothly limits x to about +-limit.", ("limited",)),
    Helper("spring_force", (("xa", "v"), ("xb", "v"), ("rest", "f"), ("ke", "f")), ("v",),
           ("d = xb - xa", "length = wp.length(d)", "return wp.normalize(d) * (ke * (length - rest))"),
           "Hooke force on xa from a spring to xb.", ("spring",)),
    Helper("reflect", (("v", "v"), ("n", "v")), ("v",),
           ("return v - n * ({lit:2.0} * wp.dot(v, n))",),
           "Reflects v about the plane with normal n.", ("reflected",)),
    Helper("split_normal_tangent", (("v", "v"), ("n", "v")), ("v", "v"),
           ("vn = n * wp.dot(v, n)", "return vn, v - vn"),
           "Splits v into its parts along n and across it.", ("normal_part", "tangent_part")),
    Helper("length_and_direction", (("d", "v"),), ("f", "v"),
           ("length = wp.length(d)", "return length, d / (length + {lit:1e-06})"),
           "Length of d and the unit vector along it.", ("length", "direction")),
    Helper("leaky_relu", (("x", "f"), ("leak", "f")), ("f",),
           ("return wp.where(x > {lit:0.0}, x, x * leak)",),
           "Leaky rectifier.", ("activation",)),
    Helper("damp_toward", (("x", "f"), ("target", "f"), ("rate", "f")), ("f",),
           ("return x + (target - x) * rate",),
           "Moves x toward target by a fraction rate.", ("damped",)),
    Helper("ordered_pair", (("a", "f"), ("b", "f")), ("f", "f"),
           ("return wp.min(a, b), wp.max(a, b)",),
           "The smaller and the larger of a and b.", ("lo", "hi")),
    Helper("penalty", (("depth", "f"), ("stiffness", "f")), ("f",),
           ("overlap = wp.max(-depth, {lit:0.0})", "return stiffness * overlap * overlap"),
           "Quadratic penalty energy of a penetration depth.", ("penalty_energy",)),
)


def write_helper(helper: Helper, typing: Typing, docstring: bool) -> list[str]:
    """The helper's lines for ``typing`` (generic programs: ``Any`` arguments, literals cast to an argument's type)."""
    anchor = next((n for n, k in helper.args if k == "f"), "")
    generic = typing.precision == "any"
    local = Typing(typing.precision, typing.plain, anchor)
    if generic and not anchor:  # a vector-only generic helper: literals take the type of a component
        local.anchor = f"{helper.args[0][0]}[0]"
    args = ", ".join(f"{n}: {typing.type_of(k)}" for n, k in helper.args)
    if generic:
        returns = ""
    elif len(helper.results) > 1:
        returns = f" -> tuple[{', '.join(typing.type_of(k) for k in helper.results)}]"
    else:
        returns = f" -> {typing.type_of(helper.results[0])}"
    out = ["@wp.func", f"def {helper.name}({args}){returns}:"]
    if docstring:
        out.append(f'    """{helper.doc}"""')
    for line in helper.lines:
        text = line
        while "{lit:" in text:
            start = text.index("{lit:")
            end = text.index("}", start)
            text = text[:start] + local.lit(float(text[start + 5:end])) + text[end + 1:]
        out.append("    " + text)
    return out
