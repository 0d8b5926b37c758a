"""Files written whole or not at all: a temporary name in the same folder, then a rename."""

from __future__ import annotations

import json
import os
from pathlib import Path


def write_atomic(path: Path, data: bytes | memoryview, durable: bool = False) -> None:
    """Write ``data`` to ``path`` through a temporary name and a rename (never a half-written file).

    Args:
        path: The file to write.
        data: Its new content.
        durable: Flush the data to disk before the rename (a commit point that must survive a power cut).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, data: dict, durable: bool = False) -> None:
    """Write ``data`` as JSON to ``path`` through a temporary name and a rename (see :func:`write_atomic`)."""
    write_atomic(path, json.dumps(data, sort_keys=True).encode(), durable)
