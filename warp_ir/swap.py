"""The journalled swap of a build's files into its folder: fingerprints, the journal, carrying it out.

:func:`warp_ir.outdir.commit` writes a journal recording the size and SHA-256 of every file that comes (staged),
goes (the previous build's) or is kept aside (a user's file that ``--overwrite`` replaces, moved to a backup
folder), then carries it out with :func:`apply_journal`, which can run again on a swap interrupted at any point.
:func:`check_journal` says whether the files are still the ones a journal recorded, before anything is moved.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

JOURNAL_VERSION = 2  # version 2: files as {path: [size, sha256]}, and the backup of replaced user files
BACKUP_PREFIX = "warp-ir-backup-"  # OUT/warp-ir-backup-<UTC time>/: files of the user's that --overwrite replaced
_BACKUP_RE = re.compile(re.escape(BACKUP_PREFIX) + r"\d{8}-\d{6}(?:-\d+)?")


def staged_files(staged: Path) -> list[str]:
    """Every file (and symbolic link) under ``staged``, as sorted relative POSIX paths."""
    return sorted(p.relative_to(staged).as_posix() for p in staged.rglob("*") if p.is_file() or p.is_symlink())


def fingerprint(path: Path) -> list[Any]:
    """``[size, sha256]`` of a file; ``["symlink", target]`` of a symbolic link (never followed)."""
    if path.is_symlink():
        return ["symlink", os.readlink(path)]
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return [size, digest.hexdigest()]


def _matches(path: Path, expected: list[Any]) -> bool:
    """Whether ``path`` exists with the fingerprint ``expected``."""
    try:
        return os.path.lexists(path) and fingerprint(path) == expected
    except OSError:
        return False


def backup_name(out: Path) -> str:
    """A new ``warp-ir-backup-<UTC time>`` folder name under ``out``."""
    base = BACKUP_PREFIX + time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    name, n = base, 1
    while os.path.lexists(out / name):
        n += 1
        name = f"{base}-{n}"
    return name

def check_journal(out: Path, staged: Path, journal: dict[str, Any]) -> str | None:
    """Why ``journal`` cannot be carried out in ``out`` as it stands (``None`` when it can).

    Every file it names must be where the swap left it, with the size and SHA-256 it recorded: a
    staged file still staged or already moved in, an old file still in place or already gone, a
    replaced user file still in place or already in the backup folder. ``staged`` holds the new files.
    """
    for rel, expected in journal["new"].items():
        if not (_matches(staged / rel, expected) or (not os.path.lexists(staged / rel)
                                                     and _matches(out / rel, expected))):
            return f"{rel} is not the file the build staged"
    for rel, expected in journal["old"].items():
        replaced = rel in journal["new"] and not os.path.lexists(staged / rel)
        if not replaced and os.path.lexists(out / rel) and not _matches(out / rel, expected):
            return f"{rel} changed since the build recorded it"
    for rel, expected in journal["backed_up"].items():
        kept = out / journal["backup"] / rel
        if not (_matches(out / rel, expected) or _matches(kept, expected)):
            return f"{rel} (a file the build replaces) changed since the build recorded it"
    return None

def apply_journal(out: Path, staged: Path, trash: Path, journal_path: Path, journal: dict[str, Any]) -> None:
    """Carry out a swap journal; safe to run again on a swap that was interrupted at any point.

    Args:
        out: The folder the files are swapped into.
        staged: Where the new files wait.
        trash: Where the files that go are moved (removed at the end).
        journal_path: The journal's file, removed once the swap is done.
        journal: The journal (see :func:`warp_ir.outdir.commit`).
    """
    new = journal["new"]
    for rel in journal["old"]:
        # an old file whose replacement has already been moved in is the new one: leave it
        if os.path.lexists(out / rel) and (rel not in new or os.path.lexists(staged / rel)):
            (trash / rel).parent.mkdir(parents=True, exist_ok=True)
            os.replace(out / rel, trash / rel)
    for rel in journal["backed_up"]:
        if os.path.lexists(out / rel) and os.path.lexists(staged / rel):  # not replaced yet: keep the user's file
            kept = out / journal["backup"] / rel
            kept.parent.mkdir(parents=True, exist_ok=True)
            os.replace(out / rel, kept)
    for rel in new:
        if os.path.lexists(staged / rel):
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged / rel, out / rel)
    journal_path.unlink()
    for folder in (trash, staged):
        shutil.rmtree(folder, ignore_errors=True)
    if journal["backed_up"]:
        logger.warning("moved %d file(s) the build replaced to %s", len(journal["backed_up"]),
                       out / journal["backup"])
    logger.info("swapped in %d file(s), removed %d", len(new), len(journal["old"]))

def read_journal(path: Path, safe_name: Callable[[str], bool]) -> dict[str, Any] | None:
    """The swap journal at ``path`` if it is one this version of warp-ir writes, else ``None``.

    Args:
        path: The journal's file.
        safe_name: Whether a relative path names a file a build may write (every path the journal names must).
    """
    try:
        journal = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    if not isinstance(journal, dict) or journal.get("version") != JOURNAL_VERSION:
        return None
    for key in ("new", "old", "backed_up"):
        entries = journal.get(key)
        if not isinstance(entries, dict) or not all(
                safe_name(p) and isinstance(v, list) and len(v) == 2 for p, v in entries.items()):
            return None
    backup = journal.get("backup")
    if journal["backed_up"] and not (isinstance(backup, str) and _BACKUP_RE.fullmatch(backup)):
        return None
    return journal
