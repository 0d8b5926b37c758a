"""The one module that touches Warp internals (``warp._src``).

Everything else in warp-ir goes through the small functions here, so a Warp
upgrade that moves an internal breaks exactly one file, and
``tests/extraction/test_warp_internals.py`` says which function broke.
Tested against warp-lang 1.19. What needs no ``warp._src`` lives beside it:
the records it fills (:mod:`extraction.module_code`, :mod:`extraction.signatures`),
the attributes of Warp's objects (:mod:`extraction.warp_objects`) and the capture of
native diagnostics (:mod:`extraction.capture`).
"""

from __future__ import annotations

import builtins
import ctypes
import itertools
import logging
import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import warp as wp
from warp._src import codegen as _codegen  # (internal: kept to this module)
from warp._src import context as _context
from warp._src import types as _types

from extraction.capture import captured_stderr
from extraction.module_code import ModuleCode, stable_paths


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
    previous: str = wp.config.kernel_cache_dir or ""  # set by init_quiet above
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


def default_module_options() -> dict[str, Any]:
    """The options a new Warp module gets under Warp's default settings (what a program's module starts with)."""
    with warp_defaults():
        return dict(_context.Module(None).options)


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


def cooperative_cpu_blocks() -> None:
    """Run tiled CPU launches with the block size they ask for (Warp's cooperative CPU blocks), in this process."""
    wp.config.enable_cpu_blocks = True


def launch_block_dim(kernel: Any, device: str, tiled: bool) -> int:
    """The block size a launch of ``kernel`` on ``device`` resolves to (its module is built for it).

    A plain CPU launch runs one thread per block; a tiled launch asks for the module's ``block_dim``
    option, which Warp grants on CPU only where cooperative CPU blocks are enabled: they are, for a tiled
    launch, so that it runs the code generated for that block size (the row's code) as Warp runs it,
    with ``block_dim`` cooperating threads a block (with them off, Warp would build other code, for 1).
    """
    if tiled and device == "cpu":
        cooperative_cpu_blocks()
    requested = kernel.module.options["block_dim"] if tiled else None
    return int(_context._resolve_launch_block_dim(wp.get_device(device), requested))


_handles = itertools.count()
_attached: list[Any] = []  # handles of attach_cpu_binary: kept (and the objects loaded) while the process lives


def _llvm() -> Any:
    """Warp's CPU loader (its runtime exists once :func:`init_quiet` ran)."""
    runtime = _context.runtime
    if runtime is None or runtime.llvm is None:
        raise RuntimeError("Warp's CPU runtime is not initialised")
    return runtime.llvm


def load_cpu_binary(binary_path: str) -> str:
    """Load a compiled CPU object once, for :func:`attach_cpu_binary`; returns its handle.

    Raises:
        RuntimeError: Warp's loader refused the object.
    """
    init_quiet()
    handle = f"warp_ir_binary_{next(_handles)}"
    if _llvm().wp_load_obj(binary_path.encode(), handle.encode(), wp.config.legacy_cpu_linker) != 0:
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
    with captured_stderr(sink):  # Warp's loader prints why a lookup failed
        address = _llvm().wp_lookup(handle.encode(), symbol.encode())
    return bool(address)


def unload_cpu_binary(handle: str) -> None:
    """Unload an object loaded by :func:`load_cpu_binary` (no module may still run its code)."""
    _llvm().wp_unload_obj(handle.encode())


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


def is_kernel(obj: Any) -> bool:
    """Whether ``obj`` is a Warp kernel."""
    return isinstance(obj, _context.Kernel)


def reset_function_ids() -> None:
    """Restart Warp's process-wide numbering of ``@wp.func`` native names (``helper_0``, ``helper_1``, ...).

    Warp numbers native helper names by how many functions of that name the process has
    created, so without a reset the code of a program would depend on which programs the
    same worker compiled before it. Safe for self-contained programs compiled one module
    at a time (each module's native code is compiled on its own).
    """
    _context.function_key_counts.clear()


@contextmanager
def own_modules() -> Iterator[None]:
    """Warp modules created in the block see none of the ones before it, and are released after it.

    A kernel declared with ``module="unique"`` joins an existing module of the same content hash: a
    program loaded where its package was imported would get the package's kernel object back, not
    its own. Hidden while the block runs, the earlier modules are there again after it.
    """
    saved = dict(_context.user_modules)
    _context.user_modules.clear()
    try:
        yield
    finally:
        for name in list(_context.user_modules):
            release_module(name)
        _context.user_modules.clear()
        _context.user_modules.update(saved)


