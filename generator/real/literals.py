"""Python text for what a kernel's whole program imports and the values it reads (see :mod:`generator.real.program`).

Objects of other distributions (Warp, NumPy, the standard library) are imported by a public name
(:func:`public_import`, :func:`module_import`); constants are written as the Python that gives them back
(:func:`value_expression`). What cannot be written raises :class:`NotSelfContained`.
"""

from __future__ import annotations

import importlib
import math
import types
from collections.abc import Sequence
from typing import Any

import numpy as np
import warp as wp

from extraction.warp_objects import is_warp_struct, type_expression


class NotSelfContained(Exception):
    """The kernel uses something a program cannot define (the message says what)."""


def external_module(obj: Any, own: Sequence[str]) -> str | None:
    """The module an object of another distribution is imported from (``None``: it belongs to the package)."""
    module = getattr(obj, "__module__", None) or ""
    top = module.split(".")[0]
    if not top or top in own or top in ("__main__", "builtins") or top.startswith("warp_ir"):
        return None
    return module


def public_import(obj: Any, name: str, module: str) -> str | None:
    """``from M import X as name`` for ``obj``, with ``M`` the shortest public module that has it."""
    parts = [p for p in module.split(".") if p != "_src"]
    attr = getattr(obj, "__name__", name)
    for k in range(1, len(parts) + 1):
        candidate = ".".join(parts[:k])
        try:
            mod = importlib.import_module(candidate)
        except ImportError:
            continue
        for key in dict.fromkeys((name, attr)):
            if getattr(mod, key, None) is obj:
                return f"from {candidate} import {key}" + (f" as {name}" if key != name else "")
    return None


def module_import(name: str, module: types.ModuleType) -> str:
    full = module.__name__
    if full == name:
        return f"import {name}"
    if "." in full:
        parent, last = full.rsplit(".", 1)
        if last == name:
            return f"from {parent} import {last}"
    return f"import {full} as {name}"


def value_expression(value: Any) -> str:
    """A Python expression for a constant the kernel reads (raises :class:`NotSelfContained` when there is none)."""
    if value is None or isinstance(value, (bool, str)):
        return repr(value)
    if isinstance(value, int):  # an IntEnum member is the integer Warp reads
        return repr(int(value))
    if isinstance(value, float):
        if math.isinf(value):
            return "math.inf" if value > 0 else "-math.inf"
        return "math.nan" if math.isnan(value) else repr(value)
    if isinstance(value, np.generic):
        return f"np.{type(value).__name__}({value.item()!r})"
    if isinstance(value, tuple):
        return "(" + "".join(f"{value_expression(v)}, " for v in value).rstrip(" ") + ")"
    if type(value) is list:
        return "[" + ", ".join(value_expression(v) for v in value) + "]"
    if type(value) in (set, frozenset):  # sorted by their text: the same program in every run
        items = sorted(value_expression(v) for v in value)
        return f"{type(value).__name__}({{{', '.join(items)}}})" if items else f"{type(value).__name__}()"
    if type(value) is dict:
        return "{" + ", ".join(f"{value_expression(k)}: {value_expression(v)}" for k, v in value.items()) + "}"
    if isinstance(value, type) or is_warp_struct(value):
        expr = type_expression(value)
        if expr is None:
            raise NotSelfContained(f"a type it cannot write: {value!r}")
        return expr
    if wp.types.type_is_scalar(type(value)) and hasattr(value, "value"):  # wp.float64(1.5)
        return f"{type_expression(type(value))}({value.value!r})"
    if wp.types.type_is_vector(type(value)) or wp.types.type_is_matrix(type(value)) or \
            wp.types.type_is_quaternion(type(value)) or wp.types.type_is_transformation(type(value)):
        expr = type_expression(type(value))
        if expr is None:
            raise NotSelfContained(f"a type it cannot write: {type(value)!r}")
        scalar = getattr(type(value), "_wp_scalar_type_", None)
        flat = np.asarray(value, dtype=np.float64 if wp.types.type_is_float(scalar) else np.int64).ravel().tolist()
        return f"{expr}({', '.join(value_expression(v) for v in flat)})"
    raise NotSelfContained(f"a value it cannot write: {type(value).__name__}")
