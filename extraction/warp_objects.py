"""Warp's kernel, function, struct and module objects, read through their attributes.

What a kernel was defined from, its overloads, arguments and module; the kernels of a Python module or of
a Warp module. These read attributes of Warp's objects and never import ``warp._src`` (that stays in
:mod:`extraction._warp`, which also says whether an object is a kernel at all).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import warp as wp

from extraction._warp import is_kernel

# Where Warp keeps its implementation: library kernels are defined in modules under it
# (e.g. ``warp._src.sparse``) and registered under public Warp module names (``warp.sparse``).
INTERNAL_PACKAGE = "warp._src"


def module_of(kernel: Any) -> Any:
    """Return the Warp module (``warp._src.context.Module``) a kernel belongs to."""
    return kernel.module


def kernel_enable_backward(kernel: Any, module: Any) -> bool:
    """Whether Warp generates a backward (adjoint) kernel for this kernel."""
    options = module.resolve_options(wp.config) | kernel.options
    return bool(options.get("enable_backward", True))


@contextmanager
def backward_enabled(kernels: Iterable[Any]) -> Iterator[None]:
    """Warp generates backward code for these kernels (and their overloads) while the block runs.

    A package may switch the adjoint off for a whole Warp module (``wp.set_module_options``) or for
    one kernel (``@wp.kernel(enable_backward=False)``); both settings are switched on, then restored
    exactly as they were.
    """
    saved: dict[int, tuple[dict[str, Any], bool, Any]] = {}
    for k in kernels:
        for obj in (k, *kernel_overloads(k)):
            for options in (obj.options, obj.module.options):
                if id(options) not in saved:
                    saved[id(options)] = (options, "enable_backward" in options, options.get("enable_backward"))
    try:
        for options, _, _ in saved.values():
            options["enable_backward"] = True
        yield
    finally:
        for options, present, value in saved.values():
            if present:
                options["enable_backward"] = value
            else:
                options.pop("enable_backward", None)


def kernel_python_function(kernel: Any) -> Any:
    """The Python function a kernel was defined from."""
    return kernel.func


def function_python_object(func: Any) -> Any:
    """The Python function behind a ``@wp.func`` (``None`` for builtins)."""
    return func.func


def struct_python_class(struct: Any) -> Any:
    """The Python class behind a ``@wp.struct``."""
    return struct.cls


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


def module_kernels(module: Any) -> list[Any]:
    """The kernels registered in a Warp module (the latest object per key: what its codegen builds)."""
    return list(module.kernels.values())


def warp_module_name(kernel: Any) -> str:
    """Name of the Warp module a kernel is built in (e.g. ``warp.fem.geometry.hexmesh``)."""
    return kernel.module.name


def kernel_arg_types(kernel: Any) -> list[tuple[str, Any]]:
    """``(name, Warp type object)`` for every argument of a kernel (for building launch inputs)."""
    return [(arg.label, arg.type) for arg in kernel.adj.args]


def is_warp_function(obj: Any) -> bool:
    """Whether ``obj`` is a user's ``@wp.func`` (not one of Warp's builtins)."""
    return isinstance(obj, wp.Function) and not obj.is_builtin() and getattr(obj, "func", None) is not None


def is_warp_struct(obj: Any) -> bool:
    """Whether ``obj`` is a ``@wp.struct``."""
    return bool(wp.types.type_is_struct(obj))


_SCALAR_NAMES = {float: "float", int: "int", bool: "bool"}


def type_expression(t: Any) -> str | None:
    """A Python expression for a Warp type, as a program writes it (``wp.array(dtype=wp.vec3f, ndim=2)``).

    Returns ``None`` for a type it cannot write. A struct is written by its class name (the program
    must define it).
    """
    if t in _SCALAR_NAMES:
        return _SCALAR_NAMES[t]
    if is_warp_struct(t):
        return struct_python_class(t).__name__
    name = getattr(t, "__name__", None)
    if isinstance(t, type) and name and getattr(wp, name, None) is t:
        return f"wp.{name}"
    if wp.types.is_array(t):
        dtype = type_expression(t.dtype)
        kind = getattr(type(t), "_concrete_cls", type(t)).__name__  # wp.array[...] annotations: wp.array
        return None if dtype is None or getattr(wp, kind, None) is None else f"wp.{kind}(dtype={dtype}, ndim={t.ndim})"
    scalar = getattr(t, "_wp_scalar_type_", None)
    inner = type_expression(scalar) if scalar is not None else None
    if inner is None:
        return None
    if wp.types.type_is_quaternion(t):
        return f"wp.types.quaternion(dtype={inner})"
    if wp.types.type_is_transformation(t):
        return f"wp.types.transformation(dtype={inner})"
    if wp.types.type_is_matrix(t):
        return f"wp.types.matrix(shape={tuple(t._shape_)}, dtype={inner})"
    if wp.types.type_is_vector(t):
        return f"wp.types.vector(length={t._length_}, dtype={inner})"
    return None


__all__ = [
    "INTERNAL_PACKAGE",
    "backward_enabled",
    "function_python_object",
    "is_generic_kernel",
    "is_warp_function",
    "is_warp_struct",
    "kernel_arg_types",
    "kernel_enable_backward",
    "kernel_overloads",
    "kernel_python_function",
    "kernels_in",
    "module_kernels",
    "module_of",
    "struct_python_class",
    "type_expression",
    "warp_module_name",
]
