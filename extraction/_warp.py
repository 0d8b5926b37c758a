"""The one module that touches Warp internals (``warp._src``).

Everything else in warp-ir goes through the small functions here, so a Warp
upgrade that moves an internal breaks exactly one file, and
``tests/extraction/test_warp_internals.py`` says which function broke.
Tested against warp-lang 1.19.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import warp as wp

from warp._src import context as _context  # noqa: E402  (internal: kept to this module)
from warp._src import types as _types  # noqa: E402

# Builtins that Warp registers for its own code generator and that a user never
# calls by name (memory access, assignment plumbing, casts the parser inserts).
INTERNAL_BUILTINS: frozenset[str] = frozenset(
    {
        "address", "load", "store", "array_store", "array_load", "view", "copy", "assign", "assign_inplace",
        "assign_copy", "extract", "index", "indexref", "add_inplace", "sub_inplace", "lower_bound_inplace",
        "select_ptr", "where_ptr", "expect_eq", "expect_neq", "expect_near", "static", "len_inplace",
        "bool", "iter_next", "iter_reverse", "range", "reversed", "print", "printf", "tid", "block_dim",
        "bvh_query_next", "mesh_query_aabb_next", "hash_grid_query_next", "mesh_query_point_sign_normal",
        "transform_get_translation", "tile_lower_bound_inplace",
    }
)


@dataclass(slots=True)
class ModuleCode:
    """Generated source of one Warp module for one target.

    Attributes:
        target: ``"cpu"`` or ``"cuda"``.
        source: The whole generated translation unit.
        kernels: For every kernel built into it, ``(kernel, symbol_prefix)`` where the
            prefix is ``<name>_<hash>`` as it appears in the generated symbols.
        functions: Native names of the ``@wp.func`` helpers built into the module,
            mapped to the Python function object they come from.
        structs: Native names of the structs built into the module, mapped to the
            Python class they come from.
    """

    target: str
    source: str
    kernels: list[tuple[Any, str]]
    functions: dict[str, Any]
    structs: dict[str, Any]


def init_quiet() -> None:
    """Initialise Warp once, silently."""
    wp.config.quiet = True
    wp.init()


def warp_version() -> str:
    """Return the installed Warp version string."""
    return wp.__version__


def module_of(kernel: Any) -> Any:
    """Return the Warp module (``warp._src.context.Module``) a kernel belongs to."""
    return kernel.module


def codegen_module(module: Any, target: str) -> ModuleCode:
    """Generate the C++ (``cpu``) or CUDA (``cuda``) source of a Warp module, without compiling.

    Args:
        module: A Warp module.
        target: ``"cpu"`` or ``"cuda"``.

    Returns:
        The generated source and the symbol tables needed to cut it per kernel.

    Raises:
        Exception: Whatever Warp raises when it rejects the program.
    """
    options = module.resolve_options(wp.config)
    builder = _context.ModuleBuilder(module, options, target=target)
    source = builder.codegen(target)
    kernels = [(k, k.get_mangled_name()) for k in builder.kernels]
    functions = {f.native_func: f for f in builder.functions if f.native_snippet is None}
    structs = {s.native_name: s for s in builder.structs}
    return ModuleCode(target=target, source=source, kernels=kernels, functions=functions, structs=structs)


def kernel_args(kernel: Any) -> list[tuple[str, str]]:
    """Return ``(name, type)`` for every argument of a kernel, types as Warp spells them."""
    return [(arg.label, _type_str(arg.type)) for arg in kernel.adj.args]


def _type_str(t: Any) -> str:
    return _types.type_repr(t)


def kernel_enable_backward(kernel: Any, module: Any) -> bool:
    """Whether Warp generates a backward (adjoint) kernel for this kernel."""
    options = module.resolve_options(wp.config) | kernel.options
    return bool(options.get("enable_backward", True))


def kernel_python_function(kernel: Any) -> Any:
    """The Python function a kernel was defined from."""
    return kernel.func


def function_python_object(func: Any) -> Any:
    """The Python function behind a ``@wp.func`` (``None`` for builtins)."""
    return func.func


def struct_python_class(struct: Any) -> Any:
    """The Python class behind a ``@wp.struct``."""
    return struct.cls


def is_kernel(obj: Any) -> bool:
    """Whether ``obj`` is a Warp kernel."""
    return isinstance(obj, _context.Kernel)


def is_generic_kernel(kernel: Any) -> bool:
    """Whether a kernel has generic (``typing.Any``) arguments and needs overloads."""
    return bool(getattr(kernel, "is_generic", False))


def kernel_overloads(kernel: Any) -> list[Any]:
    """Concrete overloads that exist for a generic kernel."""
    return list(getattr(kernel, "overloads", {}).values())


def kernels_in(py_module: Any) -> Iterator[Any]:
    """Yield the kernels defined at module level in a Python module, in definition order."""
    seen: set[int] = set()
    for obj in vars(py_module).values():
        if is_kernel(obj) and id(obj) not in seen and getattr(obj.func, "__module__", None) == py_module.__name__:
            seen.add(id(obj))
            yield obj


def release_module(name: str) -> None:
    """Forget a Warp module so that its kernels, functions and generated code can be freed."""
    module = _context.user_modules.pop(name, None)
    if module is not None:
        module.unload()
        module.kernels = {}
        module.functions = {}
        module.structs = {}


def user_builtin_names() -> list[str]:
    """Names of Warp's user-facing builtins: the builtin registry minus internal entries, sorted."""
    names = set()
    for name, func in _context.builtin_functions.items():
        if name.startswith("_") or name in INTERNAL_BUILTINS:
            continue
        if getattr(func, "hidden", False):
            continue
        names.add(name)
    return sorted(names)


__all__ = [
    "ModuleCode",
    "codegen_module",
    "function_python_object",
    "init_quiet",
    "is_generic_kernel",
    "is_kernel",
    "kernel_args",
    "kernel_enable_backward",
    "kernel_overloads",
    "kernel_python_function",
    "kernels_in",
    "module_of",
    "release_module",
    "struct_python_class",
    "user_builtin_names",
    "warp_version",
]

