"""The value types the synthesizer writes, how they are spelled in Python, and their literals.

Type names are Warp's (``float32``, ``vec3f``, ``mat33d``, ``quatf``, ``transformf``,
``spatial_vectorf``...), the same names :func:`extraction.signatures.builtin_signatures` uses.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from functools import cache

INT_TYPES = ("int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64")
FLOAT_TYPES = ("float16", "float32", "float64")
SCALAR_TYPES = INT_TYPES + FLOAT_TYPES
SUFFIX = {"float16": "h", "float32": "f", "float64": "d", "int32": "i"}
_SCALAR_OF_SUFFIX = {v: k for k, v in SUFFIX.items()}
_COMPOSITE_RE = re.compile(r"(vec|mat|quat|transform|spatial_vector|spatial_matrix)(\d*)([hfdi])")


@dataclass(frozen=True, slots=True)
class TypeInfo:
    """What the synthesizer needs to know about one value type.

    Attributes:
        name: Warp's name (``vec3f``).
        kind: ``bool``, ``int``, ``float``, ``vec``, ``mat``, ``quat``, ``transform``,
            ``spatial_vector`` or ``spatial_matrix``.
        scalar: The scalar type of its components (itself for scalars).
        shape: Component shape: ``()`` for scalars, ``(n,)`` for vector-like, ``(r, c)`` for matrices.
    """

    name: str
    kind: str
    scalar: str
    shape: tuple[int, ...]

    @property
    def is_scalar(self) -> bool:
        """A plain number (bool excluded)."""
        return self.kind in ("int", "float")

    @property
    def is_float(self) -> bool:
        """A floating point scalar."""
        return self.kind == "float"

    @property
    def size(self) -> int:
        """Number of scalar components."""
        n = 1
        for s in self.shape:
            n *= s
        return n


@cache
def info(name: str) -> TypeInfo:
    """Describe a type by its Warp name.

    Raises:
        ValueError: ``name`` is not a type the synthesizer knows.
    """
    if name == "bool":
        return TypeInfo(name, "bool", "bool", ())
    if name in INT_TYPES:
        return TypeInfo(name, "int", name, ())
    if name in FLOAT_TYPES:
        return TypeInfo(name, "float", name, ())
    m = _COMPOSITE_RE.fullmatch(name)
    if not m:
        raise ValueError(f"unknown type {name!r}")
    kind, digits, suffix = m.groups()
    scalar = _SCALAR_OF_SUFFIX[suffix]
    shape = {"quat": (4,), "transform": (7,), "spatial_vector": (6,), "spatial_matrix": (6, 6)}.get(kind)
    if shape is None:
        shape = (int(digits),) if kind == "vec" else (int(digits[0]), int(digits[1]))
    return TypeInfo(name, kind, scalar, shape)


def composite(kind: str, scalar: str, n: int = 3) -> str:
    """Name of a composite type, e.g. ``composite("vec", "float64", 3) == "vec3d"``."""
    suffix = SUFFIX[scalar]
    if kind == "vec":
        return f"vec{n}{suffix}"
    if kind == "mat":
        return f"mat{n}{n}{suffix}"
    return f"{kind}{suffix}"


def py(name: str) -> str:
    """How a type is written in a program (``wp.vec3f``, ``wp.float64``, ``bool``)."""
    return "bool" if name == "bool" else f"wp.{name}"


def number(rng: random.Random, scalar: str, lo: float = 0.1, hi: float = 2.0) -> str:
    """A bare Python number for a scalar type: small ints, floats of two significant digits (round, as people
    write them: 0.35, 1.5, not 0.382)."""
    if scalar in INT_TYPES:
        return str(rng.randint(max(int(lo), 1), max(int(hi), 2) + 2))
    value = float(f"{rng.uniform(lo, hi):.2g}")
    return repr(value if value != 0.0 else 0.5)


def scalar_literal(rng: random.Random | None, scalar: str, lo: float = 0.1, hi: float = 2.0, bare: bool = True,
                   value: str | None = None) -> str:
    """A literal of a scalar type: bare for ``int32``/``float32`` when ``bare``, else ``wp.<type>(v)``.

    Bare literals are compile-time constants in Warp: a variable initialised from one cannot
    change inside a dynamic loop, so declarations ask for ``bare=False``. ``rng`` is only drawn
    from when ``value`` is not given.
    """
    if value is None or (scalar == "bool" and not value):
        if rng is None:
            raise ValueError(f"scalar_literal: no value given for {scalar} and no rng to draw one")
        value = rng.choice(("True", "False")) if scalar == "bool" else number(rng, scalar, lo, hi)
    if scalar == "bool":
        return value if bare else f"bool({value})"
    if bare and scalar in ("int32", "float32"):
        return value
    return f"wp.{scalar}({value})"


def literal(rng: random.Random, name: str, bare: bool = True) -> str:
    """A literal of any type: a number, or a constructor call with literal components."""
    t = info(name)
    if not t.shape:
        return scalar_literal(rng, name, bare=bare)
    lo = -1.0 if t.scalar not in INT_TYPES else 1
    if t.kind == "quat":
        if rng.random() < 0.4:
            return f"wp.quat_identity(dtype={py(t.scalar)})"
        axis = ", ".join(number(rng, t.scalar, -1.0, 1.0) for _ in range(3))
        vec = composite("vec", t.scalar)
        return f"wp.quat_from_axis_angle(wp.normalize({py(vec)}({axis}) + {py(vec)}(0.0, 0.0, 0.5)), " \
               f"{scalar_literal(rng, t.scalar, 0.1, 1.5, bare=t.scalar == 'float32')})"
    if t.kind == "transform":
        if rng.random() < 0.3:
            return f"wp.transform_identity(dtype={py(t.scalar)})"
        vec = composite("vec", t.scalar)
        comps = ", ".join(number(rng, t.scalar, -1.0, 1.0) for _ in range(3))
        return f"{py(name)}({py(vec)}({comps}), wp.quat_identity(dtype={py(t.scalar)}))"
    if t.kind in ("mat", "spatial_matrix") and t.shape[0] == t.shape[1] and (t.size > 16 or rng.random() < 0.25):
        scale = number(rng, t.scalar, 0.5, 2.0)
        ident = f"wp.identity(n={t.shape[0]}, dtype={py(t.scalar)})"
        if t.size > 16 and rng.random() < 0.5:
            return ident
        return f"{ident} * {scalar_literal(rng, t.scalar, bare=True, value=scale)}"
    comps = ", ".join(number(rng, t.scalar, lo, 2.0) for _ in range(t.size))
    return f"{py(name)}({comps})"


def offset_literal(name: str) -> str:
    """A small constant of a float vector-like type (keeps ``normalize`` away from zero)."""
    t = info(name)
    comps = ", ".join("0.25" if k == 0 else "0.125" for k in range(t.size))
    return f"{py(name)}({comps})"
