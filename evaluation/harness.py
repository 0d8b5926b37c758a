"""Score the predictions of a list of problems in this process: the ladder, with batched compiles.

For each task, every prediction climbs the rungs of :data:`RUNGS`:

1. ``exact``: the answer's code equals the reference (surrounding blank lines aside);
2. ``normalized``: equal after :mod:`evaluation.normalize` (generated code) or with the same
   abstract syntax tree (Python, for the decompile task);
3. ``compiles``: the prediction spliced into Warp's module for the row's program
   (:mod:`evaluation.splice`) compiles natively: CPU with Warp's Clang, CUDA with NVRTC to PTX.
   For the decompile task, the predicted program loads, defines the kernel with the reference's
   arguments, and its generated CPU module compiles;
4. ``correct``: the compiled module is launched on the reference's inputs and every array (and,
   for backward tasks, every gradient) matches the reference's (:mod:`evaluation.compare`). CUDA
   code runs only where a GPU is present; elsewhere this rung is ``None`` (not scored).

References are compiled :data:`BATCH_SIZE` modules to a compiler call, with Warp's headers precompiled once (a
failing batch is bisected), and run in forked children with time and memory limits
(:func:`extraction.isolate.run_isolated`): they are the dataset's programs. An answer is never in a batch: each
is checked first (:func:`evaluation.checks.forbidden`: no directive in any spelling, no inline assembly, a size
cap), compiled alone in a folder that holds nothing else, its binary checked (:func:`evaluation.checks.object_problem`:
it needs from outside only what the references need, and defines nothing outside its module), and every piece of
it that runs — a decompile answer's program, any answer's kernel — runs in the answer box
(:mod:`evaluation.box`), a fresh process in Linux namespaces that holds no rows, no references and no path to the
data, and reports as JSON and ``.npz`` (never a pickle). An answer's verdict thus depends on it and its row only.
"""

from __future__ import annotations

import ast
import logging
import os
import re
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from common.batching import batched
from common.progress import Progress
from evaluation.answers import prepare_answer, run_answer, weakness
from evaluation.box import AnswerBox
from evaluation.checks import answer_limit, forbidden, object_problem, oversized, ptx_problem
from evaluation.compare import compare
from evaluation.compiling import MEMORY_MB, compile_each, compile_units, reference_imports
from evaluation.execute import (
    KernelSpec,
    Module,
    RunJob,
    RunOutput,
    is_tiled,
    preload,
    prepare,
    release,
    run,
    run_shared,
    write_meta,
)
from evaluation.normalize import same_normalized
from evaluation.splice import SpliceError, splice
from evaluation.tasks import Task, answer_code
from extraction import _warp, native
from extraction.isolate import Crashed, run_isolated

logger = logging.getLogger(__name__)

RUNGS: tuple[str, ...] = ("exact", "normalized", "compiles", "correct")
_WRAPPER = re.compile(r"WP_API void (\w+_cpu_forward)\(")  # a CPU module's launch wrapper (looking it up links)
BATCH_SIZE = 64  # modules a compiler call: 128 compiled 12% faster than 32, but a broken one costs more to find
RUN_TIMEOUT_S = 60.0  # one launch of one sample (loading included)


@dataclass(frozen=True, slots=True)
class Problem:
    """The predictions of one predictions-file line for one row.

    Attributes:
        line: The line number in the predictions file.
        row: The dataset row (all its columns).
        task: The task.
        texts: The model's answers, in order.
    """

    line: int
    row: dict[str, Any]
    task: Task
    texts: tuple[str, ...]


@dataclass(slots=True)
class Sample:
    """The result of one prediction: one line of the results file.

    ``compiles``/``correct`` are ``None`` where the rung was not scored (CUDA without a GPU, or a
    reference that could not be built or run, with the reason in ``error``). ``weak`` says why the row is a
    weak problem (its reference's run on the input sets: :func:`weakness`), ``""`` when it is not or was not run;
    ``seed`` is the inputs' seed; ``max_abs_diff``/``max_rel_diff`` the largest differences from the reference.
    """

    line: int
    id: str
    task: str
    sample: int
    family: str
    complexity: int
    exact: bool = False
    normalized: bool = False
    compiles: bool | None = False
    correct: bool | None = False
    max_abs_diff: float | None = None
    max_rel_diff: float | None = None
    error: str = ""
    seed: int = 0
    weak: str = ""

    def to_json(self) -> dict[str, Any]:
        """The result as a JSON object."""
        return asdict(self)


@dataclass(slots=True, eq=False)  # a unit is itself: membership tests compare identity, not source text
class _Unit:
    """One module to compile: a row's reference or one distinct prediction of it."""

    problem: int
    slot: int  # -1 for the reference, else the index of the distinct prediction
    source: str
    module: Module
    program: KernelSpec
    error: str = ""
    binary: str = ""
    meta: str = ""
    batch_size: int = 0
    samples: list[int] = field(default_factory=list)


