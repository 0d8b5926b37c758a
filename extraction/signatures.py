"""Warp's builtin registry as plain data: which builtins are the user's, and every overload's signature.

:func:`builtin_signatures` instantiates each user-facing builtin overload on a fixed set of value types,
with Warp's own type rules (reached through :mod:`extraction._warp`), into :class:`BuiltinSignature`
records; the program synthesizer (:mod:`generator.programs.synth`) draws its calls from them.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cache
from typing import Any, cast

import warp as wp

from extraction import _warp

# Builtins that Warp registers for its own code generator and that a user never
# calls by name (memory access, assignment plumbing, iteration, debugging), and
# deprecated dense_* helpers. Everything else in the registry counts as user-facing.
INTERNAL_BUILTINS: frozenset[str] = frozenset(
    {
        "add_inplace", "address", "array_store", "assign_copy", "assign_inplace", "bit_and_inplace",
        "bit_or_inplace", "bit_xor_inplace", "breakpoint", "copy", "expect_eq", "expect_near", "expect_neq",
        "extract", "index", "indexref", "iter_next", "load", "print", "printf", "range", "reversed", "static",
        "store", "sub_inplace", "transform_add_inplace", "transform_sub_inplace", "view", "lower_bound",
        "dense_chol", "dense_chol_batched", "dense_gemm", "dense_gemm_batched", "dense_solve",
        "dense_solve_batched", "dense_subs", "block_dim",
    }
)

# The value types builtin overloads are instantiated on, by the name Warp exports them under
# (``wp.<name>``). Arrays, handles to meshes/volumes/BVHs and tiles are not in it.
SIGNATURE_TYPES: tuple[str, ...] = (
    "bool", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64",
    "float16", "float32", "float64",
    *(f"{kind}{suffix}" for suffix in ("h", "f", "d") for kind in (
        "vec2", "vec3", "vec4", "mat22", "mat33", "mat44", "quat", "transform", "spatial_vector",
        "spatial_matrix")),
    "vec2i", "vec3i", "vec4i",
)

# Builtins whose scalar arguments are handles (uint64 ids) to objects that must exist at run time,
# or that work on tiles: left out of :func:`builtin_signatures` for now.
HANDLE_PREFIXES = ("mesh_", "bvh_", "hash_grid_", "volume_", "texture_", "tile")


@dataclass(frozen=True, slots=True)
class BuiltinSignature:
    """One builtin overload instantiated on concrete value types (plain data, no Warp objects).

    Attributes:
        name: The builtin's name (``wp.<name>``; ``int``/``float``/``bool`` are Python's casts).
        arg_names: Python-side argument names, in order (keyword names Warp accepts).
        arg_types: Concrete argument type names from :data:`SIGNATURE_TYPES`.
        return_types: Concrete return type names: one for a plain value, several for a
            builtin that returns a tuple (``svd3``, ``eig3``...). Never empty.
        differentiable: Whether Warp has an adjoint for this overload.
        optional: How many trailing arguments have defaults and may be left out.
        dtype_param: Whether the overload takes a ``dtype=`` type argument (left out of
            ``arg_names``): callers pass the return type's scalar type (``dtype=wp.float64``),
            since Warp defaults it to ``float32`` whatever the arguments.
    """

    name: str
    arg_names: tuple[str, ...]
    arg_types: tuple[str, ...]
    return_types: tuple[str, ...]
    differentiable: bool
    optional: int
    dtype_param: bool = False


def user_builtin_names() -> list[str]:
    """Names of Warp's user-facing builtins: the builtin registry minus internal entries, sorted."""
    names = set()
    for name, func in _warp.builtin_registry().items():
        if name.startswith("_") or name in INTERNAL_BUILTINS or func.group == "Code Generation":
            continue
        names.add(name)
    return sorted(names)


def user_builtin_groups() -> dict[str, str]:
    """The documentation group of each user-facing builtin (``Scalar Math``, ``Tile Primitives``, ...)."""
    names = set(user_builtin_names())
    return {name: func.group or "Other" for name, func in sorted(_warp.builtin_registry().items()) if name in names}


def _concrete(name: str) -> Any:
    return getattr(wp, name)


