"""Native compilation of generated code, in batches: one compiler call for many programs.

A compiler call has a large fixed cost (parsing Warp's ``builtin.h``), so programs are
compiled together: the generated translation units of a batch share one copy of Warp's
module header and each program's body goes into its own C++ namespace (kernel symbols
carry a content hash, helpers are namespaced, so nothing collides). When a batch fails,
it is split in halves until each broken program is alone, and only those are rejected,
each with the compiler's own message.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from extraction import _warp
from extraction.record import KernelRecord

logger = logging.getLogger(__name__)

BATCH_SIZE = 32
CUDA_ARCH = 75  # sm_75: the oldest architecture every current CUDA toolkit targets


def batch_source(sources: Sequence[str]) -> str:
    """One translation unit holding generated modules that share a header, each in its own namespace."""
    parts = [_warp.split_header(sources[0])[0]]
    for i, source in enumerate(sources):
        body = _warp.split_header(source)[1]
        parts.append(f"\nnamespace wp_ir_{i} {{\n{body}\n}}  // namespace wp_ir_{i}\n")
    return "".join(parts)


def compile_sources(sources: Sequence[str], target: str, src_path: str, pch_dir: str | None = None) -> str | None:
    """Write :func:`batch_source` to ``src_path`` and compile it next to it (``.o`` or ``.ptx``).

    ``pch_dir``: a folder for Warp's precompiled headers (CPU), shared by the calls that pass it.

    Returns:
        ``None`` when it compiled, else the compiler's diagnostics.
    """
    with open(src_path, "w", encoding="utf-8") as f:
        f.write(batch_source(sources))
    if target == "cpu":
        return _warp.compile_cpu(src_path, binary_path(src_path, target), pch_dir=pch_dir)
    return _warp.compile_cuda(src_path, binary_path(src_path, target), arch=CUDA_ARCH)


def binary_path(src_path: str, target: str) -> str:
    """Where :func:`compile_sources` puts the binary compiled from ``src_path``."""
    return src_path + (".o" if target == "cpu" else ".ptx")


def compile_batch(records: Sequence[KernelRecord], target: str, workdir: str) -> str | None:
    """Compile the generated code of ``records`` for ``target`` in one call; ``None`` if it compiled."""
    src_path = os.path.join(workdir, f"batch.{'cpp' if target == 'cpu' else 'cu'}")
    return compile_sources([rec.generated[target] for rec in records], target, src_path)


def first_error(message: str) -> str:
    for line in message.splitlines():
        if "error" in line.lower():
            return line.strip()[:300]
    return (message.strip().splitlines() or ["compile failed"])[-1][:300]


def find_broken(
    records: Sequence[Any], compile_fn: Callable[[Sequence[Any]], str | None], error: str | None = None
) -> dict[int, str]:
    """Indices (into ``records``) of the programs that fail ``compile_fn``, with their messages.

    Compiles the whole batch once (unless ``error`` says how it already failed); on failure
    bisects, so ``k`` broken programs among ``n`` cost about ``2k log2(n)`` extra compiler calls.
    """
    def go(lo: int, hi: int, known_error: str | None) -> dict[int, str]:
        error = known_error if known_error is not None else compile_fn(records[lo:hi])
        if error is None:
            return {}
        if hi - lo == 1:
            return {lo: first_error(error)}
        mid = (lo + hi) // 2
        return {**go(lo, mid, None), **go(mid, hi, None)}

    return go(0, len(records), error)


def compile_records(records: Sequence[KernelRecord], targets: Sequence[str]) -> dict[int, str]:
    """Compile ``records`` natively for every target, marking ``validation.cpu_compiled``/``cuda_compiled``.

    Returns:
        Index -> ``"<target> compile error: <first error line>"`` for the records that failed.
    """
    broken: dict[int, str] = {}
    with tempfile.TemporaryDirectory(prefix="warp-ir-compile-") as workdir:
        for target in targets:
            # records sharing a module header (block dim, bfloat16 use) can share a translation unit
            groups: dict[str, list[int]] = {}
            for i, rec in enumerate(records):
                groups.setdefault(_warp.split_header(rec.generated[target])[0], []).append(i)
            for indices in groups.values():
                batch = [records[i] for i in indices]
                failed = find_broken(batch, partial(compile_batch, target=target, workdir=workdir))
                for j, rec in enumerate(batch):
                    ok = j not in failed
                    setattr(rec.validation, f"{target}_compiled", ok)
                    if not ok:
                        broken.setdefault(indices[j], f"{target} compile error: {failed[j]}")
    return broken
