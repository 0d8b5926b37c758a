"""Extract the Python source and the generated C++/CUDA forward and backward code of Warp kernels.

Public API:
    :func:`extract_module` – one :class:`KernelRecord` per kernel of a loaded Python module.
    :func:`extract_target` – the same for a ``.py`` file or an importable module name (runs its code here).
    :func:`extract_in_child` – the rows of a ``.py`` file or module, imported in a child process
        with a time limit (:class:`ChildError` on failure).
    :func:`load_source` / :func:`unload` – run generated programs from memory.
"""

from __future__ import annotations

from extraction._warp import init_quiet, kernel_cache, warp_defaults, warp_version
from extraction.extract import ExtractionError, cut_kernel, extract_kernels, extract_module, extract_target
from extraction.loader import LoadError, load_source, load_target, loaded_source, unload
from extraction.record import FEATURES, TARGETS, VALIDATION_LEVELS, KernelRecord, Source, Validation, rows_table
from extraction.signatures import user_builtin_groups, user_builtin_names


def __getattr__(name: str) -> object:
    # Imported on first use, so that ``python -m extraction.child`` does not find its own module
    # already imported by this package (runpy warns about that).
    if name in ("ChildError", "extract_in_child"):
        from extraction import child  # noqa: PLC0415 - on first use, see above

        return getattr(child, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ChildError",
    "FEATURES",
    "TARGETS",
    "VALIDATION_LEVELS",
    "ExtractionError",
    "KernelRecord",
    "LoadError",
    "Validation",
    "Source",
    "cut_kernel",
    "extract_kernels",
    "extract_in_child",
    "extract_module",
    "extract_target",
    "kernel_cache",
    "warp_defaults",
    "init_quiet",
    "load_source",
    "load_target",
    "rows_table",
    "loaded_source",
    "unload",
    "user_builtin_groups",
    "user_builtin_names",
    "warp_version",
]
