"""Warp's builtin overloads, as the synthesizer uses them: indexed by return type.

The data comes from :func:`extraction.signatures.builtin_signatures` (Warp's own type rules on a fixed
set of value types); this module only decides which of them the synthesizer may call and how
an operator builtin is written (``a + b`` for ``add``).
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Sequence
from dataclasses import astuple, dataclass
from functools import cache
from pathlib import Path
from typing import Any

from extraction import user_builtin_names, warp_version
from extraction.signatures import BuiltinSignature, builtin_signatures
from generator.programs import envcache
from generator.programs.synth.types import info

# Builtins written as Python operators (``wp.add(a, b)`` is also valid and used now and then).
BINARY_OPERATORS = {
    "add": "+", "sub": "-", "mul": "*", "div": "/", "mod": "%", "floordiv": "//",
    "bit_and": "&", "bit_or": "|", "bit_xor": "^", "lshift": "<<", "rshift": ">>",
}
UNARY_OPERATORS = {"neg": "-", "pos": "+", "invert": "~", "unot": "not "}

# Python's own casts (``int(x)``), not ``wp.int(x)``.
PYTHON_CASTS = ("int", "float", "bool")

# Builtins never called.
_DENIED: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Registry:
    """The builtin signatures the synthesizer may call, indexed for type-directed search.

    Attributes:
        by_return: Return type name -> signatures returning exactly that one type.
        multi: Signatures returning a tuple (``svd3``, ``eig3``, ``quat_to_axis_angle``...).
        by_name: Builtin name -> its signatures.
    """

    by_return: dict[str, tuple[BuiltinSignature, ...]]
    multi: tuple[BuiltinSignature, ...]
    by_name: dict[str, tuple[BuiltinSignature, ...]]

    def returning(self, type_name: str, allowed: Sequence[str],
                  operators: bool | None = None) -> list[BuiltinSignature]:
        """Signatures returning ``type_name`` whose argument types are all in ``allowed``.

        Args:
            type_name: The wanted return type.
            allowed: Types the program may use.
            operators: ``True`` for operator builtins only, ``False`` for the others, ``None`` for all.
        """
        key = (type_name, tuple(allowed), operators)
        found = _RETURNING.get(key)
        if found is None:
            ok = set(allowed)
            matching: list[BuiltinSignature] = []
            for sig in self.by_return.get(type_name, ()):
                is_op = sig.name in BINARY_OPERATORS or sig.name in UNARY_OPERATORS
                if operators is not None and is_op != operators:
                    continue
                if all(a in ok for a in sig.arg_types) and usable(sig):
                    matching.append(sig)
            found = tuple(matching)
            if len(_RETURNING) < 100_000:
                _RETURNING[key] = found
        return list(found)


# (type, allowed types, operators) -> signatures: programs ask the same questions (a few allowed-type sets)
_RETURNING: dict[tuple[str, tuple[str, ...], bool | None], tuple[BuiltinSignature, ...]] = {}


def usable(sig: BuiltinSignature) -> bool:
    """Whether the synthesizer can call ``sig`` and keep its results finite.

    Left out: scalar divided by a vector/matrix/quaternion (division by components that may be
    zero), ``mod``/``floordiv``/shifts of vectors and matrices and ``cw_div`` of anything but float
    vectors (no guard: integer division by zero traps), and anything denied.
    """
    if sig.name in _DENIED:
        return False
    # Warp 1.19 quirks its overload table does not show: ``wp.spatial_vector(...)`` only builds
    # float32 vectors ("expected to be of the type float32" / "extraneous dtype" otherwise), and
    # ``wp.matrix(pos, rot, scale)`` was removed in favour of ``transform_compose``.
    if sig.name == "spatial_vector" and sig.return_types != ("spatial_vectorf",):
        return False
    if sig.name == "matrix":
        return False
    # ``bool(half)`` is an ambiguous conversion for the C++ compiler (codegen accepts it), also in the
    # adjoint of ``float16(bool)``
    if (sig.name, sig.arg_types) in (("bool", ("float16",)), ("float16", ("bool",))):
        return False
    if sig.name in ("div", "div_approx") and not info(sig.arg_types[1]).is_scalar:
        return False
    if sig.name in ("mod", "floordiv", "lshift", "rshift") and not info(sig.arg_types[0]).is_scalar:
        return False
    divisor = info(sig.arg_types[1]) if len(sig.arg_types) > 1 else None
    if sig.name == "cw_div" and not (divisor and divisor.kind == "vec" and divisor.scalar.startswith("float")):
        return False
    return True


@cache
def registry() -> Registry:
    """The registry, built once per process from Warp's builtin signatures (:func:`signatures`)."""
    by_return: dict[str, list[BuiltinSignature]] = {}
    by_name: dict[str, list[BuiltinSignature]] = {}
    multi = []
    for sig in signatures():
        by_name.setdefault(sig.name, []).append(sig)
        if len(sig.return_types) == 1:
            by_return.setdefault(sig.return_types[0], []).append(sig)
        elif usable(sig):
            multi.append(sig)
    return Registry(by_return={k: tuple(v) for k, v in by_return.items()}, multi=tuple(multi),
                    by_name={k: tuple(v) for k, v in by_name.items()})


def signatures() -> tuple[BuiltinSignature, ...]:
    """:func:`extraction.signatures.builtin_signatures`, computed once per environment (about 0.6 s) and kept in
    :mod:`generator.programs.envcache`, keyed by Warp's version, location and builtin names and by the code that
    computes them."""
    import warp  # noqa: PLC0415 - already imported by extraction

    code = Path(sys.modules[builtin_signatures.__module__].__file__ or "")
    names = hashlib.sha256("\n".join(user_builtin_names()).encode()).hexdigest()[:16]
    key = {"warp": warp_version(), "warp_path": str(Path(warp.__file__).resolve().parent), "builtins": names,
           "code": envcache.file_digest(code)}
    rows = envcache.cached("builtin-signatures", key, _signature_rows, _valid_rows)
    return tuple(BuiltinSignature(name, tuple(arg_names), tuple(arg_types), tuple(returns), differentiable, optional,
                                  dtype_param)
                 for name, arg_names, arg_types, returns, differentiable, optional, dtype_param in rows)


def _signature_rows() -> list[list[Any]]:
    """:func:`builtin_signatures` as JSON rows (one list of the fields per signature)."""
    return [[list(v) if isinstance(v, tuple) else v for v in astuple(sig)] for sig in builtin_signatures()]


def _valid_rows(rows: Any) -> bool:
    """Whether ``rows`` (from the cache) are signatures as :func:`signatures` stores them."""
    def strings(v: Any) -> bool:
        return isinstance(v, list) and all(isinstance(x, str) for x in v)

    return isinstance(rows, list) and all(
        isinstance(r, list) and len(r) == 7 and isinstance(r[0], str) and strings(r[1]) and strings(r[2])
        and strings(r[3]) and bool(r[3]) and isinstance(r[4], bool) and type(r[5]) is int and isinstance(r[6], bool)
        for r in rows)
