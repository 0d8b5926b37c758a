"""What went wrong, said in one line: the base of every error that is the user's to fix, and an error's first line.

A :class:`WarpIRError` is a mistake the user can correct (an unknown family, a folder that is not a build, a
file that cannot be read): the command line prints its one-line message and exits with status 2. Anything
else that escapes is a bug in warp-ir (or in a library under it): exit status 1, with its traceback.
"""

from __future__ import annotations


class WarpIRError(Exception):
    """A user's mistake, explained in one line (the command line exits with status 2)."""


class ConfigError(WarpIRError, ValueError):
    """A setting that cannot be used (a ``ValueError`` too, as ``datasets`` configs raise)."""


def first_line(error: BaseException | str, limit: int | None = None) -> str:
    """The first non-empty line of an error's message (its type name when it has none), at most ``limit`` characters.

    Args:
        error: An exception, or a message (a compiler's or a child process's output).
        limit: Cut the line to this many characters (with ``...``); ``None`` keeps it whole.
    """
    text = str(error)
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    if not line:
        line = type(error).__name__ if isinstance(error, BaseException) else ""
    if limit is not None and len(line) > limit:
        line = line[: max(0, limit - 3)] + "..."
    return line
