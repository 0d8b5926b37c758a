"""The one module that touches Warp internals (``warp._src``).

Everything else in warp-ir goes through the small functions here, so a Warp
upgrade that moves an internal breaks exactly one file, and
``tests/extraction/test_warp_internals.py`` says which function broke.
Tested against warp-lang 1.19.
"""

from __future__ import annotations

import builtins
import itertools
import logging
import os
import re
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import warp as wp

from warp._src import codegen as _codegen  # noqa: E402  (internal: kept to this module)
from warp._src import context as _context  # noqa: E402
from warp._src import types as _types  # noqa: E402

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
    meta: dict[str, int] = field(default_factory=dict)


def init_quiet(kernel_cache_dir: str | None = None) -> None:
    """Initialise Warp once, silently; optionally point this process at its own kernel cache.

    Args:
        kernel_cache_dir: A directory only this process writes to, so parallel workers never
            race on Warp's kernel cache (applied even if Warp was initialised before a fork).
    """
    wp.config.log_level = logging.WARNING  # no start-up banner (Warp 1.19 has no `config.quiet`)
    if kernel_cache_dir:
        os.makedirs(kernel_cache_dir, exist_ok=True)
        wp.config.kernel_cache_dir = kernel_cache_dir
    wp.init()
    if kernel_cache_dir:
        from warp._src import build as _build  # noqa: PLC0415

        _build.init_kernel_cache(kernel_cache_dir)


@contextmanager
def kernel_cache(kernel_cache_dir: str | None) -> Iterator[None]:
    """Point Warp's kernel cache at ``kernel_cache_dir`` while the block runs, then back where it was.

    A build's workers compile into a folder of the build's own cache, which the build removes at the
    end; a process that goes on using Warp afterwards (a build run as a library) must not keep
    writing kernels there.
    """
    init_quiet()
    if not kernel_cache_dir:
        yield
        return
    previous = wp.config.kernel_cache_dir
    init_quiet(kernel_cache_dir)
    try:
        yield
    finally:
        from warp._src import build as _build  # noqa: PLC0415

        # Warp keeps its cache in a folder named after its version under the path it is given
        versioned = os.path.basename(previous.rstrip(os.sep)) == wp.config.version
        _build.init_kernel_cache(os.path.dirname(previous.rstrip(os.sep)) if versioned else previous)


@contextmanager
def warp_defaults() -> Iterator[None]:
    """Warp's default global code generation settings while the block runs, then back as they were.

    A module takes ``enable_backward`` from ``wp.config`` when it is created, and an imported package
    may change that for the whole process (warp-simdata sets ``wp.config.enable_backward = False`` at
    import): synthetic rows must not depend on what the process imported before. A program that wants
    no backward pass says so in its own source (``@wp.kernel(enable_backward=False)``).
    """
    previous = wp.config.enable_backward
    wp.config.enable_backward = True
    try:
        yield
    finally:
        wp.config.enable_backward = previous


def cuda_available() -> bool:
    """Whether this process can launch CUDA kernels (a GPU and its driver are present)."""
    init_quiet()
    return wp.get_cuda_device_count() > 0


def missing_entry_points(loaded: Any, kernel: Any, backward: bool) -> str:
    """Which of a kernel's entry points the binary ``loaded`` (from :func:`load_module_binary`) lacks.

    Looking them up is what makes Warp link a CPU object, so an object with an unresolved
    symbol is found here, before anything runs. Returns ``""`` when none is missing.
    """
    hooks = loaded.get_kernel_hooks(kernel)
    missing = [name for name, hook in (("forward", hooks.forward), ("backward", hooks.backward if backward else 1))
               if not hook]
    return " and ".join(f"the {m} entry point" for m in missing)


def warp_version() -> str:
    """Return the installed Warp version string."""
    return wp.__version__


def module_of(kernel: Any) -> Any:
    """Return the Warp module (``warp._src.context.Module``) a kernel belongs to."""
    return kernel.module


