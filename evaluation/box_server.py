"""The inside of an answer box (:mod:`evaluation.box`): ``python -P -m evaluation.box_server``.

Started fresh (it holds nothing of the scorer's), it imports Warp once, says ``ready``, then reads one JSON
request a line (``{"dir", "timeout_s", "memory_mb"}``) and answers each with ``{"status": ...}`` once the job
is over. A job runs in a child forked for it: a session of its own, standard streams on ``/dev/null`` (it
cannot write to the scorer's pipe), every other file descriptor closed, the job's folder as working folder,
and limits on CPU time, file size, open files and core dumps; its resident memory is watched; a seccomp filter
(:mod:`evaluation.seccomp`: no new process or program, no socket, signals only to itself) is installed before the
answer's code runs. When the job ends (or is killed), everything else the box's processes started is killed too
(the whole PID namespace under namespaces isolation, else the job's session). Under namespaces isolation a
machine where the filter cannot be had stops the server at start (the box fails closed).

A job's folder holds ``job.json`` (``{"kind", "payload"}``) and the files it names; the child writes
``result.json`` and, for a run, ``arrays.npz`` (forward outputs ``a<i>``, gradients ``g<i>``).
"""

from __future__ import annotations

import ast
import ctypes
import importlib
import json
import math
import os
import resource
import signal
import sys
import time
from typing import Any

import numpy as np

from evaluation import seccomp
from extraction import _warp
from extraction.isolate import resident_bytes

NAMESPACE_ENV = "WARP_IR_BOX_PID_NAMESPACE"  # set when the box has a PID namespace of its own
_TICK_S = 0.02
_FILE_LIMIT = 512 * 2**20  # bytes one file may grow to
_OPEN_FILES = 256
_NO_FILTER = 4  # the job child's exit status when its seccomp filter could not be installed


def _undumpable() -> None:
    """No process of the same user may read or write this one's memory or trace it (``PR_SET_DUMPABLE`` 0)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _do(kind: str, payload: dict[str, Any]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The job's work (runs the answer's code): its JSON result and its arrays."""
    from evaluation.execute import KernelSpec, RunJob, prepare, run  # noqa: PLC0415 - imported before the fork

    spec = payload["program"]
    program = KernelSpec(spec["source"], spec["kernel_name"], spec["target"], bool(spec["tiled"]),
                         tuple(tuple(a) for a in spec["arguments"]) if spec["arguments"] is not None else None)
    if kind == "prepare":
        try:
            module = prepare(program)
        except Exception as exc:  # the reason is the result
            return {"error": f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
                    [:300]}, {}
        return {"source": module.source, "meta": module.meta, "block_dim": module.block_dim}, {}
    job = RunJob(program=program, input_source=payload["input_hints"], launch_dim=payload["launch_dim"],
                 block_dim=int(payload["block_dim"]), binary=os.path.abspath(payload["binary"]),
                 meta=os.path.abspath(payload["meta"]), arch=payload["arch"], backward=bool(payload["backward"]),
                 seed=int(payload["seed"]))
    out = run(job)
    arrays: dict[str, np.ndarray] = {}
    for prefix, values in (("a", out.arrays), ("g", out.grads)):
        for i, value in enumerate(values):
            if value is not None:
                arrays[f"{prefix}{i}"] = np.asarray(value)
    return {"names": out.names, "arrays": len(out.arrays), "grads": len(out.grads), "guard": out.guard,
            "error": out.error, "stage": out.stage, "written": out.written}, arrays


