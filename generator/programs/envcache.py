"""What every build process derives from its environment before it draws a program, kept on disk once per environment.

Parsing the templates' YAML headers and instantiating Warp's builtin overloads for the synthesizer
(:func:`extraction.signatures.builtin_signatures`) cost about two seconds per process, and give the same answer
until Warp, the templates or this code change. Each answer is kept as a JSON file (data: reading it runs no code;
no pickle, no compiled template), holding the key it was computed under and the SHA-256 of its data. An entry is
used only when its format, key and checksum all match and its data has the expected shape; anything else
(missing, corrupt, another Warp, edited templates, edited code) is ignored and computed again, then written
back (through a temporary name and a rename). The Jinja templates themselves are compiled in each process
(compiled templates are code).

Where: ``$WARP_IR_CACHE_DIR`` (``off`` turns the cache off), else ``$XDG_CACHE_HOME/warp-ir``, else
``~/.cache/warp-ir``; one folder per Python environment (``sys.prefix``) below it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common.atomic import write_atomic

logger = logging.getLogger(__name__)

CACHE_ENV = "WARP_IR_CACHE_DIR"
FORMAT = 1  # bump when what an entry holds changes meaning


def cache_root() -> Path | None:
    """The folder holding this environment's entries (``None``: the cache is off)."""
    chosen = os.environ.get(CACHE_ENV)
    if chosen is not None and chosen.strip().lower() in ("", "off", "0", "none"):
        return None
    if chosen:
        base = Path(chosen).expanduser()
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        base = (Path(xdg) if xdg else Path.home() / ".cache") / "warp-ir"
    env = hashlib.sha256(f"{sys.prefix}|{sys.version}".encode()).hexdigest()[:12]
    return base / f"env-{env}"


def file_digest(*paths: Path) -> str:
    """SHA-256 (16 hex digits) over the texts of ``paths``: a code version that changes with the code."""
    h = hashlib.sha256()
    for path in paths:
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def _dumps(data: Any) -> str:
    # key order kept (a template's params are sampled in declaration order): never sort_keys here
    return json.dumps(data, ensure_ascii=True, separators=(",", ":"), allow_nan=False)


def load(name: str, key: dict[str, Any], valid: Callable[[Any], bool]) -> Any | None:
    """The data of entry ``name`` if it was stored under ``key``, is intact and passes ``valid``; else ``None``."""
    root = cache_root()
    if root is None:
        return None
    path = root / f"{name}.json"
    try:
        entry = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:  # unreadable, not UTF-8, not JSON: rebuilt
        logger.debug("cache entry %s ignored: %s", path, exc)
        return None
    try:
        ok = (isinstance(entry, dict) and entry.get("format") == FORMAT and entry.get("key") == key
              and entry.get("sha256") == hashlib.sha256(_dumps(entry.get("data")).encode()).hexdigest()
              and valid(entry["data"]))
    except (TypeError, ValueError, KeyError, IndexError, AttributeError):  # a shape `valid` did not expect
        ok = False
    if not ok:
        logger.debug("cache entry %s ignored: another key, or corrupt", path)
        return None
    return entry["data"]


def store(name: str, key: dict[str, Any], data: Any) -> None:
    """Write entry ``name`` (a cache that cannot be written, or data that is not plain JSON, is skipped)."""
    root = cache_root()
    if root is None:
        return
    try:
        text = _dumps(data)
        if json.loads(text) != data:  # tuples, non-string keys...: would not come back as they are
            return
        body = _dumps({"format": FORMAT, "key": key, "sha256": hashlib.sha256(text.encode()).hexdigest(),
                       "data": data})
        write_atomic(root / f"{name}.json", body.encode())
    except (OSError, TypeError, ValueError) as exc:
        logger.debug("cache entry %s not written: %s", name, exc)


def cached(name: str, key: dict[str, Any], compute: Callable[[], Any], valid: Callable[[Any], bool]) -> Any:
    """Entry ``name`` under ``key`` from disk when it checks out, else ``compute()`` (and written for next time)."""
    data = load(name, key, valid)
    if data is None:
        data = compute()
        store(name, key, data)
    return data