def codegen_module(module: Any, target: str, kernels: Sequence[Any] | None = None) -> ModuleCode:
    """Generate the C++ (``cpu``) or CUDA (``cuda``) source of a Warp module, without compiling.

    Args:
        module: A Warp module.
        target: ``"cpu"`` or ``"cuda"``.
        kernels: Build only these kernels of the module (generic ones: their overloads), with what
            they use; default every live kernel, as Warp builds it.

    Returns:
        The generated source and the symbol tables needed to cut it per kernel.

    Raises:
        Exception: Whatever Warp raises when it rejects the program.

    ``output_arch`` is set to ``None`` in the builder options, as Warp's own builds add it
    before building: tile builtins backed by libmathdx (``tile_matmul``, ``tile_fft``,
    ``tile_cholesky``, ...) read it (``KeyError`` without it), and with ``None`` they generate
    their portable implementation instead of MathDx link-time code. Nothing else reads it.
    """
    options = module.resolve_options(wp.config) | {"output_arch": None}
    hasher = _context.ModuleHasher(list(kernels), options) if kernels is not None else None
    builder = _context.ModuleBuilder(module, options, hasher, target=target)
    source = stable_paths(builder.codegen(target))
    kernels = [(k, k.get_mangled_name()) for k in builder.kernels]
    functions = {f.native_func: f for f in builder.functions if f.native_snippet is None}
    structs = {s.native_name: s for s in builder.structs}
    return ModuleCode(target=target, source=source, kernels=kernels, functions=functions, structs=structs,
                      meta=builder.build_meta())


# Warp writes the file of every function above its code (``// /abs/path/file.py:123``) and, with line
# information on, ``#line 123 "/abs/path/file.py"`` directives
_PATH_COMMENT_RE = re.compile(r'^(// )(.+?)(:\d+)$|^(#line \d+ ")(.+?)(")$', re.MULTILINE)


def stable_path(path: str) -> str:
    """``path`` written relative to a root that is the same on every machine.

    A file under an entry of ``sys.path`` (site-packages, the project, a user's folder) is written
    relative to the deepest such entry (``warp/_src/math.py``); any other absolute path by its file
    name. Pseudo names (``<warp-ir:...>``, ``<string>``) and relative paths are kept.

    Args:
        path: A source file's path as Warp recorded it.
    """
    if path.startswith("<") or not (os.path.isabs(path) or (len(path) > 2 and path[1] == ":")):
        return path
    norm = path.replace("\\", "/")
    roots = sorted({os.path.abspath(entry or os.curdir).replace("\\", "/").rstrip("/") + "/" for entry in sys.path},
                   key=len, reverse=True)
    for root in roots:
        if norm.startswith(root) and len(norm) > len(root):
            return norm[len(root):]
    return norm.rsplit("/", 1)[-1]


def stable_paths(source: str) -> str:
    """Generated code with the source-file paths in Warp's comments and ``#line`` directives made stable.

    Rows must not depend on where Warp or a package is installed (two machines, one seed, the same
    rows) nor show the builder's folders: see :func:`stable_path`.
    """
    def repl(m: re.Match[str]) -> str:
        if m.group(1) is not None:
            return m.group(1) + stable_path(m.group(2)) + m.group(3)
        return m.group(4) + stable_path(m.group(5)) + m.group(6)

    return _PATH_COMMENT_RE.sub(repl, source)


def launch_block_dim(kernel: Any, device: str, tiled: bool) -> int:
    """The block size a launch of ``kernel`` on ``device`` resolves to (its module is built for it).

    A plain CPU launch runs one thread per block; a tiled launch asks for the module's
    ``block_dim`` option, which Warp grants on CPU only where cooperative CPU blocks are enabled.
    """
    requested = kernel.module.options["block_dim"] if tiled else None
    return int(_context._resolve_launch_block_dim(wp.get_device(device), requested))


_handles = itertools.count()
_attached: list[Any] = []  # handles of attach_cpu_binary: kept (and the objects loaded) while the process lives


