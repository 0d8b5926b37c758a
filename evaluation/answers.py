"""A model's answers in the answer box (:mod:`evaluation.box`): their jobs, and their results read back as data.

:func:`prepare_answer` generates a decompile answer's module (loading the program runs it), :func:`run_answer`
launches any answer's compiled kernel; both check what the box sends before anything uses it. :func:`weakness`
reads a reference's run for what makes its row a weak problem (:mod:`extraction.weak`).
"""

from __future__ import annotations

from typing import Any

from evaluation.box import AnswerBox
from evaluation.checks import MAX_ANSWER_BYTES, forbidden
from evaluation.execute import TRIALS, KernelSpec, Module, RunOutput
from extraction import _warp, native
from extraction.inputs import input_hints
from extraction.isolate import Crashed
from extraction.weak import describe, weak_reasons


def _spec(program: KernelSpec) -> dict[str, Any]:
    return {"source": program.source, "kernel_name": program.kernel_name, "target": program.target,
            "tiled": program.tiled, "arguments": [list(a) for a in program.arguments]
            if program.arguments is not None else None}


def prepare_answer(box: AnswerBox, program: KernelSpec, timeout_s: float, memory_mb: int,
                   max_bytes: int = MAX_ANSWER_BYTES) -> Module | Crashed:
    """A decompile answer's module, generated in the box (loading the program runs it); a module over ``max_bytes``
    is refused."""
    result, _, why = box.job("prepare", {"program": _spec(program)}, {}, timeout_s, memory_mb)
    if result is None:
        return Crashed(why)
    if "error" in result:
        return Crashed(str(result["error"])[:300])
    source, meta, block_dim = result.get("source"), result.get("meta"), result.get("block_dim")
    if not (isinstance(source, str) and isinstance(meta, dict) and isinstance(block_dim, int)
            and all(isinstance(k, str) and isinstance(v, int) for k, v in meta.items())):
        return Crashed("its box sent a module that is not one")
    # native snippets (wp.func_native) are native answers too
    why_not = forbidden(_warp.split_header(source)[1], max_bytes)
    return Crashed(f"its generated module: {why_not}") if why_not else Module(source, meta, block_dim)


def run_answer(box: AnswerBox, program: KernelSpec, module: Module, binary: str, meta: str, row: dict[str, Any],
               backward: bool, seed: int, timeout_s: float, memory_mb: int) -> RunOutput | Crashed:
    """Launch one answer's compiled ``binary`` (with its ``meta``) in the box, on the row's inputs (made from hints,
    not from the row's program, which is the answer of the decompile task)."""
    suffix = ".o" if program.target == "cpu" else ".ptx"
    payload = {"program": _spec(program), "input_hints": input_hints(row["python_source"]),
               "launch_dim": row.get("launch_dim"), "block_dim": module.block_dim, "binary": "module" + suffix,
               "meta": "module.meta.json", "arch": None if program.target == "cpu" else native.CUDA_ARCH,
               "backward": backward, "seed": seed}
    result, arrays, why = box.job("run", payload, {"module" + suffix: binary, "module.meta.json": meta},
                                  timeout_s, memory_mb)
    if result is None:
        return Crashed(why)
    names, n_arrays, n_grads = result.get("names"), result.get("arrays"), result.get("grads")
    if not (isinstance(names, list) and all(isinstance(n, str) for n in names) and isinstance(n_arrays, int)
            and isinstance(n_grads, int) and 0 <= n_arrays <= 4096 and 0 <= n_grads <= 4096
            and all(isinstance(result.get(k, ""), str) for k in ("guard", "error", "stage"))):
        return Crashed("its box sent a result that is not one")
    written = result.get("written", [])
    return RunOutput(names=names, arrays=[arrays.get(f"a{i}") for i in range(n_arrays)],
                     grads=[arrays.get(f"g{i}") for i in range(n_grads)], guard=result.get("guard", ""),
                     error=result.get("error", ""), stage=result.get("stage", ""),
                     written=[bool(w) for w in written] if isinstance(written, list) else [])


def weakness(run: RunOutput, backward: bool) -> str:
    """Why a reference's run makes its row a weak problem (:mod:`extraction.weak`; ``""``: it does not)."""
    per_set = len(run.arrays) // TRIALS if run.arrays else 0
    if not per_set or len(run.written) != len(run.arrays):
        return ""
    sets = [[a for a, w in zip(run.arrays[k * per_set:(k + 1) * per_set], run.written[k * per_set:(k + 1) * per_set])
             if w and a is not None] for k in range(TRIALS)]
    gradients = None
    if backward:  # the gradients of the float arrays the kernel reads and does not write
        gradients = [g for g, w in zip(run.grads, run.written) if g is not None and not w and g.dtype.kind == "f"]
    return describe(weak_reasons(sets, gradients))