def _return_type(overload: Any, arg_types: dict[str, Any]) -> Any:
    """Resolve an overload's return type the way ``Adjoint.add_call`` does.

    Builtins have a ``value_func``; the few user-facing builtins Warp implements as ``@wp.func``
    (``norm_l1``, ``transform_compose``...) get theirs once built (``Function.build``, which is
    what codegen does on first call).
    """
    if not overload.is_builtin() and overload.value_func is None:
        overload.build(None)
    values = {k: None for k in arg_types}
    return overload.value_func(arg_types, values)


@cache
def builtin_signatures() -> tuple[BuiltinSignature, ...]:
    """Every user-facing builtin overload instantiated on :data:`SIGNATURE_TYPES`, as plain data.

    For each builtin of :func:`user_builtin_names` (minus handle/tile builtins and variadic
    constructors) and each overload, the argument types are drawn from the universe types that
    ``types_equal_generic`` matches with the overload's (possibly generic) input types; the
    arguments of one overload typed ``Any`` take one and the same type (Warp's ``where``,
    ``norm_l2``...). Each combination is resolved with Warp's own overload resolution
    (``Function.get_overload``) and return type (``value_func``); combinations Warp rejects, and
    those returning nothing or a type outside the universe, are dropped. Type-argument parameters
    (``dtype=None`` defaults) are left out. Sorted by name, then argument types.

    Returns:
        One :class:`BuiltinSignature` per distinct (name, argument types).
    """
    _warp.init_quiet()
    universe = {name: _concrete(name) for name in SIGNATURE_TYPES}
    found: dict[tuple[str, tuple[str, ...]], BuiltinSignature] = {}
    for name in user_builtin_names():
        if name.startswith(HANDLE_PREFIXES):
            continue
        func = _warp.builtin_registry()[name]
        overloads = getattr(func, "overloads", [func])
        # Exported generic builtins also register one hidden concrete copy per scalar type:
        # the generic overload covers them (casts such as ``float32`` only have those).
        shown = [o for o in overloads if not o.hidden] or overloads
        for overload in shown:
            if overload.variadic:
                continue
            params = [(k, v) for k, v in overload.input_types.items()
                      if not (k in overload.defaults and overload.defaults[k] is None)]
            if not params:
                continue
            any_first = next((i for i, (_, v) in enumerate(params) if v is Any), None)
            lists = [_warp.param_candidates(v, universe) if i == any_first or v is not Any else [None]
                     for i, (_, v) in enumerate(params)]
            if not all(lists):
                continue
            for combo in itertools.product(*lists):
                if any_first is not None:
                    combo = tuple(combo[any_first] if c is None else c for c in combo)
                types = cast(tuple[str, ...], combo)  # a None (only for an Any after the first) is replaced above
                key = (name, types)
                if key in found:
                    continue
                sig = _resolve(func, overload, name, params, types, universe)
                if sig is not None:
                    found[key] = sig
    return tuple(found[k] for k in sorted(found))


def _resolve(func: Any, overload: Any, name: str, params: list[tuple[str, Any]], combo: tuple[str, ...],
             universe: dict[str, Any]) -> BuiltinSignature | None:
    """The signature of ``overload`` on argument types ``combo``, or ``None`` where Warp rejects them.

    See :func:`extraction._warp.match_overload` for how an overload is matched.
    """
    defaults = overload.defaults
    arg_types = [universe[c] for c in combo]
    try:
        resolved = _warp.match_overload(func, overload, arg_types)
        if resolved is None:
            return None
        ret = _return_type(resolved, {k: t for (k, _), t in zip(params, arg_types, strict=True)})
    except Exception:  # Warp rejects this combination (its message is not needed)
        return None
    if ret is None:
        return None
    rets = list(ret) if isinstance(ret, (list, tuple)) else [ret]
    found_names = [_warp.type_name(r, universe) for r in rets]
    names = tuple(n for n in found_names if n is not None)
    if not names or len(names) != len(found_names):
        return None
    optional = 0
    for k, _ in reversed(params):
        if k not in defaults:
            break
        optional += 1
    return BuiltinSignature(name=name, arg_names=tuple(k for k, _ in params), arg_types=combo,
                            return_types=names, differentiable=bool(resolved.is_differentiable),
                            optional=optional, dtype_param=defaults.get("dtype", 0) is None)


__all__ = [
    "HANDLE_PREFIXES",
    "INTERNAL_BUILTINS",
    "SIGNATURE_TYPES",
    "BuiltinSignature",
    "builtin_signatures",
    "user_builtin_groups",
    "user_builtin_names",
]
