"""Run a piece of work in a forked child and read back what it made, as data (never as code).

Compiling a program imports it, which runs its top-level code: code a template folder wrote. That
happens in a child forked for the purpose (:func:`start_child`), never in the process that asked for
the rows; the child hands back a JSON header and an Arrow table (as IPC stream bytes). Reading either
runs no code. The same runner draws a card's figures beside the work of the process that asked.

A started child (:class:`Child`) is read when its result is wanted, so the caller can do other work
(write the previous shard's rows) while the child runs.
"""

from __future__ import annotations

import gc
import json
import os
import select
import signal
import struct
import sys
from collections.abc import Callable, Sequence
from typing import Any

import pyarrow as pa

from common.errors import first_line

Work = Callable[[], tuple[dict[str, Any], pa.Table | None]]


class ChildFailed(RuntimeError):
    """The child process doing a piece of work died, or raised, without handing back its result."""


_POLL_S = 0.5  # how often the parent checks, while it waits for bytes, that its child is still alive


def write_all(fd: int, data: bytes | memoryview) -> None:
    """Write every byte of ``data`` to ``fd`` (a pipe takes a large write in parts)."""
    view = memoryview(data).cast("B")
    while view:
        view = view[os.write(fd, view):]


def run_in_child(work: Work, what: str, passed_on: Sequence[type[Exception]] = (),
                 first: Callable[[], object] | None = None) -> tuple[dict[str, Any], pa.Table | None]:
    """Run ``work`` in a forked child and hand back what it returns, as data (see :func:`start_child`)."""
    return start_child(work, what, passed_on, first).result()


def start_child(work: Work, what: str, passed_on: Sequence[type[Exception]] = (),
                first: Callable[[], object] | None = None) -> Child:
    """Fork a child that runs ``work``; its result is read by :meth:`Child.result`.

    The child gets this process's memory (imported modules, compiled templates, an initialised Warp),
    runs ``first`` (which takes the secrets out of its environment, for one) and ``work``, writes its
    JSON header and its Arrow table (as IPC stream bytes) to a pipe and exits; nothing it sends is
    unpickled, so code it ran cannot run here. ``os.fork`` works in ``datasets``' daemonic workers,
    where ``multiprocessing`` may not start children.

    Args:
        work: Returns a JSON-serialisable dict and an Arrow table (or ``None``).
        what: What the child does, for error messages (``"compiling shard train-00000"``).
        passed_on: Exception classes that ``work`` may raise and the parent raises again, with the
            child's message, instead of :class:`ChildFailed`.
        first: Run in the child before ``work`` (its failure is reported as ``work``'s).

    Raises:
        OSError: The process cannot fork.
    """
    sys.stdout.flush()  # buffered output would be written twice (by both processes) otherwise
    sys.stderr.flush()
    read_fd, write_fd = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(read_fd)
        os.close(write_fd)
        raise
    if pid == 0:  # the child: never returns into the caller's code
        os.close(read_fd)
        _child_side(work, first, write_fd)
    os.close(write_fd)
    return Child(pid, read_fd, what, tuple(passed_on))


def _child_side(work: Work, first: Callable[[], object] | None, write_fd: int) -> None:
    """Run ``first`` and ``work`` and send the result; exits the process, whatever happens."""
    # what it inherited lives as long as it does: out of the collector's reach, so collections neither walk the
    # parent's heap (0.1 s each for a build's driver) nor copy its pages
    gc.freeze()
    code = 1
    try:
        try:
            if first is not None:
                first()
            header, table = work()
            message: dict[str, Any] = {"ok": header}
        except BaseException as exc:  # SystemExit from a program too: reported, not obeyed
            message, table = {"error": type(exc).__name__, "message": first_line(str(exc), 400)}, None
        body = json.dumps(message).encode()
        write_all(write_fd, struct.pack("<Q", len(body)) + body)
        if table is not None:
            sink = pa.BufferOutputStream()
            with pa.ipc.new_stream(sink, table.schema) as writer:
                writer.write_table(table)
            data = sink.getvalue()
            write_all(write_fd, struct.pack("<Q", data.size))
            write_all(write_fd, memoryview(data))
        else:
            write_all(write_fd, struct.pack("<Q", 0))
        code = 0
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


