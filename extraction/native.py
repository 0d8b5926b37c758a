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
from collections.abc import Callable, Iterable, Iterator, Sequence

from extraction import _warp
from extraction.record import KernelRecord

logger = logging.getLogger(__name__)

BATCH_SIZE = 32
CUDA_ARCH = 75  # sm_75: the oldest architecture every current CUDA toolkit targets


def _batch_source(records: Sequence[KernelRecord], target: str) -> str:
    header = _warp.split_header(records[0].generated[target])[0]
    parts = [header]
    for i, rec in enumerate(records):
        body = _warp.split_header(rec.generated[target])[1]
        parts.append(f"\nnamespace wp_ir_{i} {{\n{body}\n}}  // namespace wp_ir_{i}\n")
    return "".join(parts)


def compile_batch(records: Sequence[KernelRecord], target: str, workdir: str) -> str | None:
    """Compile the generated code of ``records`` for ``target`` in one call; ``None`` if it compiled."""
    ext = "cpp" if target == "cpu" else "cu"
    src_path = os.path.join(workdir, f"batch.{ext}")
    with open(src_path, "w", encoding="utf-8") as f:
        f.write(_batch_source(records, target))
    if target == "cpu":
        return _warp.compile_cpu(src_path, src_path + ".o")
    return _warp.compile_cuda(src_path, src_path + ".ptx", arch=CUDA_ARCH)


def _first_error(message: str) -> str:
    for line in message.splitlines():
        if "error" in line.lower():
            return line.strip()[:300]
    return (message.strip().splitlines() or ["compile failed"])[-1][:300]


def find_broken(
    records: Sequence[KernelRecord], compile_fn: Callable[[Sequence[KernelRecord]], str | None]
) -> dict[int, str]:
    """Indices (into ``records``) of the programs that fail ``compile_fn``, with their messages.

    Compiles the whole batch once; on failure bisects, so ``k`` broken programs among ``n``
    cost about ``2k log2(n)`` extra compiler calls.
    """
    def go(lo: int, hi: int, known_error: str | None) -> dict[int, str]:
        error = known_error if known_error is not None else compile_fn(records[lo:hi])
        if error is None:
            return {}
        if hi - lo == 1:
            return {lo: _first_error(error)}
        mid = (lo + hi) // 2
        return {**go(lo, mid, None), **go(mid, hi, None)}

    return go(0, len(records), None)


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
                failed = find_broken(batch, lambda rs, t=target: compile_batch(rs, t, workdir))
                for j, rec in enumerate(batch):
                    ok = j not in failed
                    setattr(rec.validation, f"{target}_compiled", ok)
                    if not ok:
                        broken.setdefault(indices[j], f"{target} compile error: {failed[j]}")
    return broken


def batched(items: Iterable, size: int) -> Iterator[list]:
    """Consecutive lists of ``size`` items (the last may be shorter)."""
    batch: list = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