def _import_what_it_imports(source: str) -> None:
    """Import the installed modules the program's top-level ``import`` statements name, before the seccomp filter:
    their own import-time code may start a process (``glfw``, which ``mujoco`` imports, runs one to read its
    library's version), which the filter would refuse; the program's own code runs after the filter. A module that
    fails to import is left to fail again when the program runs."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return
    names: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names += [node.module] + [f"{node.module}.{a.name}" for a in node.names if a.name != "*"]
    with _warp.warp_defaults():  # as the program's own imports run (extraction.loader.load_source)
        for name in dict.fromkeys(names):
            try:
                importlib.import_module(name)
            except BaseException:  # not a module (a name it exports), or broken: the program will say
                continue


def _child(folder: str, timeout_s: float) -> None:
    """The job's child: never returns."""
    code = 1
    try:
        os.setsid()
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.closerange(3, 65536)
        os.chdir(folder)
        cpu = math.ceil(timeout_s) + 1
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        resource.setrlimit(resource.RLIMIT_FSIZE, (_FILE_LIMIT, _FILE_LIMIT))
        resource.setrlimit(resource.RLIMIT_NOFILE, (_OPEN_FILES, _OPEN_FILES))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        with open("job.json", encoding="utf-8") as f:
            job = json.load(f)
        _import_what_it_imports(str(job["payload"]["program"]["source"]))
        if seccomp.install() and os.environ.get(NAMESPACE_ENV) == "1":
            code = _NO_FILTER
            return
        result, arrays = _do(job["kind"], job["payload"])
        if arrays:
            np.savez("arrays.npz", **arrays)  # type: ignore[arg-type]  # numpy's stubs: the keywords are arrays
        with open("result.json", "w", encoding="utf-8") as f:
            json.dump(result, f)
        code = 0
    except BaseException:
        code = 3
    finally:
        os._exit(code)


def _end_the_rest(pid: int) -> None:
    """Kill what the job left running: its session, and under a PID namespace every process but the box's own."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if os.environ.get(NAMESPACE_ENV) != "1":
        return
    me = os.getpid()
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) not in (1, me):
            try:
                os.kill(int(name), signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
    while True:  # reap what was ours
        try:
            if os.waitpid(-1, os.WNOHANG) == (0, 0):
                break
        except ChildProcessError:
            break


def _job(request: dict[str, Any]) -> str:
    folder, timeout_s, memory_mb = str(request["dir"]), float(request["timeout_s"]), int(request["memory_mb"])
    limit = resident_bytes(os.getpid()) + memory_mb * 2**20
    pid = os.fork()
    if pid == 0:
        _child(folder, timeout_s)
    deadline, status, why = time.monotonic() + timeout_s, None, ""
    while status is None:
        done, st = os.waitpid(pid, os.WNOHANG)
        if done:
            status = st
            break
        if time.monotonic() > deadline:
            why = f"timeout after {timeout_s:.0f} s"
        elif resident_bytes(pid) > limit:
            why = f"used more than {memory_mb} MiB of memory"
        if why:
            os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
            break
        time.sleep(_TICK_S)
    _end_the_rest(pid)
    if why:
        return why
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        return f"timeout after {timeout_s:.0f} s (CPU time)" if sig == signal.SIGXCPU else f"killed by signal {sig}"
    code = os.WEXITSTATUS(status)
    if code == _NO_FILTER:
        return "its seccomp filter could not be installed"
    return "ok" if code == 0 else f"exited with status {code}"


def main() -> None:
    """Serve jobs until standard input ends."""
    from extraction import init_quiet  # noqa: PLC0415

    if os.environ.get(NAMESPACE_ENV) == "1" and (why := seccomp.available()):
        sys.stderr.write(why + "\n")
        sys.exit(2)
    init_quiet()
    import evaluation.execute  # noqa: F401, PLC0415 - imported once here, so every job's fork has it

    _undumpable()
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # what the box's own code prints never reaches the scorer
    sys.stdout = sys.stderr
    out.write(b"ready\n")
    out.flush()
    os.dup2(os.open(os.devnull, os.O_WRONLY), 2)  # the start went well: nothing reads the error pipe from now on
    for line in sys.stdin.buffer:
        try:
            status = _job(json.loads(line))
        except (ValueError, KeyError, TypeError, OSError) as exc:
            status = f"bad request: {type(exc).__name__}"
        out.write((json.dumps({"status": status}) + "\n").encode())
        out.flush()


if __name__ == "__main__":
    main()