def load_cpu_binary(binary_path: str) -> str:
    """Load a compiled CPU object once, for :func:`attach_cpu_binary`; returns its handle.

    Raises:
        RuntimeError: Warp's loader refused the object.
    """
    init_quiet()
    handle = f"warp_ir_binary_{next(_handles)}"
    if _context.runtime.llvm.wp_load_obj(binary_path.encode(), handle.encode(), wp.config.legacy_cpu_linker) != 0:
        raise RuntimeError(f"Warp could not load the CPU object {binary_path}")
    return handle


def link_cpu_binary(handle: str, symbol: str) -> bool:
    """Link an object loaded by :func:`load_cpu_binary` now, by looking up ``symbol`` in it.

    Warp links an object when one of its symbols is first looked up, all of it at once; no code of
    it runs (static initializers are not run), so a process can link an object and leave running
    it to its children, which then share the linked code. Returns whether it linked: ``False``
    when a symbol the object needs is defined nowhere, or it lacks ``symbol``.
    """
    sink: list[str] = []
    with _captured_stderr(sink):  # Warp's loader prints why a lookup failed
        address = _context.runtime.llvm.wp_lookup(handle.encode(), symbol.encode())
    return bool(address)


def unload_cpu_binary(handle: str) -> None:
    """Unload an object loaded by :func:`load_cpu_binary` (no module may still run its code)."""
    _context.runtime.llvm.wp_unload_obj(handle.encode())


def attach_cpu_binary(module: Any, block_dim: int, handle: str, meta: dict[str, int]) -> Any:
    """Make ``module``'s CPU launches of block size ``block_dim`` run code of the object loaded as ``handle``.

    Several modules compiled into one object (a batch) share one loaded copy this way, and its
    code is linked once, where :func:`load_module_binary` loads and links the object per module.
    The object stays loaded for as long as this process lives (for the short-lived children of
    an evaluation).

    Returns:
        Warp's handle on the binary, as :func:`load_module_binary` returns it.
    """
    module_hash = module.get_module_hash(block_dim)
    loaded = _context.ModuleExec(handle, module_hash, wp.get_device("cpu"), meta, block_dim, None, None,
                                 module.hashers[block_dim].kernel_hashes)
    module.execs[(None, block_dim)] = loaded
    _attached.append(loaded)  # Warp unloads an object when a handle on it is collected: this one is shared
    return loaded


def load_module_binary(module: Any, device: str, block_dim: int, binary_path: str, meta_path: str,
                       arch: int | None = None) -> Any:
    """Make ``module``'s launches on ``device`` run the compiled code at ``binary_path`` (object or PTX).

    The binary must define the module's kernel entry points under Warp's symbol names; a binary
    holding several modules' code (a batch) serves each of them. ``meta_path`` is a JSON file
    with the shared-memory sizes Warp's code generator reports (:attr:`ModuleCode.meta`).
    ``block_dim`` is the block size launches resolve to (:func:`launch_block_dim`): the binary
    is registered for those launches, whatever block size its code was generated for.

    Returns:
        Warp's handle on the loaded binary (for :func:`missing_entry_points`).

    Raises:
        Exception: Warp's own error when the binary cannot be loaded.
    """
    return module.load(device, block_dim, binary_path=binary_path, output_arch=arch, meta_path=meta_path)


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


def reset_function_ids() -> None:
    """Restart Warp's process-wide numbering of ``@wp.func`` native names (``helper_0``, ``helper_1``, ...).

    Warp numbers native helper names by how many functions of that name the process has
    created, so without a reset the code of a program would depend on which programs the
    same worker compiled before it. Safe for self-contained programs compiled one module
    at a time (each module's native code is compiled on its own).
    """
    _context.function_key_counts.clear()


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
        if name.startswith("_") or name in INTERNAL_BUILTINS or func.group == "Code Generation":
            continue
        names.add(name)
    return sorted(names)


def user_builtin_groups() -> dict[str, str]:
    """The documentation group of each user-facing builtin (``Scalar Math``, ``Tile Primitives``, ...)."""
    names = set(user_builtin_names())
    return {name: func.group or "Other" for name, func in sorted(_context.builtin_functions.items()) if name in names}


