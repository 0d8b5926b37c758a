"""Extract the Python source and the generated C++/CUDA forward and backward code of Warp kernels.

Public API:
    :func:`extract_module` – one :class:`KernelRecord` per kernel of a loaded Python module.
    :func:`extract_target` – the same for a ``.py`` file or an importable module name.
    :func:`load_source` / :func:`unload` – run generated programs from memory.
"""

from __future__ import annotations

from collections.abc import Sequence

from extraction._warp import init_quiet, user_builtin_names, warp_version
from extraction.extract import ExtractionError, cut_kernel, extract_kernels, extract_module
from extraction.loader import LoadError, load_source, load_target, loaded_source, unload
from extraction.record import FEATURES, TARGETS, VALIDATION_LEVELS, KernelRecord, Source, Validation


def extract_target(target: str, targets: Sequence[str] = TARGETS) -> list[KernelRecord]:
    """Load ``target`` (a ``.py`` path or module name) and extract all of its kernels.

    Raises:
        LoadError: The target could not be loaded.
        ExtractionError: It has no kernels, or Warp rejected them.
    """
    init_quiet()
    return extract_module(load_target(target), targets)


__all__ = [
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
    "extract_module",
    "extract_target",
    "init_quiet",
    "load_source",
    "load_target",
    "loaded_source",
    "unload",
    "user_builtin_names",
    "warp_version",
]