class _Skipped:
    """What a switched-off launch returns: its every attribute is a call that does nothing and returns it again
    (a recorded launch's ``set_param_at_index``, ``launch``; a loaded module's ``get_kernel_hooks``, ...)."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return _skipped


def _skipped(*args: Any, **kwargs: Any) -> _Skipped:
    return _SKIPPED


_SKIPPED = _Skipped()


def config_settings() -> dict[str, Any]:
    """Warp's global settings as they are now: ``wp.config``'s public flags, numbers and strings."""
    return {k: v for k, v in vars(wp.config).items()
            if not k.startswith("_") and isinstance(v, (bool, int, float, str, type(None)))}


def restore_config(settings: dict[str, Any]) -> None:
    """Put Warp's global settings back as :func:`config_settings` gave them (a setting added since is removed)."""
    for key in [k for k in config_settings() if k not in settings]:
        delattr(wp.config, key)
    for key, value in settings.items():
        setattr(wp.config, key, value)


@contextmanager
def no_launches() -> Iterator[None]:
    """Kernel launches do nothing in the block: a package's script runs its Python (and its kernel factories) but
    nothing is compiled or executed (``wp.launch``, ``wp.launch_tiled``, ``wp.capture_launch``, ``Module.load``).
    New CPU arrays are zero-filled in the block: the kernels that would have filled them do not run, and native code
    fed their uninitialised memory (``Volume.allocate_by_voxels`` on the voxel points of a skipped kernel) crashed
    the process on some runs and not others. Warp's global settings (``wp.config``) a script changes are as they were
    after the block."""
    names = ("launch", "launch_tiled", "capture_launch")
    saved: list[tuple[Any, str, Any]] = [(owner, name, getattr(owner, name)) for owner in (wp, _context)
                                         for name in names if hasattr(owner, name)]
    saved.append((_context.Module, "load", _context.Module.load))
    patches = [(owner, name, _skipped) for owner, name, _ in saved]
    for allocator in (_context.CpuDefaultAllocator, _context.CpuPinnedAllocator):
        saved.append((allocator, "allocate", allocator.allocate))
        patches.append((allocator, "allocate", _zeroed(allocator.allocate)))
    config = config_settings()
    for owner, name, value in patches:
        setattr(owner, name, value)
    try:
        yield
    finally:
        for owner, name, value in saved:
            setattr(owner, name, value)
        restore_config(config)


def _zeroed(allocate: Any) -> Any:
    """``allocate`` whose memory is zero-filled (see :func:`no_launches`)."""

    def zeroed(self: Any, size_in_bytes: int) -> int:
        ptr = allocate(self, size_in_bytes)
        ctypes.memset(ptr, 0, size_in_bytes)
        return ptr

    return zeroed


def release_module(name: str) -> None:
    """Forget a Warp module so that its kernels, functions and generated code can be freed."""
    module = _context.user_modules.pop(name, None)
    if module is not None:
        module.unload()
        module.kernels = {}
        module.functions = {}
        module.structs = {}


# --- the builtin registry, for extraction/signatures.py ------------------------------------------

def builtin_registry() -> dict[str, Any]:
    """Warp's builtin functions by name (each with its ``overloads``, ``group``, ``input_types``...)."""
    return _context.builtin_functions


def type_name(t: Any, universe: dict[str, Any]) -> str | None:
    """Name of the universe type equal to ``t`` (Python ``int``/``float`` are int32/float32)."""
    t = {builtins.int: _types.int32, builtins.float: _types.float32, builtins.bool: _types.bool}.get(t, t)
    for name, u in universe.items():
        if _types.types_equal(t, u):
            return name
    return None


def param_candidates(param: Any, universe: dict[str, Any]) -> list[str]:
    """Names of the universe types a (possibly generic) parameter type matches; ``[]`` when it cannot say."""
    param = {builtins.int: _types.int32, builtins.float: _types.float32}.get(param, param)
    if param is Any:
        return list(universe)
    out = []
    for name, u in universe.items():
        try:
            if _types.types_equal_generic(param, u):
                out.append(name)
        except Exception:  # a parameter type Warp cannot compare (tuples, callables)
            return []
    return out


