"""What native code writes to standard error, captured (a compiler's diagnostics, a loader's complaints).

Warp's compiler and linker print to file descriptor 2 from C++, where ``sys.stderr`` redirection does not
reach: :func:`captured_stderr` points the descriptor at a temporary file while a block runs.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def captured_stderr(sink: list[str]) -> Iterator[None]:
    """Capture what native code writes to file descriptor 2 (compiler diagnostics) into ``sink``."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            sink.append(tmp.read().decode("utf-8", "replace"))


__all__ = ["captured_stderr"]
