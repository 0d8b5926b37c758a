"""Validation stage of the pipeline: prove each record beyond code generation.

``compile``: native compilation for every target, batched (:mod:`extraction.native`).
Rows that fail are rejected with the compiler's message.
``run`` / ``grad``: each kernel is launched on CPU (and gradient-checked) in a forked
child (:mod:`extraction.isolate`); the outcome is recorded on the row, which is kept
either way: a row that compiled is valid training data even when the generic input
generator cannot drive it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence

from common.batching import batched
from extraction import loaded_source
from extraction._warp import is_kernel
from extraction.isolate import Crashed, run_isolated
from extraction.native import BATCH_SIZE, compile_records
from extraction.record import VALIDATION_LEVELS, KernelRecord
from extraction.runtime import RunResult, validate_kernel
from extraction.warp_objects import is_generic_kernel, kernel_overloads
from generator.codegen.pipeline import Counts

logger = logging.getLogger(__name__)


def _run_one(job: tuple[str, str, int | None, str, dict, str, str]) -> RunResult:
    """Child-side: load one program from memory and run/grad-check its kernel.

    Each program gets its own module name, so Warp's module cache never hands one program's
    compiled binary to another.
    """
    source, kernel_name, launch_dim, level, hints, code, record_id = job
    with loaded_source(source, f"warp_ir_run_{record_id}") as module:
        kernel = next(v for v in vars(module).values() if is_kernel(v) and v.key == kernel_name)
        if is_generic_kernel(kernel) and kernel_overloads(kernel):  # a generic kernel runs as its overload
            kernel = kernel_overloads(kernel)[0]
        return validate_kernel(kernel, source, launch_dim, level, hints, code)


def run_records(records: Sequence[KernelRecord], level: str) -> None:
    """Fill ``validation.ran``/``weak``/``grad_ok``/``grad_max_rel_error``/``note`` and the level reached, in place."""
    jobs = [(r.python_source, r.kernel_name, r.launch_dim, level, r.run_hints, r.cpp_forward or r.cuda_forward or "",
             r.id or r.content_hash[:16]) for r in records]
    for rec, res in zip(records, run_isolated(jobs, _run_one)):
        v = rec.validation
        if isinstance(res, Crashed):
            v.ran, v.note = False, f"run: {res.reason}"
            continue
        v.ran, v.note, v.weak = res.ran, res.note, res.weak
        v.grad_ok, v.grad_max_rel_error = res.grad_ok, res.grad_max_rel_error
        if res.differentiable is not None:
            v.differentiable = v.differentiable and res.differentiable
        if res.ran:
            v.level = "grad" if level == "grad" and res.grad_ok else "run"


def validate_records(
    records: Iterable[KernelRecord], level: str, targets: Sequence[str], counts: Counts
) -> Iterator[KernelRecord]:
    """Validate ``records`` up to ``level``; yield the ones that pass compilation, in order.

    Args:
        records: Records at the ``codegen`` level.
        level: One of :data:`~extraction.record.VALIDATION_LEVELS`.
        targets: Targets whose code is compiled.
        counts: Where rejections are counted.
    """
    if VALIDATION_LEVELS.index(level) < VALIDATION_LEVELS.index("compile"):
        yield from records
        return
    for batch in batched(records, BATCH_SIZE):
        broken = compile_records(batch, targets)
        kept = []
        for i, rec in enumerate(batch):
            if i in broken:
                counts.reject(rec.family, broken[i], rec.id)
                continue
            rec.validation.level = "compile"
            kept.append(rec)
        if level in ("run", "grad") and kept:
            run_records(kept, level)
        yield from kept
