"""Run untrusted work (launching generated kernels) in a forked child, one result per item.

A generated kernel can crash the process (an out-of-bounds access) or never finish.
Items are processed in a child made with ``os.fork`` (usable inside ``datasets``'
daemonic pool workers, where ``multiprocessing`` may not start children); the child
streams one pickled result per item, so when it dies or stalls the culprit is the
first item without a result: that item is marked, and the rest go to a new child. A child
removes the secrets from its environment before it runs anything
(:func:`extraction.environ.drop_secrets_from_process`).
"""

from __future__ import annotations

import faulthandler
import logging
import os
import pickle
import select
import signal
import struct
import time
from collections.abc import Callable, Sequence
from typing import Any

from common.errors import first_line
from common.forked import write_all
from extraction.environ import drop_secrets_from_process

logger = logging.getLogger(__name__)


class Crashed:
    """Marker result for an item whose child process died or timed out."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __repr__(self) -> str:
        return f"Crashed({self.reason!r})"


def _send(fd: int, obj: Any) -> None:
    data = pickle.dumps(obj)
    write_all(fd, struct.pack("<Q", len(data)) + data)


def resident_bytes(pid: int) -> int:
    """Resident memory of process ``pid`` in bytes (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, IndexError, ValueError):
        return 0


class _Watch:
    """Waits on a child's pipe, and kills the child when its resident memory passes a limit.

    A limit on resident memory, polled: an address-space limit (``RLIMIT_AS``) would be simpler
    but makes LLVM's JIT and the allocator take slow paths (a launch child ran 3x slower).
    """

    TICK_S = 0.05

    def __init__(self, pid: int, memory_mb: int | None) -> None:
        self.pid = pid
        self.limit = None if memory_mb is None else resident_bytes(os.getpid()) + memory_mb * 2**20
        self.over = False

    def read_exact(self, fd: int, n: int, timeout_s: float) -> bytes | None:
        chunks, got = [], 0
        deadline = time.monotonic() + timeout_s
        while got < n:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([fd], [], [], left if self.limit is None else min(left, self.TICK_S))
            if not ready:
                if self.limit is not None and resident_bytes(self.pid) > self.limit:
                    self.over = True
                    return None
                continue
            chunk = os.read(fd, n - got)
            if not chunk:
                return None
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)


def run_isolated(items: Sequence[Any], fn: Callable[[Any], Any], timeout_s: float = 120.0,
                 memory_mb: int | None = None, one_per_child: bool = False) -> list[Any]:
    """``[fn(item) for item in items]``, computed in forked children; crashes become :class:`Crashed`.

    Args:
        items: Picklable inputs.
        fn: Called in the child on each item; its result must be picklable.
        timeout_s: Longest time one item may take before its child is killed.
        memory_mb: How much more resident memory than this process a child may use before it is
            killed (``None``: no limit).
        one_per_child: Give every item a fresh child, so nothing one item does (an out-of-bounds
            write that corrupts memory, a leak) can change the result of the next.
    """
    results: list[Any] = []
    while len(results) < len(items):
        todo = items[len(results):len(results) + 1] if one_per_child else items[len(results):]
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # child
            os.close(read_fd)
            faulthandler.disable()  # a crash is reported by the parent, in one line
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)  # compiler warnings of launched kernels would flood the build's output
            os.dup2(devnull, 2)
            try:
                drop_secrets_from_process()  # what runs here (a model's answer, a row's program) never sees them
                for item in todo:
                    try:
                        out = fn(item)
                    except Exception as exc:  # reported per item
                        out = Crashed(f"{type(exc).__name__}: {first_line(str(exc))}")
                    _send(write_fd, out)
            finally:
                os._exit(0)
        os.close(write_fd)
        got = 0
        watch = _Watch(pid, memory_mb)
        try:
            while got < len(todo):
                header = watch.read_exact(read_fd, 8, timeout_s)
                if header is None:
                    break
                body = watch.read_exact(read_fd, struct.unpack("<Q", header)[0], timeout_s)
                if body is None:
                    break
                results.append(pickle.loads(body))
                got += 1
        finally:
            os.close(read_fd)
            if got < len(todo):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            _, status = os.waitpid(pid, 0)
        if got < len(todo):
            how = (f"killed by signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status) and got < len(todo)
                   else "timed out or exited")
            reason = f"timeout after {timeout_s:.0f} s" if os.WIFSIGNALED(status) and \
                os.WTERMSIG(status) == signal.SIGKILL else how
            if watch.over:
                reason = f"used more than {memory_mb} MiB of memory"
            logger.warning("isolated item %d: %s", len(results), reason)
            results.append(Crashed(reason))
    return results
