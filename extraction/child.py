"""Extract a user's target in a child process, under a time limit.

Loading a target runs its top-level code. :func:`extract_in_child` does that in a separate
Python process (``python -m extraction.child``) so that a target which loops forever, calls
``sys.exit`` or kills its interpreter cannot hang or end the caller: each such case becomes a
:class:`ChildError` with a one-line message.

The child writes its result as one JSON file into a temporary folder the parent owns; its
standard output (the target's own prints included) goes to the parent's standard error. The
child's environment has no secrets (:func:`extraction.environ.scrubbed_env`), and the child runs
in a session of its own: whatever the target started there (a forked copy of itself, a server)
is killed with it when :func:`extract_in_child` returns, whether the extraction worked or not.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from common.atomic import write_atomic
from common.errors import WarpIRError, first_line
from extraction.environ import scrubbed_env
from extraction.extract import ExtractionError, extract_target
from extraction.loader import LoadError
from extraction.record import TARGETS

logger = logging.getLogger(__name__)

EXTRACT_TIMEOUT_S = 120.0  # loading one user target and cutting its kernels
# The folder holding the ``extraction`` package: the child must import this copy of warp-ir.
_PROJECT_ROOT = Path(__file__).resolve().parent.parent


class ChildError(WarpIRError):
    """The target could not be extracted in the child process; the message is one line."""


def child_env() -> dict[str, str]:
    """The parent's environment without its secrets, with the project root first on ``PYTHONPATH``.

    Secrets (``HF_TOKEN``, ``*_KEY``, cloud credentials: see :func:`extraction.environ.is_secret`) are
    left out: the child runs code warp-ir did not write.
    """
    env = scrubbed_env()
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_PROJECT_ROOT), env.get("PYTHONPATH")) if p)
    return env


def _stderr_fd() -> int:
    """The parent's standard error as a file descriptor (fd 2 when ``sys.stderr`` has none)."""
    try:
        return sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # replaced by an in-memory stream (e.g. under pytest)
        return 2


def has_exited(proc: subprocess.Popen) -> bool:
    """Whether the child has ended, without reaping it.

    An ended child that is not reaped keeps its process id, and so the id of its process group: a
    later :func:`kill_group` can then only reach what the child left running in its group, never an
    unrelated process that was given the same id.
    """
    if proc.returncode is not None:
        return True
    try:
        return os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:  # reaped elsewhere
        return True


def wait_unreaped(proc: subprocess.Popen, timeout_s: float) -> bool:
    """Wait up to ``timeout_s`` for the child to end, leaving it unreaped (see :func:`has_exited`).

    Returns:
        Whether it ended in time.
    """
    deadline = time.monotonic() + timeout_s
    delay = 0.0005
    while not has_exited(proc):
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        time.sleep(min(delay, left))
        delay = min(delay * 2, 0.05)
    return True


def kill_group(proc: subprocess.Popen) -> None:
    """Kill the child and everything it started (its own session), then reap it.

    Called whenever a child's work is over, not only on a timeout: a process the child forked or
    started (and left running) lives in the child's process group, and goes with it. A process
    that left the group (``setsid``) is out of reach.
    """
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def extract_in_child(target: str, targets: Sequence[str] = TARGETS, timeout_s: float = EXTRACT_TIMEOUT_S) -> list[dict]:
    """Import ``target`` in a child process and return the rows of its kernels.

    The target's top-level code runs in the child, never in this process; the child runs in
    the current working directory (so module names resolve as they would here).

    Args:
        target: A ``.py`` path or an importable module name.
        targets: Any of ``"cpu"`` and ``"cuda"``.
        timeout_s: Seconds the child may take (Warp's start-up included) before it is killed.

    Returns:
        One :meth:`KernelRecord.to_row` dict per kernel, in definition order.

    Raises:
        ChildError: The target failed to load, has no kernels, Warp rejected it, it called
            ``sys.exit``, the child died, or it ran past ``timeout_s``; the message is one line.
    """
    with tempfile.TemporaryDirectory(prefix="warp-ir-extract-") as tmp:
        result = Path(tmp) / "result.json"
        cmd = [sys.executable, "-P", "-m", "extraction.child", "--result", str(result),
               "--targets", ",".join(targets), "--", target]
        logger.info("extracting %s in a child process (limit %g s)", target, timeout_s)
        proc = subprocess.Popen(cmd, cwd=os.getcwd(), env=child_env(), stdin=subprocess.DEVNULL,
                                stdout=_stderr_fd(), stderr=_stderr_fd(), start_new_session=True)
        try:
            finished = wait_unreaped(proc, timeout_s)
        finally:  # finished, timed out or interrupted: nothing the target started outlives this call
            kill_group(proc)
        if not finished:
            raise ChildError(f"{target} did not finish importing within {timeout_s:g} s (its top-level code "
                             "still running?): raise --timeout or guard it with if __name__ == '__main__'")
        try:
            payload = json.loads(result.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            rc = proc.returncode
            how = f"was killed by signal {-rc}" if rc < 0 else f"exited with status {rc}"
            raise ChildError(f"{target}: the import {how} before any kernel was extracted") from None
    if not payload.get("ok"):
        raise ChildError(first_line(payload.get("error", "")) or f"{target}: extraction failed")
    return payload["rows"]


def _write_result(path: Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` as JSON through a temporary name and a rename: the parent sees all of it or nothing."""
    write_atomic(path, json.dumps(payload).encode())  # keys in their order: the rows' columns keep theirs


def main(argv: Sequence[str] | None = None) -> int:
    """Child entry point: extract ``target`` and write ``{"ok": ..., "rows"/"error": ...}`` to ``--result``."""
    p = argparse.ArgumentParser(prog="python -m extraction.child")
    p.add_argument("--result", type=Path, required=True)
    p.add_argument("--targets", default=",".join(TARGETS))
    p.add_argument("target")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    # Run with -P (so a folder named like one of ours in the cwd cannot shadow warp-ir); module
    # names given as targets still resolve from the cwd, as with ``python -m``.
    sys.path.insert(0, os.getcwd())
    try:
        rows = [r.to_row() for r in extract_target(args.target, [t for t in args.targets.split(",") if t])]
        payload: dict[str, Any] = {"ok": True, "rows": rows}
    except (LoadError, ExtractionError) as exc:
        payload = {"ok": False, "error": first_line(str(exc))}
    except SystemExit as exc:
        payload = {"ok": False, "error": f"{args.target} called sys.exit({exc.code!r}) while being imported: "
                                         "no kernels extracted"}
    except Exception as exc:  # anything else the target or Warp raised: one line, no traceback
        logger.debug("extraction failed:\n%s", traceback.format_exc())
        payload = {"ok": False, "error": first_line(f"{args.target}: {type(exc).__name__}: {exc}")}
    _write_result(args.result, payload)
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # skip the target's atexit handlers and non-daemon threads: the result is written