def match_overload(func: Any, overload: Any, arg_types: list[Any]) -> Any | None:
    """``overload`` of builtin ``func`` resolved on ``arg_types``, or ``None`` where it does not match.

    A builtin overload is matched the way ``Function.get_overload`` matches each candidate
    (``codegen.func_match_args``), against this overload only: scanning every overload per
    combination costs seconds (``mul`` has hundreds). ``@wp.func``-backed ones go through
    ``get_overload``, which instantiates their templates.

    Raises:
        Exception: Whatever Warp raises on a combination it rejects.
    """
    if overload.is_builtin():
        return overload if _codegen.func_match_args(overload, arg_types, {}) else None
    return func.get_overload(arg_types, {})


# --- native compilation (used by extraction/native.py) ----------------------------------------------

def split_header(source: str) -> tuple[str, str]:
    """Split a generated translation unit into Warp's module header (defines, includes, cast macros) and body."""
    marker = _context.warp._src.codegen.codegen_cast_macros
    end = source.find(marker)
    if end < 0:
        return "", source
    end += len(marker)
    return source[:end], source[end:]


_BLOCK_DIM = re.compile(r"^#define WP_TILE_BLOCK_DIM (\d+)$", re.MULTILINE)  # in a generated module's header


def compile_cpu(cpp_path: str, obj_path: str, block_dim: int | None = None, optimization_level: int = 0,
                pch_dir: str | None = None) -> str | None:
    """Compile a C++ file with Warp's bundled Clang/LLVM; return ``None`` on success, else the diagnostics.

    ``block_dim``: the block size the module was generated for (default: its ``WP_TILE_BLOCK_DIM``, else 256).

    With ``pch_dir``, Warp's headers are precompiled once into that folder and reused by every
    later call given the same folder (a compiler call then costs ~0.4 s instead of ~2.5 s).
    """
    from warp._src import build as _build  # noqa: PLC0415

    init_quiet()  # Warp's compiler lives in its runtime
    if block_dim is None:
        with open(cpp_path, encoding="utf-8", errors="replace") as f:
            found = _BLOCK_DIM.search(f.read(8192))
        block_dim = int(found[1]) if found else 256
    if pch_dir is not None:
        os.makedirs(pch_dir, exist_ok=True)  # without the folder, Warp's compiler makes no precompiled header
    messages: list[str] = []
    try:
        with captured_stderr(messages):
            _build.build_cpu(obj_path, cpp_path, mode="release", block_dim=block_dim,
                             optimization_level=optimization_level, use_precompiled_headers=pch_dir is not None,
                             pch_dir=pch_dir)
    except Exception as exc:  # the diagnostics are the result
        return (messages[0] if messages else "") + f"\n{exc}"
    return None


def compile_cuda(cu_path: str, ptx_path: str, arch: int = 75, optimization_level: int = 0) -> str | None:
    """Compile a CUDA file to PTX through NVRTC (no GPU needed); ``None`` on success, else the diagnostics."""
    from warp._src import build as _build  # noqa: PLC0415

    init_quiet()
    messages: list[str] = []
    try:
        with captured_stderr(messages):
            _build.build_cuda(cu_path, arch, ptx_path, pch_dir=None, config="release",
                              optimization_level=optimization_level, use_precompiled_headers=False)
    except Exception as exc:
        return (messages[0] if messages else "") + f"\n{exc}"
    return None


# --- real-code mining (generator/real/mine.py) -------------------------------------------------------

def warp_modules() -> list[tuple[str, Any]]:
    """Every Warp module the process has created, as ``(name, module)`` sorted by name."""
    return sorted(_context.user_modules.items(), key=lambda item: item[0])


__all__ = [
    "ModuleCode",
    "attach_cpu_binary",
    "builtin_registry",
    "default_module_options",
    "codegen_module",
    "compile_cpu",
    "compile_cuda",
    "config_settings",
    "cuda_available",
    "init_quiet",
    "is_kernel",
    "kernel_args",
    "kernel_cache",
    "launch_block_dim",
    "link_cpu_binary",
    "load_cpu_binary",
    "load_module_binary",
    "match_overload",
    "missing_entry_points",
    "no_launches",
    "own_modules",
    "param_candidates",
    "release_module",
    "reset_function_ids",
    "restore_config",
    "split_header",
    "type_name",
    "unload_cpu_binary",
    "warp_defaults",
    "warp_modules",
    "warp_version",
]
