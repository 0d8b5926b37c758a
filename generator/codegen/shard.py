"""Compile one shard: re-render its programs, generate code, validate, and report counts.

Compiling a program imports it, which runs its top-level code: code a template folder wrote. That
happens in a child process forked for the shard (:func:`run_in_child`), never in the process that
asked for the rows (``warp-ir build`` itself with one worker); the child hands its rows back as
Arrow IPC bytes and its counts as JSON (data: reading them runs no code), with secrets removed
from its environment first (:mod:`extraction.environ`).
"""

from __future__ import annotations

import gc
import hashlib
import json
import logging
import os
import select
import signal
import struct
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from common.atomic import write_json_atomic
from common.errors import first_line
from extraction import FEATURES, init_quiet, kernel_cache, rows_table, warp_version
from extraction.environ import drop_secrets_from_process
from extraction.isolate import write_all
from generator.codegen.pipeline import Counts, package_version, records_for
from generator.codegen.resume import load_shard, save_shard, shard_identity
from generator.planning.plan import ShardSpec
from generator.programs.render import RenderError
from generator.programs.sampler import Program, sample_program
from generator.programs.templates import Template, load_templates, templates_digest

logger = logging.getLogger(__name__)


class TemplatesChanged(RuntimeError):
    """The template files changed between planning a build and compiling one of its shards."""


class ChildFailed(RuntimeError):
    """The child process doing a piece of work died, or raised, without handing back its result."""


_POLL_S = 0.5  # how often the parent checks, while it waits for bytes, that its child is still alive


def run_in_child(work: Callable[[], tuple[dict[str, Any], pa.Table | None]],
                 what: str) -> tuple[dict[str, Any], pa.Table | None]:
    """Run ``work`` in a forked child and hand back what it returns, as data.

    The child gets this process's memory (imported modules, compiled templates, an initialised Warp)
    without the secrets of its environment (:func:`extraction.environ.drop_secrets_from_process`),
    runs ``work``, writes its JSON header and its Arrow table (as IPC stream bytes) to a pipe and
    exits; nothing it sends is unpickled, so code it ran cannot run here. ``os.fork`` works in
    ``datasets``' daemonic workers, where ``multiprocessing`` may not start children.

    Args:
        work: Returns a JSON-serialisable dict and an Arrow table (or ``None``).
        what: What the child does, for error messages (``"compiling shard train-00000"``).

    Raises:
        TemplatesChanged: ``work`` raised it in the child.
        ChildFailed: ``work`` raised anything else, or the child died or exited without its result.
    """
    sys.stdout.flush()  # buffered output would be written twice (by both processes) otherwise
    sys.stderr.flush()
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into the caller's code
        # what it inherited lives as long as it does: out of the collector's reach, so collections neither walk the
        # parent's heap (0.1 s each for a build's driver) nor copy its pages
        gc.freeze()
        code = 1
        try:
            os.close(read_fd)
            drop_secrets_from_process()  # the programs it runs never see the user's tokens
            try:
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
    os.close(write_fd)
    reader = _Reader(read_fd, pid)
    got: bytes | None = None
    payload: bytes | None = None
    try:
        length = reader.length()
        got = reader.exact(length) if length is not None else None
        size = reader.length() if got is not None else None
        payload = reader.exact(size) if size is not None else None
    finally:
        os.close(read_fd)
        status = reader.reap()
    if got is None or payload is None:
        raise ChildFailed(f"the process {what} {_how(status)} without handing back its result")
    try:
        message = json.loads(got)
        if isinstance(message, dict) and "error" in message:
            name, text = str(message["error"]), str(message.get("message", ""))
            if name == TemplatesChanged.__name__:
                raise TemplatesChanged(text)
            raise ChildFailed(f"the process {what} failed: {name}: {text}"[:600])
        if not isinstance(message, dict) or not isinstance(message.get("ok"), dict):
            raise ValueError("no result in the header")
        table = pa.ipc.open_stream(pa.py_buffer(payload)).read_all() if payload else None
    except (ValueError, pa.ArrowException) as exc:  # json's and Arrow's errors on bytes that are not what we sent
        raise ChildFailed(f"the process {what} sent an unreadable result: {first_line(exc, 400)}") from None
    return message["ok"], table


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


def shard_programs(shard: ShardSpec, templates: Sequence[Template], counts: Counts) -> list[Program]:
    """Re-render the programs of ``shard`` (identical to what the plan rendered).

    Raises:
        TemplatesChanged: The templates on disk are not the ones the plan was made from.
    """
    if shard.templates_digest and templates_digest(tuple(templates)) != shard.templates_digest:
        raise TemplatesChanged("the templates changed while the build was running: start it again")
    programs = []
    for index in shard.indices:
        try:
            programs.append(sample_program(shard.seed, index, templates, shard.families))
        except RenderError as exc:  # cannot happen for a plan made with the same templates
            counts.reject(exc.template.family, f"RenderError: {exc}", f"{shard.seed}:{index}")
    return programs