class _Clock:
    """Logs how long each stage of scoring a task took (the eval benchmark reports where time goes)."""

    def __init__(self, label: str, bar: Progress | None = None) -> None:
        self.label, self.start, self.bar = label, time.perf_counter(), bar
        self.laps: dict[str, float] = {}

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.laps[stage] = now - self.start
        logger.info("%s: %s %.2f s", self.label, stage, now - self.start)
        if self.bar is not None:  # what a person waiting sees: the stage just finished
            self.bar.update(0, note=f"{self.label}: {stage} done")
        self.start = now


def _same_python(a: str, b: str) -> bool:
    try:
        return ast.dump(ast.parse(a)) == ast.dump(ast.parse(b))
    except (SyntaxError, ValueError, RecursionError):
        return False


def _text_rungs(task: Task, code: str, reference: str) -> tuple[bool, bool]:
    exact = code.strip() == reference.strip()
    if exact:
        return True, True
    return False, _same_python(code, reference) if task.decompile else same_normalized(code, reference)


def _compile_references(units: list[_Unit], target: str, workdir: str, pch_dir: str | None) -> frozenset[str]:
    """Compile references in batches of modules sharing a header (in a folder of their own); set each unit's
    ``binary`` or ``error``. Returns what their binaries need from outside (what answers may need too)."""
    folder = os.path.join(workdir, "references")
    os.makedirs(folder, exist_ok=True)
    first: dict[str, _Unit] = {}  # one compile per distinct module (a row asked twice is one module)
    for u in units:
        first.setdefault(u.source, u)
    groups: dict[str, list[_Unit]] = {}
    for u in first.values():
        groups.setdefault(_warp.split_header(u.source)[0], []).append(u)
    binaries = []
    for number, batch in enumerate(b for _, members in sorted(groups.items(), key=lambda kv: kv[1][0].problem)
                                   for b in batched(members, BATCH_SIZE)):
        path = os.path.join(folder, f"reference-{number}.{'cpp' if target == 'cpu' else 'cu'}")
        t0 = time.perf_counter()
        broken = compile_units(batch, target, path, pch_dir)
        logger.info("compiled %d modules in %.2f s (%d broken)", len(batch), time.perf_counter() - t0, len(broken))
        good = [u for i, u in enumerate(batch) if i not in broken]
        meta = path + ".meta.json"
        write_meta(meta, [u.module for u in good])
        for i, u in enumerate(batch):
            if i in broken:
                u.error = f"{target} compile error: {broken[i]}"
            else:
                u.binary, u.meta, u.batch_size = native.binary_path(path, target), meta, len(good)
        if good:
            binaries.append(native.binary_path(path, target))
    for u in units:
        same = first[u.source]
        u.binary, u.meta, u.batch_size, u.error = same.binary, same.meta, same.batch_size, same.error
    return reference_imports(binaries, target)


_ENTRY_POINTS = re.compile(r"\bWP_API\s+\w+\s+(\w+)\s*\(")  # the extern "C" functions of a Warp module


def _compile_answers(units: list[_Unit], target: str, folder: str, pch_dir: str | None,
                     imports: frozenset[str]) -> None:
    """Compile each answer's module alone, in a folder of its own that holds nothing else, and check what its
    binary needs and defines (:mod:`evaluation.checks`); set each unit's ``binary`` or ``error``."""
    paths = []
    for u in units:
        own = os.path.join(folder, f"{u.problem}-{u.slot}")
        os.makedirs(own)
        paths.append(os.path.join(own, f"module.{'cpp' if target == 'cpu' else 'cu'}"))
    for u, path, error in zip(units, paths, compile_each([(u.source, p) for u, p in zip(units, paths)], target,
                                                         pch_dir)):
        if error is not None:
            u.error = f"{target} compile error: {error}"
        else:
            _check_binary(u, target, path, imports)


def _check_binary(u: _Unit, target: str, path: str, imports: frozenset[str]) -> None:
    """Accept a compiled answer's binary (set ``binary``/``meta``) or refuse it (set ``error``)."""
    binary = native.binary_path(path, target)
    problem = object_problem(binary, imports, frozenset(_ENTRY_POINTS.findall(u.module.source))) \
        if target == "cpu" else ptx_problem(binary, imports)
    if problem is not None:
        u.error = f"{target} binary: {problem}"
        return
    meta = path + ".meta.json"
    write_meta(meta, [u.module])
    u.binary, u.meta, u.batch_size = binary, meta, 1


