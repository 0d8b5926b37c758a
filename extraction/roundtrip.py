"""The round trip: a row's ``python_source`` alone, saved as a file and extracted as a user's file is,
regenerates the row's code.

A row is a whole problem only if its input decides its output. The check writes each row's text to a
folder of its own under the name Warp's line comments give it (:func:`extraction.loader.pseudo_filename`),
and a fresh Python process that never ran the build's code (``python -m extraction.roundtrip``) loads
it as :func:`extraction.load_target` loads a user's file, generates the code of the row's kernel (the
overload with the row's argument types) for the row's targets and compares the four code columns with
the row's, identical once Warp's module hash (``<kernel>_<hash>_cpu_kernel_forward``) is normalised.

:class:`RoundTrip` keeps one such process for many batches of rows (its start, about a second, is paid
once per build job) and restarts it when a program kills it or a batch runs past its time limit. The
process answers in JSON, one line per batch; nothing it sends is unpickled. Its environment holds no
secrets, and ``PYTHONHASHSEED=0`` makes Warp's code generation the same in every run.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from common.errors import first_line
from common.lines import read_line
from extraction.child import child_env, kill_group
from extraction.loader import pseudo_filename
from extraction.record import GENERATED_COLUMNS

_TARGET_OF = {"cpp_forward": "cpu", "cpp_backward": "cpu", "cuda_forward": "cuda", "cuda_backward": "cuda"}
_ENTRY_RE = re.compile(r"\b\w+?_([0-9a-f]{8})_(?:cpu|cuda)_kernel_(?:forward|backward)\b")
START_TIMEOUT_S = 120.0  # the process imports Warp and initialises it
BATCH_TIMEOUT_S = 60.0  # a batch's time limit: this, and ROW_TIMEOUT_S a row
ROW_TIMEOUT_S = 30.0
OK = ""  # the reason of a row that passes


def hash_normalized(code: str | None) -> str:
    """Generated code with Warp's module hash (the 8 hex digits of its entry points' names) replaced by ``HASH``."""
    if not code:
        return ""
    for digest in sorted({m[1] for m in _ENTRY_RE.finditer(code)}):
        code = code.replace(f"_{digest}", "_HASH")
    return code


def _digest(code: str | None) -> str:
    return hashlib.sha256(hash_normalized(code).encode()).hexdigest()


def expectation(row: dict[str, Any]) -> dict[str, Any]:
    """What the round trip of ``row`` must give back: file, kernel, argument types and the code columns' digests."""
    return {"file": pseudo_filename(row["python_source"] or ""), "kernel": row["kernel_name"],
            "types": [a["type"] for a in row.get("arguments") or []],
            "digests": {c: _digest(row.get(c)) for c in GENERATED_COLUMNS if row.get(c) is not None}}


class RoundTrip:
    """A fresh Python process that checks rows' round trips, batch after batch (a context manager).

    Args:
        timeout_s: A batch's time limit is this plus ``row_timeout_s`` a row (the process's start, once,
            has :data:`START_TIMEOUT_S` of its own).
        row_timeout_s: See ``timeout_s``.
    """

    def __init__(self, timeout_s: float = BATCH_TIMEOUT_S, row_timeout_s: float = ROW_TIMEOUT_S) -> None:
        self.timeout_s, self.row_timeout_s = timeout_s, row_timeout_s
        self._proc: subprocess.Popen | None = None
        self._folder = tempfile.TemporaryDirectory(prefix="warp-ir-roundtrip-")
        self._batch = 0

    def __enter__(self) -> RoundTrip:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the process and remove the folder the rows were written to."""
        self._stop()
        self._folder.cleanup()

    def _stop(self) -> None:
        if self._proc is not None:
            kill_group(self._proc)
            self._proc = None

    def _start(self) -> subprocess.Popen | str:
        """The running process, started (and waited for: it says when it is ready) if need be; or why not."""
        if self._proc is not None and self._proc.poll() is None:
            return self._proc
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "extraction.roundtrip"], cwd=self._folder.name,
            env=child_env() | {"PYTHONHASHSEED": "0"}, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, start_new_session=True)
        ready = self._read_line(START_TIMEOUT_S)
        if ready != b"ready\n":
            self._stop()
            return f"round trip: its process did not start ({'timed out' if ready is None else 'died'})"
        return self._proc

    def _read_line(self, timeout_s: float) -> bytes | None:
        """The process's next line; ``b""`` when it died first, ``None`` when ``timeout_s`` passed first."""
        assert self._proc is not None and self._proc.stdout is not None
        return read_line(self._proc.stdout, timeout_s)

    def check(self, rows: Sequence[dict[str, Any]]) -> list[str]:
        """The round trip of every row: ``""`` (:data:`OK`) where it gives the row's code back, else why not.

        A batch whose process dies or runs past its time limit gives every row that reason (the
        process is started again for the next batch).
        """
        if not rows:
            return []
        self._batch += 1
        batch = Path(self._folder.name) / f"batch-{self._batch}"
        batch.mkdir()
        expected: list[dict[str, Any]] = []
        for row in rows:
            exp = expectation(row)
            folder = batch / str(len(expected))  # a folder a row: rows of one text share a name
            folder.mkdir()
            (folder / exp["file"]).write_text(row["python_source"] or "", encoding="utf-8")
            expected.append({**exp, "dir": str(folder)})
        try:
            return self._ask(expected, self.timeout_s + self.row_timeout_s * len(rows))
        finally:
            shutil.rmtree(batch)

    def _ask(self, expected: list[dict[str, Any]], timeout_s: float) -> list[str]:
        proc = self._start()
        if isinstance(proc, str):
            return [proc] * len(expected)
        assert proc.stdin is not None
        try:
            proc.stdin.write((json.dumps(expected) + "\n").encode())
            proc.stdin.flush()
        except OSError:
            self._stop()
            return ["round trip: its process died before the batch"] * len(expected)
        line = self._read_line(timeout_s)
        if not line:
            self._stop()
            why = f"took longer than {timeout_s:.0f} s" if line is None else "its process died (a program ended it)"
            return [f"round trip: {why}"] * len(expected)
        answer = json.loads(line)
        if not (isinstance(answer, list) and len(answer) == len(expected) and all(isinstance(a, str) for a in answer)):
            self._stop()
            return ["round trip: its process answered something else"] * len(expected)
        return answer