class Child:
    """A forked child at work; :meth:`result` waits for what it sends, :meth:`cancel` kills it."""

    def __init__(self, pid: int, fd: int, what: str, passed_on: tuple[type[Exception], ...]) -> None:
        self.what, self.passed_on = what, passed_on
        self._reader: _Reader | None = _Reader(fd, pid)

    def result(self) -> tuple[dict[str, Any], pa.Table | None]:
        """The child's header and table (read once; the child is reaped).

        Raises:
            ChildFailed: ``work`` raised (other than ``passed_on``), or the child died or exited without its
                result, or sent bytes that are not a result.
        """
        reader, self._reader = self._reader, None
        if reader is None:
            raise RuntimeError(f"the result of the process {self.what} was already read")
        got: bytes | None = None
        payload: bytes | None = None
        try:
            length = reader.length()
            got = reader.exact(length) if length is not None else None
            size = reader.length() if got is not None else None
            payload = reader.exact(size) if size is not None else None
        finally:
            os.close(reader.fd)
            status = reader.reap()
        if got is None or payload is None:
            raise ChildFailed(f"the process {self.what} {_how(status)} without handing back its result")
        try:
            message = json.loads(got)
            if isinstance(message, dict) and "error" in message:
                name, text = str(message["error"]), str(message.get("message", ""))
                for kind in self.passed_on:
                    if name == kind.__name__:
                        raise kind(text)
                raise ChildFailed(f"the process {self.what} failed: {name}: {text}"[:600])
            if not isinstance(message, dict) or not isinstance(message.get("ok"), dict):
                raise ValueError("no result in the header")
            table = pa.ipc.open_stream(pa.py_buffer(payload)).read_all() if payload else None
        except (ValueError, pa.ArrowException) as exc:  # json's and Arrow's errors on bytes that are not what we sent
            raise ChildFailed(f"the process {self.what} sent an unreadable result: {first_line(exc, 400)}") from None
        return message["ok"], table

    def cancel(self) -> None:
        """Kill the child (if its result was not read) and reap it."""
        reader, self._reader = self._reader, None
        if reader is not None:
            os.close(reader.fd)
            reader.reap()


def _how(status: int | None) -> str:
    """How a child ended, from its ``waitpid`` status."""
    if status is None:
        return "did not end"
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = str(number)
        return f"was killed by signal {number} ({name})"
    return f"exited with status {os.WEXITSTATUS(status)}"


class _Reader:
    """Reads a child's pipe; gives up once the child has ended and no more bytes are coming.

    The child's end of the pipe may outlive the child (a program it ran may have started a process
    of its own that holds it): waiting for end-of-file alone could wait forever.
    """

    def __init__(self, fd: int, pid: int) -> None:
        self.fd, self.pid = fd, pid
        self.status: int | None = None

    def _read(self, n: int) -> bytes:
        while True:
            ready, _, _ = select.select([self.fd], [], [], _POLL_S)
            if ready:
                return os.read(self.fd, n)
            if self.status is None:
                done, status = os.waitpid(self.pid, os.WNOHANG)
                if done:
                    self.status = status
                continue
            return b""  # the child has ended and nothing arrived within _POLL_S: nothing will

    def exact(self, n: int) -> bytes | None:
        """``n`` bytes, or ``None`` when the pipe ends first."""
        chunks, got = [], 0
        while got < n:
            chunk = self._read(min(n - got, 1 << 20))
            if not chunk:
                return None
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)

    def length(self) -> int | None:
        """The next 8-byte length, or ``None`` when the pipe ends first."""
        raw = self.exact(8)
        return None if raw is None else struct.unpack("<Q", raw)[0]

    def reap(self) -> int:
        """Wait for the child (killing it if it is still running: its result is in, or never will be)."""
        if self.status is None:
            done, status = os.waitpid(self.pid, os.WNOHANG)
            if not done:
                try:
                    os.kill(self.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                _, status = os.waitpid(self.pid, 0)
            self.status = status
        return self.status
