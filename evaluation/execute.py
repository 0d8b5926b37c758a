"""The work an evaluation does in other processes: generate a program's module, run compiled code.

Everything here loads Python programs (a row's, or a model's for the decompile task) and runs
native code, so the scorer calls it only in children: a row's reference through
:func:`extraction.isolate.run_isolated`, a model's answer in the answer box (:mod:`evaluation.box`): a
crash, a hang or a runaway allocation ends a child, never the evaluation.

:func:`prepare` loads a program and returns the whole module Warp generates for it, for the
block size its launch resolves to (a tiled launch on CPU runs Warp's cooperative CPU blocks of the module's
``block_dim`` threads: the code the row holds, run as Warp runs it; :func:`extraction._warp.launch_block_dim`).
:func:`run` loads a program, points its module at a compiled binary and launches the kernel on the inputs
:func:`extraction.inputs.make_inputs` draws for it from each of :data:`TRIALS` seeds, of the magnitudes and
signs of :data:`TRIAL_SCALES` (a change that matters only for some values is then seen more often), with every
array placed between two guard bands of known values; for a backward task a ``wp.Tape`` then runs the backward pass
from seeded adjoints of the arrays the forward pass wrote. It returns every array after the launch
(and every gradient), and names any guard band the code wrote into.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import warp as wp
import warp.types as wt

from common.errors import first_line
from extraction import _warp
from extraction.inputs import INPUT_SCALES, LaunchInputs, is_float_dtype, make_inputs
from extraction.loader import load_source, unload
from extraction.warp_objects import is_generic_kernel, kernel_overloads, module_of

TRIALS = 3  # input sets a kernel is launched on (seeds seed, seed + 1000, seed + 2000), as KernelBench runs trials
TRIAL_SCALES = INPUT_SCALES  # each set's floating-point inputs times these (extraction.inputs.INPUT_SCALES)
GUARD = 16  # elements of each array's first axis added before and after it, filled with known values
_TILED = re.compile(r"\bwp::tile")


def is_tiled(code: str) -> bool:
    """Whether generated code uses tiles (its kernel is launched with ``wp.launch_tiled``)."""
    return _TILED.search(code or "") is not None


@dataclass(frozen=True, slots=True)
class KernelSpec:
    """A program to load and the kernel of it to build or run (what a prediction or a reference is scored as).

    Attributes:
        source: Its Python source.
        kernel_name: The kernel's name.
        target: ``cpu`` or ``cuda``: the code to generate (or the device to run on).
        tiled: Launched with ``wp.launch_tiled``.
        arguments: When given, the kernel's arguments must be exactly these ``(name, type)`` pairs
            (for a generic kernel: the overload with these arguments is the one built and run).
    """

    source: str
    kernel_name: str
    target: str
    tiled: bool = False
    arguments: tuple[tuple[str, str], ...] | None = None


@dataclass(frozen=True, slots=True)
class Module:
    """The module Warp generated for a :class:`KernelSpec`."""

    source: str
    meta: dict[str, int]
    block_dim: int


@dataclass(frozen=True, slots=True)
class RunJob:
    """One launch of compiled code.

    Attributes:
        program: The program whose kernel is launched (its module runs ``binary``).
        input_source: The row's Python source (inputs for geometry handles are chosen from it).
        launch_dim: Dimensionality of the launch.
        block_dim: The block size the program's launches resolve to (the binary is registered for it).
        binary: Path of the compiled object (CPU) or PTX (CUDA).
        meta: Path of its JSON metadata (shared-memory sizes).
        arch: The PTX architecture (CUDA), else ``None``.
        backward: Also run the backward pass.
        seed: Seed of the inputs and of the adjoint seeds.
    """

    program: KernelSpec
    input_source: str
    launch_dim: int | None
    block_dim: int
    binary: str
    meta: str
    arch: int | None
    backward: bool
    seed: int = 0


@dataclass(slots=True)
class RunOutput:
    """What a launch produced.

    Attributes:
        names: The kernel's argument names.
        arrays: Each argument after the forward launch (``None`` for non-arrays).
        grads: Each argument's gradient after the backward pass (backward jobs only).
        guard: The guard bands written into ("" when none).
        error: Why the launch could not be done ("" when it was).
        stage: ``load`` when the binary could not be loaded or lacked the entry points, else ``run``.
        written: For each entry of ``arrays``: whether the launch changed it (an output).
    """

    names: list[str] = field(default_factory=list)
    arrays: list[np.ndarray | None] = field(default_factory=list)
    grads: list[np.ndarray | None] = field(default_factory=list)
    written: list[bool] = field(default_factory=list)
    guard: str = ""
    error: str = ""
    stage: str = ""


def _error_line(exc: BaseException) -> str:
    """``Type: first line of the message`` (at most 200 characters of it)."""
    return f"{type(exc).__name__}: {first_line(str(exc), 200)}"


def _module_name(program: KernelSpec) -> str:
    return "warp_ir_eval_" + hashlib.sha256(program.source.encode()).hexdigest()[:16]


def _load(program: KernelSpec) -> Any:
    """Load ``program`` and return its kernel (raises ``ValueError`` with a reason)."""
    name = _module_name(program)
    unload(name)
    module = load_source(program.source, name)
    kernel = getattr(module, program.kernel_name, None)
    if not _warp.is_kernel(kernel):  # a kernel a factory made is named by its key (``make_k__locals__k``)
        kernel = next((v for v in vars(module).values() if _warp.is_kernel(v) and v.key == program.kernel_name), None)
    if not _warp.is_kernel(kernel):
        raise ValueError(f"the program defines no kernel named {program.kernel_name!r}")
    generic = is_generic_kernel(kernel)
    candidates = kernel_overloads(kernel) if generic else [kernel]
    if program.arguments is None and not generic:
        return kernel

    def signature(k: Any) -> tuple[tuple[str, str], ...]:  # struct types named as the dataset names them
        return tuple((n, t.replace(f"{name}.", "")) for n, t in _warp.kernel_args(k))

    for k in candidates:
        if program.arguments is None or signature(k) == program.arguments:
            return k
    found = "; ".join(", ".join(f"{n}: {t}" for n, t in signature(k)) for k in candidates) or "no overload"
    wanted = ", ".join(f"{n}: {t}" for n, t in program.arguments or ())
    raise ValueError(f"kernel {program.kernel_name} takes ({found}), not ({wanted})")


def _block_dim(kernel: Any, program: KernelSpec) -> int:
    device = "cpu" if program.target == "cpu" else "cuda"
    if device == "cuda" and not _warp.cuda_available():
        return int(kernel.module.options["block_dim"])  # what a CUDA launch would ask for
    return _warp.launch_block_dim(kernel, device, program.tiled)


def prepare(program: KernelSpec) -> Module:
    """Load ``program`` and generate its whole module for ``program.target``.

    Raises:
        Exception: The program does not load, lacks the kernel, or Warp rejects it.
    """
    try:
        kernel = _load(program)
        block_dim = _block_dim(kernel, program)
        code = _warp.codegen_module(module_of(kernel), program.target)
    finally:
        unload(_module_name(program))
    return Module(source=code.source, meta=code.meta, block_dim=block_dim)


def write_meta(path: str, modules: list[Module]) -> None:
    """Write the metadata of a batch of modules (one JSON object) for :func:`run`."""
    meta: dict[str, int] = {}
    for m in modules:
        meta.update(m.meta)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(meta, f, sort_keys=True)


def _guarded(inputs: LaunchInputs, device: str, requires_grad: bool, rng: np.random.Generator
             ) -> tuple[list[Any], list[tuple[int, Any, np.ndarray]]]:
    """Fresh launch arguments; plain arrays are views into buffers with a guard band at both ends.

    Returns:
        The arguments and, per guarded array, ``(argument index, buffer, buffer values)``.
    """
    args: list[Any] = []
    guarded: list[tuple[int, Any, np.ndarray]] = []
    for i, (t, v) in enumerate(zip(inputs.types, inputs.values)):
        plain = wt.is_array(t) and not isinstance(t, wp.indexedarray) and not wt.type_is_struct(t.dtype)
        if not plain:
            built = LaunchInputs([inputs.names[i]], [t], [v], inputs.shape, inputs.keep_alive).build(requires_grad)
            args.append(built[0] if device == "cpu" or not wt.is_array(t) else built[0].to(device))
            continue
        values = np.asarray(v)
        band = rng.uniform(-1.0, 1.0, (GUARD,) + values.shape[1:])
        if not is_float_dtype(t.dtype):
            band = rng.integers(0, 4, band.shape).astype(values.dtype)
        buf: wp.array = wp.array(np.concatenate([band, values, band[::-1]]), dtype=t.dtype, device=device,
                                 requires_grad=requires_grad and is_float_dtype(t.dtype))
        args.append(buf[GUARD:GUARD + values.shape[0]])
        guarded.append((i, buf, buf.numpy().copy()))
    return args, guarded


def _bands_written(guarded: list[tuple[int, Any, np.ndarray]], names: list[str], grads: bool) -> str:
    hit = []
    for i, buf, before in guarded:
        now = (buf.grad if grads else buf)
        if now is None:
            continue
        now = now.numpy()
        ref = np.zeros_like(now) if grads else before
        n = now.shape[0]
        if not (np.array_equal(now[:GUARD], ref[:GUARD], equal_nan=True)
                and np.array_equal(now[n - GUARD:], ref[n - GUARD:], equal_nan=True)):
            hit.append(("adjoint of " if grads else "") + names[i].split(" (input set")[0])
    return ", ".join(hit)


def _launch(kernel: Any, job: RunJob, shape: tuple[int, ...], args: list[Any], device: str) -> None:
    if job.program.tiled:
        if device == "cpu":
            _warp.cooperative_cpu_blocks()
        wp.launch_tiled(kernel, dim=shape, inputs=args, block_dim=int(kernel.module.options["block_dim"]),
                        device=device)
    else:
        wp.launch(kernel, dim=shape, inputs=args, device=device)


def _snapshot(args: list[Any]) -> list[np.ndarray | None]:
    return [a.numpy().copy() if isinstance(a, (wp.array, wp.indexedarray)) and not wt.type_is_struct(a.dtype)
            else None for a in args]


_LOADED: dict[str, str] = {}  # CPU objects this process has loaded for run_shared: path -> handle


def preload(binary: str, symbol: str) -> bool:
    """Load and link a CPU binary here, before forking the children that run it (see :func:`run_shared`).

    Linking runs none of the binary's code; a child then only attaches its module to the linked
    code instead of linking the whole batch again. Returns ``False`` (and keeps nothing) when the
    binary cannot be linked.
    """
    handle = _warp.load_cpu_binary(binary)
    if not _warp.link_cpu_binary(handle, symbol):
        _warp.unload_cpu_binary(handle)
        return False
    _LOADED[binary] = handle
    return True


def release(binary: str) -> None:
    """Unload a binary :func:`preload` loaded (once the children running it are done)."""
    handle = _LOADED.pop(binary, None)
    if handle is not None:
        _warp.unload_cpu_binary(handle)


def run_shared(job: RunJob) -> RunOutput:
    """:func:`run` using CPU binaries loaded once per process (by :func:`preload`, or on first use).

    In a child that runs many jobs (the references), each batch's binary is loaded and linked
    once; in a child forked after :func:`preload`, the linked binary is inherited. The program is
    forgotten after the job; the binaries stay loaded while the child lives.
    """
    try:
        return run(job, shared=True)
    finally:
        unload(_module_name(job.program))


def run(job: RunJob, shared: bool = False) -> RunOutput:
    """Launch ``job``'s kernel from its binary on :data:`TRIALS` input sets; see the module docstring."""
    device = "cpu" if job.program.target == "cpu" else "cuda"
    out = RunOutput()
    try:
        kernel = _load(job.program)
        module = module_of(kernel)
        if shared and device == "cpu":
            if job.binary not in _LOADED:
                _LOADED[job.binary] = _warp.load_cpu_binary(job.binary)
            with open(job.meta, encoding="utf-8") as f:
                meta = json.load(f)
            loaded = _warp.attach_cpu_binary(module, job.block_dim, _LOADED[job.binary], meta)
        else:
            loaded = _warp.load_module_binary(module, device, job.block_dim, job.binary, job.meta, job.arch)
        missing = _warp.missing_entry_points(loaded, kernel, job.backward)
    except Exception as exc:  # the reason is the result
        return RunOutput(error=_error_line(exc), stage="load")
    if missing:
        return RunOutput(error=f"the binary lacks {missing}", stage="load")
    try:
        for trial in range(TRIALS):
            _trial(kernel, job, device, job.seed + 1000 * trial, TRIAL_SCALES[trial],
                   f" (input set {trial + 1})" if trial else "", out)
    except Exception as exc:
        out.error, out.stage = _error_line(exc), "run"
    return out


