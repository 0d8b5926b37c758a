"""Progress a person can see: a bar on a terminal, a plain line now and then otherwise, nothing when quiet.

The one place that decides how progress is shown. Library code counts its work with a :class:`Progress`
(planning programs, compiling programs or files, mining packages, scoring predictions); what a person sees
is decided here, when the :class:`Progress` is made:

- nothing, when the :data:`LOGGER` logger (``warp_ir.progress``) does not pass INFO: a library used without
  logging set up, or ``warp-ir --quiet``;
- a `tqdm <https://tqdm.github.io>`_ bar on standard error, when standard error is a terminal and bars are
  allowed (``warp-ir -v`` forbids them with :func:`allow_bars`: every line is then a log line);
- otherwise plain INFO lines on :data:`LOGGER`, at most one every ``every_s`` seconds (a log file or a pipe
  gets no carriage returns), and a last one when the work is done.

Progress only ever writes to standard error or the log: it changes no output file.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from types import TracebackType
from typing import Any, TextIO

LOGGER = "warp_ir.progress"
EVERY_S = 10.0  # seconds between plain progress lines (bars redraw as often as tqdm likes)
HEARTBEAT_S = 1.0  # seconds between redraws of a bar (or checks for a line) while nothing is counted

_bars_allowed = True
# Held while a bar or a line is written, and across os.fork(): a child forked by another thread (the ``datasets``
# workers, while a bar redraws itself) never starts with standard error's buffer locked by a writer it lacks.
_WRITING = threading.RLock()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_WRITING.acquire, after_in_parent=_WRITING.release, after_in_child=_WRITING.release)


def allow_bars(allowed: bool) -> None:
    """Allow bars on a terminal (the default) or not (plain lines everywhere: ``warp-ir -v``)."""
    global _bars_allowed
    _bars_allowed = allowed


def duration(seconds: float) -> str:
    """``seconds`` as a person reads it: ``4.2 s``, ``3 min 05 s``, ``2 h 07 min``."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class Progress:
    """Counts work done of ``total`` and shows it (see the module's docstring for how); a context manager.

    Thread-safe: several threads (packages mined at once) may update one. Usage::

        with Progress(len(jobs), "mining", "package", done="mined") as bar:
            for job in jobs:
                ...
                bar.update(1, note=f"{job.package} done")

    Attributes:
        mode: ``"bar"``, ``"lines"`` or ``"off"``.
        count: Work done so far.
        total: All the work (``None`` when unknown).
    """

    def __init__(self, total: int | None, desc: str, unit: str, *, done: str | None = None,
                 every_s: float = EVERY_S, heartbeat: bool = False, stream: TextIO | None = None) -> None:
        """Start counting.

        Args:
            total: How much work there is (``None``: unknown).
            desc: What is being done, said while it is (``planning``).
            unit: What is counted, singular (``program``; an ``s`` is added).
            done: What was done, said in the last line (``planned``; default ``desc``).
            every_s: Seconds between plain lines.
            heartbeat: Redraw the bar (its clock) and check for a plain line every :data:`HEARTBEAT_S`
                seconds from a thread of its own, for work that counts rarely (a package mined for minutes).
            stream: Where a bar goes (default: ``sys.stderr`` now); a bar only when it is a terminal.
        """
        self.total, self.count = total, 0
        self.desc, self.units, self.done = desc, f"{unit}s", done or desc
        self.every_s = every_s
        self.note = ""
        self.started = self._last_line = time.monotonic()
        self._lock = _WRITING
        self._log = logging.getLogger(LOGGER)
        self._bar: Any = None
        self._closed = False
        stream = sys.stderr if stream is None else stream
        if not self._log.isEnabledFor(logging.INFO):
            self.mode = "off"
        elif _bars_allowed and _is_terminal(stream):
            self.mode = "bar"
            from tqdm import tqdm  # noqa: PLC0415 - only a terminal needs it

            with self._lock:
                self._bar = tqdm(total=total, desc=desc, unit=f" {self.units}", file=stream, dynamic_ncols=True,
                                 leave=True, mininterval=0.2)
        else:
            self.mode = "lines"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if heartbeat and self.mode != "off":
            self._thread = threading.Thread(target=self._beat, name=f"progress-{desc}", daemon=True)
            self._thread.start()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close(failed=exc is not None)

    def update(self, n: int = 1, note: str | None = None) -> None:
        """Count ``n`` more done (0: only a new ``note``, the words shown after the count)."""
        with self._lock:
            if self._closed:
                return
            self.count += n
            if note is not None:
                self.note = note
            if self._bar is not None:
                if note is not None:
                    self._bar.set_postfix_str(note, refresh=False)
                if n:
                    self._bar.update(n)
                else:
                    self._bar.refresh()
            elif self.mode == "lines":
                self._line_if_due()

    def set_total(self, total: int) -> None:
        """Say how much work there is, once it is known."""
        with self._lock:
            self.total = total
            if self._bar is not None:
                self._bar.total = total
                self._bar.refresh()

    def close(self, failed: bool = False) -> None:
        """Stop: the bar is left as it is; in plain lines, the last line (none when ``failed``)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            if self._bar is not None:
                self._bar.close()
            elif self.mode == "lines" and not failed:
                note = f" ({self.note})" if self.note else ""
                self._log.info("%s %s %s in %s%s", self.done, self._of(), self.units,
                               duration(time.monotonic() - self.started), note)

    def _of(self) -> str:
        return f"{self.count:,} of {self.total:,}" if self.total is not None else f"{self.count:,}"

    def _line_if_due(self) -> None:
        """A plain line, when ``every_s`` seconds have passed since the last one (the lock is held)."""
        now = time.monotonic()
        if now - self._last_line < self.every_s:
            return
        self._last_line = now
        percent = f"{self.count / self.total:.0%}, " if self.total else ""
        note = f"; {self.note}" if self.note else ""
        self._log.info("%s: %s %s (%s%s)%s", self.desc, self._of(), self.units, percent,
                       duration(now - self.started), note)

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            with self._lock:
                if self._closed:
                    return
                if self._bar is not None:
                    self._bar.refresh()
                else:
                    self._line_if_due()


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed file
        return False