def _run_references(units: list[_Unit], problems: Any, task: Task, seed: int, target: str
                    ) -> dict[int, Any]:
    """Run every reference in a child of its own; each batch's CPU binary is linked once, here (no code of it
    runs), and inherited by the children. Returns the result of each reference's problem."""
    out: dict[int, Any] = {}
    for binary, members in _by_binary(units).items():
        wrapper = _WRAPPER.search(members[0].source)
        linked = target == "cpu" and wrapper is not None and preload(binary, wrapper[1])
        jobs = [_job(u, problems[u.problem].row, task, seed, problems[u.problem].row["python_source"])
                for u in members]
        for u, result in zip(members, run_isolated(jobs, run_shared if linked else run,
                                                   timeout_s=RUN_TIMEOUT_S, memory_mb=MEMORY_MB, one_per_child=True)):
            out[u.problem] = result
        if linked:
            release(binary)
    return out


def _by_binary(units: list[_Unit]) -> dict[str, list[_Unit]]:
    groups: dict[str, list[_Unit]] = {}
    for u in units:
        groups.setdefault(u.binary, []).append(u)
    return groups


def _arguments(row: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple((a["name"], a["type"]) for a in row.get("arguments") or [])


def _job(u: _Unit, row: dict[str, Any], task: Task, seed: int, input_source: str) -> RunJob:
    return RunJob(program=u.program, input_source=input_source, launch_dim=row.get("launch_dim"),
                  block_dim=u.module.block_dim, binary=u.binary, meta=u.meta,
                  arch=None if u.program.target == "cpu" else native.CUDA_ARCH, backward=task.backward, seed=seed)


def score(problems: Sequence[Problem], workdir: str, seed: int = 0, run_cuda: bool | None = None,
          pch_dir: str | None = None, bar: Progress | None = None, isolation: str = "namespaces") -> list[Sample]:
    """Score every prediction of ``problems``; one :class:`Sample` each, ordered by line and sample.

    Args:
        problems: The problems (any tasks).
        workdir: An empty folder this call may fill with sources and binaries.
        seed: Seed of the launch inputs.
        run_cuda: Launch CUDA code (default: when a GPU is present).
        pch_dir: A folder of precompiled Warp headers to use (see :func:`evaluation.compiling.warm_headers`).
        bar: Counts the predictions scored (a task's, when it is done) and names each stage as it ends.
        isolation: How answers are boxed (:mod:`evaluation.box`): ``namespaces`` or ``process``.

    Raises:
        IsolationUnavailable: The answers' box cannot be made with ``isolation``.
    """
    _warp.init_quiet()
    run_cuda = _warp.cuda_available() if run_cuda is None else run_cuda
    out: list[Sample] = []
    with AnswerBox(os.path.join(workdir, "box"), isolation) as box:
        box.start()  # fails here, before any work, when the isolation cannot be had
        for name in sorted({p.task.name for p in problems}):
            task_problems = [p for p in problems if p.task.name == name]
            out += _score_task(task_problems, task_problems[0].task,
                               os.path.join(workdir, task_problems[0].task.slug), seed, run_cuda, pch_dir, box, bar)
            if bar is not None:
                bar.update(sum(len(p.texts) for p in task_problems))
    return sorted(out, key=lambda s: (s.line, s.sample))


def _score_task(problems: list[Problem], task: Task, workdir: str, seed: int, run_cuda: bool,
                pch_dir: str | None, box: AnswerBox, bar: Progress | None = None) -> list[Sample]:
    os.makedirs(workdir, exist_ok=True)
    target = "cpu" if task.device == "cpu" or task.decompile else "cuda"
    executes = target == "cpu" or run_cuda
    samples: list[list[Sample]] = []
    distinct: list[dict[str, list[int]]] = []  # per problem: code -> indices of the samples giving it
    for p in problems:
        codes = [answer_code(t) for t in p.texts]
        reference = p.row[task.target] or ""
        row_samples = []
        for i, code in enumerate(codes):
            exact, normalized = _text_rungs(task, code, reference)
            row_samples.append(Sample(p.line, p.row["id"], task.name, i, p.row.get("family") or "",
                                      int(p.row.get("complexity") or 0), exact, normalized, seed=seed))
        samples.append(row_samples)
        groups: dict[str, list[int]] = {}
        for i, code in enumerate(codes):
            groups.setdefault(code, []).append(i)
        distinct.append(groups)

    def fail(pi: int, indices: list[int], error: str, scored: bool = True) -> None:
        for i in indices:
            s = samples[pi][i]
            s.error = error
            if not scored:
                s.compiles = s.correct = None

    # the references' modules, generated in a child (loading a row's program runs its code)
    programs = [KernelSpec(p.row["python_source"], p.row["kernel_name"], target,
                           tiled=is_tiled(p.row.get("cpp_forward") or p.row.get("cuda_forward") or "")
                           and (p.row.get("launch_dim") or 1) < 4,  # launch_tiled adds a dimension: 4 at most
                           arguments=_arguments(p.row)) for p in problems]
    clock = _Clock(task.name, bar)
    modules = run_isolated(programs, prepare, timeout_s=RUN_TIMEOUT_S, memory_mb=MEMORY_MB)
    clock.lap("generate reference modules")
    units: list[_Unit] = []
    refs: dict[int, _Unit] = {}
    for pi, (p, program, module) in enumerate(zip(problems, programs, modules)):
        if isinstance(module, Crashed):
            fail(pi, list(range(len(p.texts))), f"reference: Warp could not generate its module: {module.reason}",
                 scored=False)
            continue
        refs[pi] = _Unit(pi, -1, module.source, module, program)
        limit = answer_limit(p.row[task.target] or "")
        for slot, (code, indices) in enumerate(distinct[pi].items()):
            why = oversized(code, limit) if task.decompile else forbidden(code, limit)
            if why is not None:
                fail(pi, indices, why)
                continue
            if task.decompile:
                units.append(_Unit(pi, slot, code, module, KernelSpec(code, p.row["kernel_name"], "cpu",
                                                                     program.tiled, program.arguments),
                                   samples=indices))
                continue
            try:
                units.append(_Unit(pi, slot, splice(module.source, p.row[task.target], code), module, program,
                                   samples=indices))
            except SpliceError as exc:
                fail(pi, indices, f"reference: {exc}", scored=False)
    if task.decompile:  # the predicted programs' modules, each generated in the box
        kept = []
        for u in units:
            made = prepare_answer(box, u.program, RUN_TIMEOUT_S, MEMORY_MB, answer_limit(refs[u.problem].source))
            if isinstance(made, Crashed):
                fail(u.problem, u.samples, f"the predicted program: {made.reason}")
            else:
                u.module, u.source = made, made.source
                kept.append(u)
        units = kept
    clock.lap("generate predicted modules")
    imports = _compile_references(list(refs.values()) if executes else [], target, workdir, pch_dir)
    if target == "cuda":  # what CUDA code may call beyond the references' own: the device printf and assert
        imports |= {"vprintf", "__assertfail"}
    clock.lap("compile references")
    # a folder that never holds a reference's source
    _compile_answers(units, target, os.path.join(workdir, "answers"), pch_dir, imports)
    clock.lap("compile predictions")
    for u in units:
        if u.error:
            fail(u.problem, u.samples, u.error)
            continue
        for i in u.samples:
            samples[u.problem][i].compiles = True
    if not executes:  # CUDA code without a GPU: scored up to "compiles", for every sample
        for s in (s for row in samples for s in row):
            s.correct = None
        return [s for row in samples for s in row]

    ref_units = [refs[pi] for pi in sorted(refs)]
    for u in ref_units:
        if u.error:
            u.error = f"reference: {u.error}"
    ref_runs = _run_references([u for u in ref_units if not u.error], problems, task, seed, target)
    for pi, run_ in ref_runs.items():
        if isinstance(run_, RunOutput) and not run_.error:
            weak = weakness(run_, task.backward)
            for s in samples[pi]:
                s.weak = weak
    clock.lap("run references")
    for u in units:
        if u.error:
            continue
        result = run_answer(box, u.program, u.module, u.binary, u.meta, problems[u.problem].row, task.backward, seed,
                            RUN_TIMEOUT_S, MEMORY_MB)
        _judge(u, result, ref_runs.get(u.problem), refs.get(u.problem), samples)
    clock.lap("run predictions")
    return [s for row in samples for s in row]


def _judge(u: _Unit, result: Any, ref_run: Any, ref: _Unit | None, samples: list[list[Sample]]) -> None:
    """Set the ``correct`` rung of the samples giving unit ``u``."""
    rows = [samples[u.problem][i] for i in u.samples]
    why_ref = ""
    if ref is None or ref.error:
        why_ref = ref.error if ref is not None else "reference: not built"
    elif isinstance(ref_run, Crashed):
        why_ref = f"reference: its run crashed: {ref_run.reason}"
    elif ref_run is None or ref_run.error:
        why_ref = f"reference: its run failed: {ref_run.error if ref_run else 'not run'}"
    elif ref_run.guard:  # the row's inputs do not suit its kernel (real code indexing by a random integer)
        why_ref = f"reference: wrote outside its arrays ({ref_run.guard}): no verdict on these inputs"
    if u.error:
        for s in rows:
            s.compiles, s.correct, s.error = False, False, u.error
        return
    if why_ref:
        for s in rows:
            s.correct, s.error = None, why_ref
        return
    if isinstance(result, Crashed):
        ok, diff, rel, why = False, None, None, f"run: {result.reason}"
    else:
        ok, diff, rel, why = compare(result, ref_run)
    for s in rows:
        s.correct, s.max_abs_diff, s.max_rel_diff, s.error = ok, diff, rel, why