def with_round_trip(table: pa.Table, checker: RoundTrip) -> pa.Table:
    """``table`` (rows in the dataset's schema) with every row's round trip in ``validation.round_trip``
    and ``validation.round_trip_note``."""
    if not table.num_rows:
        return table
    reasons = checker.check(table.select(["python_source", "kernel_name", "arguments", *GENERATED_COLUMNS]).to_pylist())
    validation = table.column("validation").to_pylist()
    for v, reason in zip(validation, reasons):
        v["round_trip"], v["round_trip_note"] = reason == OK, reason
    index = table.schema.get_field_index("validation")
    return table.set_column(index, table.schema.field(index), pa.array(validation, type=table.schema.field(index).type))


# --- the process's side ------------------------------------------------------------------------------

def _check_one(exp: dict[str, Any], config: dict[str, Any]) -> str:
    """Extract ``exp``'s file as a user's file and compare (runs the file's code: the round-trip process only)."""
    from extraction import _warp  # noqa: PLC0415 - the process's side only

    _warp.restore_config(config)  # as in a fresh process: what an earlier row's imports set is undone
    os.chdir(exp["dir"])
    _warp.reset_function_ids()  # helper numbering as in a process of its own
    targets = tuple(dict.fromkeys(_TARGET_OF[c] for c in exp["digests"])) or ("cpu",)
    sys.path.insert(0, exp["dir"])  # the file's folder is the root Warp's line comments are relative to
    try:
        with _warp.own_modules():  # as in a fresh process: no Warp module of an earlier row is reused
            return _extract_and_compare(exp, targets)
    finally:
        sys.path.remove(exp["dir"])


def _extract_and_compare(exp: dict[str, Any], targets: tuple[str, ...]) -> str:
    from extraction.extract import extract_module  # noqa: PLC0415 - the process's side only
    from extraction.loader import load_target, unload  # noqa: PLC0415

    try:
        module = load_target(exp["file"])
    except Exception as exc:  # the reason is the answer
        return f"does not load: {_clean(first_line(exc), exp)}"
    try:
        try:
            records = extract_module(module, targets)
        except Exception as exc:  # the same
            return f"Warp rejects it: {_clean(first_line(exc), exp)}"
        found = [r for r in records if r.kernel_name == exp["kernel"]
                 and [a["type"] for a in r.arguments] == exp["types"]]
        if not found:
            return "its kernel, with these argument types, is not in it"
        differ = [c for c, digest in exp["digests"].items() if _digest(getattr(found[0], c)) != digest]
        return f"code differs: {', '.join(differ)}" if differ else OK
    finally:
        unload(module.__name__)


def _clean(text: str, exp: dict[str, Any]) -> str:
    """A reason without the row's own folder and file name (failures of one kind are counted together)."""
    return text.replace(exp["dir"] + os.sep, "").replace(exp["file"], "<file>")[:200]


def _serve() -> None:
    """Answer batches (a JSON list a line on standard input) with their reasons (a JSON list a line)."""
    from extraction import _warp, init_quiet  # noqa: PLC0415

    init_quiet()
    config = _warp.config_settings()  # as a fresh process has them (a package a row imports may change them)
    out = sys.stdout.buffer
    sys.stdout = sys.stderr  # what programs print never mixes with the answers
    out.write(b"ready\n")
    out.flush()
    for line in sys.stdin.buffer:
        answers = [_check_one(exp, config) for exp in json.loads(line)]
        out.write((json.dumps(answers) + "\n").encode())
        out.flush()


if __name__ == "__main__":
    _serve()