__all__ = [
    "SIGNATURE_TYPES",
    "BuiltinSignature",
    "ModuleCode",
    "builtin_signatures",
    "codegen_module",
    "cuda_available",
    "function_python_object",
    "init_quiet",
    "is_generic_kernel",
    "is_kernel",
    "kernel_args",
    "kernel_enable_backward",
    "warp_defaults",
    "kernel_overloads",
    "kernel_python_function",
    "launch_block_dim",
    "link_cpu_binary",
    "attach_cpu_binary",
    "load_cpu_binary",
    "load_module_binary",
    "missing_entry_points",
    "kernels_in",
    "user_builtin_groups",
    "module_of",
    "release_module",
    "reset_function_ids",
    "struct_python_class",
    "unload_cpu_binary",
    "user_builtin_names",
    "warp_version",
]



# --- the builtin registry as plain data (generator/synth) ---------------------------------------

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
_HANDLE_PREFIXES = ("mesh_", "bvh_", "hash_grid_", "volume_", "texture_", "tile")


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


def _concrete(name: str) -> Any:
    return getattr(wp, name)


def _type_name(t: Any, universe: dict[str, Any]) -> str | None:
    """Name of the universe type equal to ``t`` (Python ``int``/``float`` are int32/float32)."""
    t = {builtins.int: _types.int32, builtins.float: _types.float32, builtins.bool: _types.bool}.get(t, t)
    for name, u in universe.items():
        if _types.types_equal(t, u):
            return name
    return None


def _param_candidates(param: Any, universe: dict[str, Any]) -> list[str]:
    param = {builtins.int: _types.int32, builtins.float: _types.float32}.get(param, param)
    if param is Any:
        return list(universe)
    out = []
    for name, u in universe.items():
        try:
            if _types.types_equal_generic(param, u):
                out.append(name)
        except Exception:  # noqa: BLE001 - a parameter type Warp cannot compare (tuples, callables)
            return []
    return out


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
    init_quiet()
    universe = {name: _concrete(name) for name in SIGNATURE_TYPES}
    found: dict[tuple[str, tuple[str, ...]], BuiltinSignature] = {}
    for name in user_builtin_names():
        if name.startswith(_HANDLE_PREFIXES):
            continue
        func = _context.builtin_functions[name]
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
            lists = [_param_candidates(v, universe) if i == any_first or v is not Any else [None]
                     for i, (_, v) in enumerate(params)]
            if not all(lists):
                continue
            for combo in itertools.product(*lists):
                if any_first is not None:
                    combo = tuple(combo[any_first] if c is None else c for c in combo)
                key = (name, combo)
                if key in found:
                    continue
                sig = _resolve(func, overload, name, params, combo, universe)
                if sig is not None:
                    found[key] = sig
    return tuple(found[k] for k in sorted(found))


def _resolve(func: Any, overload: Any, name: str, params: list[tuple[str, Any]], combo: tuple[str, ...],
             universe: dict[str, Any]) -> BuiltinSignature | None:
    """The signature of ``overload`` on argument types ``combo``, or ``None`` where Warp rejects them.

    A builtin overload is matched the way ``Function.get_overload`` matches each candidate
    (``codegen.func_match_args``), against this overload only: scanning every overload per
    combination costs seconds (``mul`` has hundreds). ``@wp.func``-backed ones go through
    ``get_overload``, which instantiates their templates.
    """
    defaults = overload.defaults
    arg_types = [universe[c] for c in combo]
    try:
        if overload.is_builtin():
            resolved = overload if _codegen.func_match_args(overload, arg_types, {}) else None
        else:
            resolved = func.get_overload(arg_types, {})
        if resolved is None:
            return None
        ret = _return_type(resolved, {k: t for (k, _), t in zip(params, arg_types, strict=True)})
    except Exception:  # noqa: BLE001 - Warp rejects this combination (its message is not needed)
        return None
    if ret is None:
        return None
    rets = list(ret) if isinstance(ret, (list, tuple)) else [ret]
    names = tuple(_type_name(r, universe) for r in rets)
    if not names or None in names:
        return None
    optional = 0
    for k, _ in reversed(params):
        if k not in defaults:
            break
        optional += 1
    return BuiltinSignature(name=name, arg_names=tuple(k for k, _ in params), arg_types=combo,
                            return_types=names, differentiable=bool(resolved.is_differentiable),
                            optional=optional, dtype_param=defaults.get("dtype", 0) is None)