def _trial(kernel: Any, job: RunJob, device: str, seed: int, scale: float, label: str, out: RunOutput) -> None:
    """One launch (and backward pass) on the inputs of ``seed`` times ``scale``; appends to ``out``."""
    inputs = make_inputs(kernel, job.input_source, job.launch_dim, seed, scale)
    names = [n + label for n in inputs.names]
    args, guarded = _guarded(inputs, device, job.backward, np.random.default_rng(seed + 7))
    before = _snapshot(args)
    tape = wp.Tape() if job.backward else None
    if tape is not None:
        with tape:
            _launch(kernel, job, inputs.shape, args, device)
    else:
        _launch(kernel, job, inputs.shape, args, device)
    wp.synchronize_device(device)
    arrays = _snapshot(args)
    out.names += names
    out.arrays += arrays
    out.written += [a is not None and b is not None and not np.array_equal(a, b, equal_nan=True)
                    for a, b in zip(arrays, before)]
    guard = [_bands_written(guarded, names, grads=False)]
    if tape is not None:
        weights = np.random.default_rng(seed + 1)
        seeds: dict[wp.array, wp.array] = {}
        for a, b, x in zip(args, before, arrays):
            if x is None or not (isinstance(a, wp.array) and a.requires_grad):
                continue
            if b is None or not np.array_equal(b, x):
                seeds[a] = wp.array(weights.standard_normal(x.shape), dtype=a.dtype, device=device)
        tape.backward(grads=seeds)
        wp.synchronize_device(device)
        out.grads += [a.grad.numpy().copy() if isinstance(a, wp.array) and a.requires_grad else None for a in args]
        guard.append(_bands_written(guarded, names, grads=True))
    out.guard = ", ".join(dict.fromkeys(n for g in (out.guard, *guard) for n in g.split(", ") if n))


