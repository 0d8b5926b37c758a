"""Compiling the scorer's modules: a compiler call in a child with limits, a failing batch bisected, and Warp's
headers precompiled once."""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Sequence
from typing import Any

from evaluation.checks import elf_symbols, ptx_imports
from extraction import _warp, native
from extraction.isolate import Crashed, run_isolated
from extraction.loader import loaded_source
from extraction.warp_objects import module_of

logger = logging.getLogger(__name__)

COMPILE_TIMEOUT_S = 600.0  # one compiler call on a batch
MEMORY_MB = 4096  # what a child may allocate beyond what it inherits


def compile_isolated(sources: Sequence[str], target: str, path: str, pch_dir: str | None) -> str | None:
    """:func:`extraction.native.compile_sources` in a child with a time and memory limit (a source may hang Clang)."""
    result = run_isolated([None], lambda _: native.compile_sources(sources, target, path, pch_dir),
                          timeout_s=COMPILE_TIMEOUT_S, memory_mb=2 * MEMORY_MB)[0]
    return f"compiler {result.reason}" if isinstance(result, Crashed) else result


def _without_paths(message: str, path: str) -> str:
    """Compiler diagnostics without this machine's temporary paths (results agree from run to run)."""
    folder = os.path.dirname(path)
    neutral = f"module.{'cpp' if path.endswith('.cpp') else 'cu'}"
    return message.replace(path, neutral).replace(folder + os.sep, "")


def compile_alone(source: str, target: str, path: str, pch_dir: str | None) -> str | None:
    """Compile one module (an answer's) alone into ``path`` (+ ``.o``/``.ptx``): ``None``, or the compiler's first
    error line without temporary paths."""
    return compile_each([(source, path)], target, pch_dir)[0]


def compile_each(modules: Sequence[tuple[str, str]], target: str, pch_dir: str | None) -> list[str | None]:
    """Compile each ``(source, path)`` alone, its own translation unit into its own ``path`` (+ ``.o``/``.ptx``):
    per module ``None``, or the compiler's first error line without temporary paths.

    The compiler runs in one forked child for all of them (a fork per module cost as much as a compile with
    precompiled headers); a module that crashes or hangs the compiler is reported alone and the rest go on in a
    new child (:func:`extraction.isolate.run_isolated`).
    """
    results = run_isolated(list(modules), lambda m: native.compile_sources([m[0]], target, m[1], pch_dir),
                           timeout_s=COMPILE_TIMEOUT_S, memory_mb=2 * MEMORY_MB)
    out: list[str | None] = []
    for (_, path), result in zip(modules, results):
        if isinstance(result, Crashed):
            out.append(f"compiler {result.reason}")
        else:
            out.append(None if result is None else _without_paths(native.first_error(result), path))
    return out


def reference_imports(binaries: Sequence[str], target: str) -> frozenset[str]:
    """What compiled references need from outside (undefined symbols of CPU objects, ``.extern`` PTX functions)."""
    found: set[str] = set()
    for path in binaries:
        if target == "cpu":
            found |= elf_symbols(path)[1]
        else:
            with open(path, encoding="utf-8", errors="replace") as f:
                found |= ptx_imports(f.read())
    return frozenset(found)


def compile_units(units: Sequence[Any], target: str, path: str, pch_dir: str | None) -> dict[int, str]:
    """Compile ``units`` into one binary at ``path`` (+ extension); the broken ones, by index, with why."""
    def attempt(batch: Sequence[Any]) -> str | None:
        return compile_isolated([u.source for u in batch], target, path, pch_dir)

    error = attempt(units)
    if error is None:
        return {}
    # a broken module is found alone (bisection), so its message's line numbers are its own; the path is ours
    broken = {i: _without_paths(message, path) for i, message in native.find_broken(units, attempt, error).items()}
    good = [u for i, u in enumerate(units) if i not in broken]
    if good and attempt(good) is not None:  # cannot happen unless the compiler is flaky
        broken.update({i: "compile failed in its batch" for i, u in enumerate(units) if u in good})
    return broken


_WARM = """import warp as wp


@wp.kernel
def warm(a: wp.array(dtype=float)):
    a[wp.tid()] = 1.0
"""


def warm_headers(pch_dir: str) -> None:
    """Precompile Warp's CPU headers into ``pch_dir`` (once, before workers share the folder)."""
    _warp.init_quiet()
    os.makedirs(pch_dir, exist_ok=True)  # Warp's compiler writes its header there only when the folder exists
    with tempfile.TemporaryDirectory(prefix="warp-ir-pch-") as tmp, loaded_source(_WARM, "warp_ir_eval_warm") as mod:
        source = _warp.codegen_module(module_of(mod.warm), "cpu").source
        result = compile_isolated([source], "cpu", os.path.join(tmp, "warm.cpp"), pch_dir)
    if result is not None:
        logger.warning("precompiling Warp's headers failed (%s): compiles will be slower", result)