# --- native compilation (used by extraction/native.py) ----------------------------------------------

def split_header(source: str) -> tuple[str, str]:
    """Split a generated translation unit into Warp's module header (defines, includes, cast macros) and body."""
    marker = _context.warp._src.codegen.codegen_cast_macros
    end = source.find(marker)
    if end < 0:
        return "", source
    end += len(marker)
    return source[:end], source[end:]


@contextmanager
def _captured_stderr(sink: list[str]) -> Iterator[None]:
    """Capture what native code writes to file descriptor 2 (compiler diagnostics) into ``sink``."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            sink.append(tmp.read().decode("utf-8", "replace"))


def compile_cpu(cpp_path: str, obj_path: str, block_dim: int = 256, optimization_level: int = 0,
                pch_dir: str | None = None) -> str | None:
    """Compile a C++ file with Warp's bundled Clang/LLVM; return ``None`` on success, else the diagnostics.

    With ``pch_dir``, Warp's headers are precompiled once into that folder and reused by every
    later call given the same folder (a compiler call then costs ~0.4 s instead of ~2.5 s).
    """
    from warp._src import build as _build  # noqa: PLC0415

    init_quiet()  # Warp's compiler lives in its runtime
    messages: list[str] = []
    try:
        with _captured_stderr(messages):
            _build.build_cpu(obj_path, cpp_path, mode="release", block_dim=block_dim,
                             optimization_level=optimization_level, use_precompiled_headers=pch_dir is not None,
                             pch_dir=pch_dir)
    except Exception as exc:  # noqa: BLE001 - the diagnostics are the result
        return (messages[0] if messages else "") + f"\n{exc}"
    return None


def compile_cuda(cu_path: str, ptx_path: str, arch: int = 75, optimization_level: int = 0) -> str | None:
    """Compile a CUDA file to PTX through NVRTC (no GPU needed); ``None`` on success, else the diagnostics."""
    from warp._src import build as _build  # noqa: PLC0415

    init_quiet()
    messages: list[str] = []
    try:
        with _captured_stderr(messages):
            _build.build_cuda(cu_path, arch, ptx_path, pch_dir=None, config="release",
                              optimization_level=optimization_level, use_precompiled_headers=False)
    except Exception as exc:  # noqa: BLE001
        return (messages[0] if messages else "") + f"\n{exc}"
    return None


# --- real-code mining (generator/real/mine.py) -------------------------------------------------------

def warp_modules() -> list[tuple[str, Any]]:
    """Every Warp module the process has created, as ``(name, module)`` sorted by name."""
    return sorted(_context.user_modules.items(), key=lambda item: item[0])


def module_kernels(module: Any) -> list[Any]:
    """The kernels registered in a Warp module (the latest object per key: what its codegen builds)."""
    return list(module.kernels.values())


def warp_module_name(kernel: Any) -> str:
    """Name of the Warp module a kernel is built in (e.g. ``warp.fem.geometry.hexmesh``)."""
    return kernel.module.name


# Where Warp keeps its implementation: library kernels are defined in modules under it
# (e.g. ``warp._src.sparse``) and registered under public Warp module names (``warp.sparse``).
INTERNAL_PACKAGE = "warp._src"


def kernel_arg_types(kernel: Any) -> list[tuple[str, Any]]:
    """``(name, Warp type object)`` for every argument of a kernel (for building launch inputs)."""
    return [(arg.label, arg.type) for arg in kernel.adj.args]