def fingerprint(config: dict[str, Any]) -> str:
    """A key for everything that decides a build's rows: the config, the templates and the versions."""
    key = json.dumps(config, sort_keys=True, default=str)
    key += f"|{templates_digest(load_templates())}|{warp_version()}|{package_version('warp-ir-dataset')}"
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def compile_shard(shard: ShardSpec, targets: Sequence[str], validate: str = "codegen",
                  kernel_cache_dir: str | None = None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Compile (and validate) one shard; return its rows and its counts (plain JSON, for any worker).

    This is all a worker needs, wherever it runs: a ``datasets`` process or a Ray task. The programs
    run in a child process (see :func:`compile_shard_table`).
    """
    table, counts = compile_shard_table(shard, targets, validate, kernel_cache_dir)
    return table.to_pylist(), counts


def compile_shard_table(shard: ShardSpec, targets: Sequence[str], validate: str = "codegen",
                        kernel_cache_dir: str | None = None) -> tuple[pa.Table, dict[str, Any]]:
    """Compile (and validate) one shard in a forked child; return its rows as one table, and its counts.

    Rendering, importing (running each program's top-level code), code generation and validation all
    happen in the child (:func:`run_in_child`); this process only reads back an Arrow table and JSON.
    Warp is initialised here first (as it was when shards were compiled in this process), so each child
    starts with it.

    Raises:
        TemplatesChanged: The templates on disk are not the ones the plan was made from.
        ChildFailed: The child died (a program crashed it or ended it) or failed without its rows.
    """
    init_quiet()

    def work() -> tuple[dict[str, Any], pa.Table]:
        rows, counts = _compile_here(shard, targets, validate, kernel_cache_dir)
        return {"counts": counts}, rows_table(rows)

    header, table = run_in_child(work, f"compiling shard {shard.name}")
    counts = header.get("counts")
    if table is None or not table.schema.equals(FEATURES.arrow_schema, check_metadata=False) or \
            not isinstance(counts, dict):
        raise ChildFailed(f"the process compiling shard {shard.name} sent rows of another schema, or no counts")
    return table.replace_schema_metadata(FEATURES.arrow_schema.metadata), counts


def _compile_here(shard: ShardSpec, targets: Sequence[str], validate: str,
                  kernel_cache_dir: str | None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Compile one shard in this process (runs its programs' top-level code: the child's side)."""
    counts = Counts()
    rows = []
    with kernel_cache(kernel_cache_dir):
        programs = shard_programs(shard, load_templates(), counts)
        records = records_for(programs, targets, counts)
        if validate != "codegen":
            from generator.codegen.validate import validate_records  # noqa: PLC0415 - only needed at higher levels

            records = validate_records(records, validate, targets, counts)
        for rec in records:
            counts.keep(rec.family)
            rows.append(rec.to_row())
    return rows, counts.to_json()


def run_shard(
    shard: ShardSpec,
    targets: Sequence[str],
    validate: str = "codegen",
    stats_dir: str | None = None,
    resume_dir: str | None = None,
) -> pa.Table:
    """The rows of one shard, in index order, as one Arrow table; its counts go to ``stats_dir``.

    With ``resume_dir``, a finished shard is saved there (see :mod:`generator.codegen.resume`) and a
    later run with the same fingerprint reads it back, once verified, instead of compiling it
    again, so a build killed at any point resumes where it stopped and ends with the same rows.

    Args:
        shard: The slice of the seed space to compile.
        targets: Code generation targets.
        validate: Validation level.
        stats_dir: Where ``<split>-<shard_id>.json`` with the shard's counts goes (optional).
        resume_dir: Where finished shards are kept (a folder per build fingerprint).
    """
    folder = Path(resume_dir) if resume_dir else None
    identity = shard_identity(shard, targets, validate)
    saved = load_shard(folder, shard, identity) if folder is not None else None
    if saved is not None:
        table, counts = saved[0], Counts.from_json(saved[1])
        logger.info("shard %s/%d: resumed (%d rows)", shard.split, shard.shard_id, table.num_rows)
    else:
        cache = os.path.join(stats_dir, "..", "warp-kernels", f"pid-{os.getpid()}") if stats_dir else None
        table, counts_json = compile_shard_table(shard, targets, validate, cache)
        counts = Counts.from_json(counts_json)
        if folder is not None:
            save_shard(folder, shard, identity, table, counts_json)
    if stats_dir:
        write_json_atomic(Path(stats_dir) / f"{shard.name}.json", counts.to_json())
    logger.info("shard %s/%d: %d rows, %d rejected", shard.split, shard.shard_id, counts.rows,
                sum(counts.rejected.values()))
    return table
