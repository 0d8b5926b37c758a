"""Reading one line from a child process's pipe, with a time limit (and a size limit)."""

from __future__ import annotations

import os
import select
import time
from typing import IO


def read_line(stream: IO[bytes], timeout_s: float, max_bytes: int | None = None) -> bytes | None:
    """The next line of ``stream`` (a pipe), newline included.

    Returns:
        ``b""`` when the pipe ended first (the process died); ``None`` when ``timeout_s`` passed first, or the line
        grew past ``max_bytes``.
    """
    deadline, line = time.monotonic() + timeout_s, b""
    while not line.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([stream], [], [], left)[0]:
            return None
        chunk = os.read(stream.fileno(), 1 << 16)
        if not chunk:
            return b""
        line += chunk
        if max_bytes is not None and len(line) > max_bytes:
            return None
    return line
