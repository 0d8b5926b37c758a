"""Time limits for code a package runs in its mining child: importing one module, running one of its scripts."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class ModuleTimeout(Exception):
    """Importing one module took longer than its time limit."""


class ScriptTimeout(BaseException):
    """A package's script ran longer than its time limit (a ``BaseException``: a script's own
    ``except Exception`` around its main loop does not swallow it)."""


@contextmanager
def time_limit(seconds: float | None, error: type[BaseException] = ModuleTimeout,
               what: str = "importing") -> Iterator[None]:
    """Raise ``error`` in this thread after ``seconds`` (main thread only; elsewhere no limit).

    A Python-level loop is interrupted; a hang inside C code is left to the package's own
    time limit (the child process is killed).
    """
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return

    def _expired(signum: int, frame: Any) -> None:
        raise error(f"{what} took longer than {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, _expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
