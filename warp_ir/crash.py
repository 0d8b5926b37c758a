"""A failure that is not the user's: one line, the traceback in a crash log, and how to report it."""

from __future__ import annotations

import errno
import os
import platform
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from common.atomic import write_atomic
from common.errors import WarpIRError, first_line

ISSUES = "warp-ir's issue tracker"  # where a crash is reported (the README says how)


PROJECT_PACKAGES = frozenset({"common", "extraction", "fem_examples", "templates", "generator", "evaluation",
                              "warp_ir", "warp_ir_dataset"})


def mistake_in(exc: BaseException) -> str | None:
    """The one line saying the user's mistake ``exc`` is, or ``None`` when it is a failure of warp-ir's.

    A mistake is a :class:`common.errors.WarpIRError`, also one ``datasets`` wrapped in a
    ``DatasetGenerationError``, or a full disk (or quota), which no code of warp-ir's can cause or fix.
    """
    if type(exc).__name__ == "DatasetGenerationError" and exc.__cause__ is not None:
        exc = exc.__cause__
    if isinstance(exc, WarpIRError):
        return str(exc)
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else "") + " (free some space)"
    return None


def failure_line(exc: BaseException) -> str:
    """The one line naming a failure that is not the user's.

    ``datasets`` wraps what a shard raised in a ``DatasetGenerationError``: the line names what was raised. An
    error class of warp-ir's own (a child process that died, a Ray task that raised) says it in its message; any
    other (a bug: ``ZeroDivisionError``, pyarrow's ``ArrowInvalid``, an ``OSError``) is named by its type too.
    """
    if type(exc).__name__ == "DatasetGenerationError" and exc.__cause__ is not None:
        exc = exc.__cause__
    if type(exc).__module__.partition(".")[0] in PROJECT_PACKAGES:
        return first_line(exc, 500)
    return f"{type(exc).__name__}: {first_line(exc, 500)}" if str(exc).strip() else type(exc).__name__


def write_crash_log(exc: BaseException, argv: Sequence[str]) -> Path | None:
    """Write the traceback of ``exc`` to a new file under the system's temporary folder, whole or not at all.

    The file, ``warp-ir-crash-<time>-<pid>.log``, also names the command line, warp-ir's, Python's and the
    platform's versions: what a report of the bug needs. It is never written into the user's output folder.

    Args:
        exc: The error that ended the command.
        argv: The command line's arguments (without ``warp-ir``).

    Returns:
        The file's path, or ``None`` when it could not be written (the traceback then goes to standard error).
    """
    try:
        ours = version("warp-ir-dataset")
    except PackageNotFoundError:
        ours = "not installed"
    text = (f"warp-ir {ours}; Python {platform.python_version()}; {platform.platform()}\n"
            f"command: warp-ir {' '.join(argv)}\n\n" + "".join(traceback.format_exception(exc)))
    path = Path(tempfile.gettempdir()) / f"warp-ir-crash-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    try:
        write_atomic(path, text.encode("utf-8", errors="replace"))
    except OSError:
        return None
    return path


def report_crash(exc: BaseException, argv: Sequence[str]) -> int:
    """Say on standard error that the command failed through no mistake of the user's, and where its traceback is.

    Returns:
        The exit status, 1.
    """
    print(f"warp-ir: error: {failure_line(exc)}", file=sys.stderr)
    log = write_crash_log(exc, argv)
    if log is None:
        traceback.print_exception(exc, file=sys.stderr)
        where = "the traceback above"
    else:
        print(f"warp-ir: the full traceback is in {log}", file=sys.stderr)
        where = "that file"
    print(f"warp-ir: this is not a mistake of yours but a failure of warp-ir (or of a library it uses): please open "
          f"an issue on {ISSUES} with {where} attached (--debug shows the traceback here)", file=sys.stderr)
    return 1
