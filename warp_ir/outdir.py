"""The output folder: whether a build may write there, and how its files replace the previous build's at once.

A build writes only into a missing or empty folder, or into one a previous ``warp-ir build`` made
(recognised by its ``build_info.json``); anything else needs ``overwrite``. It never removes or
replaces a file it did not write: ``build_info.json`` lists, per configuration, the data files the
build wrote, and only those (with ``README.md`` and ``build_info.json``) are replaced.

The new files are written into ``OUT/.warp-ir-cache/staging`` and swapped in by renames. The swap
is journalled: ``swap.json`` (written atomically) lists what goes and what comes, and is the
commit point. A build killed before it leaves the old build untouched; one killed during the
renames is finished by the next ``warp-ir`` command that opens the folder (:func:`recover`), so
nobody using warp-ir ever sees a mix of two builds.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any

from evaluation.tasks import BY_SLUG
from warp_ir.figures import FIGURES_DIR
from warp_ir.lock import LOCK_NAME, FolderLock
from warp_ir.stats import BUILD_INFO, CONFIG_PREFIX, HUB_FILE_RE

logger = logging.getLogger(__name__)

CACHE_DIRNAME = ".warp-ir-cache"
VIEWS_DIR = "chat"  # the chat views of the synthetic configuration: chat/<task slug>/<split>-XXXXX-of-YYYYY.parquet
CARD = "README.md"
_JOURNAL = "swap.json"
_STAGING = "staging"
_TRASH = "trash"


class OutputError(ValueError):
    """The output folder cannot be used as asked (a one-line reason)."""


def cache_dir(out: Path) -> Path:
    """``OUT/.warp-ir-cache``: the build's own working files (builder cache, resume shards, staging)."""
    return out / CACHE_DIRNAME


def staging_dir(out: Path) -> Path:
    """Where a build lays out its final files before they are swapped in."""
    return cache_dir(out) / _STAGING


def read_build_info(out: Path) -> dict[str, Any] | None:
    """``build_info.json`` of a folder a warp-ir build made, or ``None`` when there is none or it is not one."""
    path = out / BUILD_INFO
    if not path.is_file():
        return None
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return checked_build_info(info)


def checked_build_info(info: Any) -> dict[str, Any] | None:
    """``info`` (``build_info.json``'s content) if it is one warp-ir wrote, else ``None``."""
    if not isinstance(info, dict) or not info:
        return None
    for name, entry in info.items():
        if name not in CONFIG_PREFIX or not isinstance(entry, dict) or "builder_version" not in entry:
            return None
    return info


def owned_files(out: Path, info: dict[str, Any] | None, config_name: str) -> list[str]:
    """Data files (relative paths) that the previous build of ``config_name`` in ``out`` wrote.

    Read from the ``files`` list of ``build_info.json``; a build made before that list existed
    owns the Hub-named Parquet files of its configuration folder.
    """
    entry = (info or {}).get(config_name)
    if not entry:
        return []
    prefix = CONFIG_PREFIX[config_name]
    if isinstance(entry.get("files"), list):
        return [p for p in entry["files"] if isinstance(p, str) and safe_name(p)
                and (p.startswith(prefix + "/") or p.startswith(f"{FIGURES_DIR}/{config_name}-")
                     or (config_name == "synthetic" and p.startswith(VIEWS_DIR + "/")))]
    folder = out / prefix
    return sorted(f"{prefix}/{p.name}" for p in folder.glob("*.parquet") if HUB_FILE_RE.match(p.name)) \
        if folder.is_dir() else []


def check_output(out: Path, config_name: str, overwrite: bool) -> None:
    """Check that a build of ``config_name`` may write into ``out`` (nothing is created or changed).

    Raises:
        OutputError: ``out`` is a file, or a folder holding files warp-ir did not write (without ``overwrite``).
    """
    if out.exists() and not out.is_dir():
        raise OutputError(f"--out {out} is a file, not a folder")
    if not out.is_dir():
        return
    try:
        entries = sorted(os.listdir(out))
    except OSError as exc:
        raise OutputError(f"cannot read {out}: {exc.strerror}") from exc
    if not set(entries) - {CACHE_DIRNAME, LOCK_NAME} or overwrite:
        return
    info = read_build_info(out)
    if info is None:
        shown = ", ".join(entries[:3]) + (", ..." if len(entries) > 3 else "")
        raise OutputError(f"{out} is not empty and not a warp-ir build (it holds {shown}): choose a new or empty "
                          f"folder, or pass --overwrite to replace README.md, {BUILD_INFO} and "
                          f"{CONFIG_PREFIX[config_name]}/ files there")
    owned = set(owned_files(out, info, config_name))
    patterns = [f"{CONFIG_PREFIX[config_name]}/*.parquet"] + ([f"{VIEWS_DIR}/*/*.parquet"]
                                                             if config_name == "synthetic" else [])
    foreign = sorted(rel for pattern in patterns for p in out.glob(pattern)
                     if HUB_FILE_RE.match(p.name) and safe_name(rel := p.relative_to(out).as_posix())
                     and rel not in owned)
    if foreign:
        raise OutputError(f"{out / foreign[0]} was not written by the warp-ir build recorded in {out / BUILD_INFO}:"
                          " move it away, or pass --overwrite to replace it")


def make_output(out: Path) -> None:
    """Create ``out`` (and its parents) if needed.

    Raises:
        OutputError: It cannot be created or written to.
    """
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {out}: {exc.strerror or exc}") from exc
    if not os.access(out, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write to {out}: permission denied")


def safe_name(rel: str) -> bool:
    """Whether ``rel`` names a file a build may write.

    ``README.md``, ``build_info.json``, ``<prefix>/<file>.parquet``, ``figures/<config>-<name>.png`` or
    ``chat/<task slug>/<split>-XXXXX-of-YYYYY.parquet``.
    """
    path = PurePosixPath(rel)
    if path.is_absolute() or ".." in path.parts:
        return False
    if len(path.parts) == 1:
        return rel in (CARD, BUILD_INFO)
    if len(path.parts) == 3 and path.parts[0] == VIEWS_DIR:
        return path.parts[1] in BY_SLUG and bool(HUB_FILE_RE.match(path.parts[2]))
    if len(path.parts) == 2 and path.parts[0] == FIGURES_DIR:
        return bool(re.fullmatch(rf"(?:{'|'.join(CONFIG_PREFIX)})-[a-z_]+\.png", path.parts[1]))
    return len(path.parts) == 2 and path.parts[0] in CONFIG_PREFIX.values() and \
        bool(re.fullmatch(r"[\w.-]+\.parquet", path.parts[1])) and not path.parts[1].startswith(".")


def _staged_files(staged: Path) -> list[str]:
    return sorted(p.relative_to(staged).as_posix() for p in staged.rglob("*") if p.is_file())


def commit(out: Path, config_name: str, overwrite: bool, only: str | None = None) -> None:
    """Swap the staged files of a build of ``config_name`` into ``out``, replacing only what warp-ir wrote.

    With ``only`` (a folder prefix such as ``chat/``), only the files of ``config_name`` under it are
    replaced (with the card and ``build_info.json``): the rest of that build stays.

    Raises:
        OutputError: A staged file would replace a file warp-ir did not write (without ``overwrite``).
    """
    staged = staging_dir(out)
    new = _staged_files(staged)
    bad = [p for p in new if not safe_name(p)]
    if bad:
        raise RuntimeError(f"staged files outside the build layout: {bad}")
    info = read_build_info(out)
    old = {p for p in owned_files(out, info, config_name) if only is None or p.startswith(only)}
    if info is not None:
        old |= {CARD, BUILD_INFO}
    clashes = [p for p in new if p not in old and (out / p).exists()]
    if clashes and not overwrite:
        raise OutputError(f"{out / clashes[0]} exists and was not written by warp-ir: pass --overwrite to replace it")
    journal = {"version": 1, "new": new, "old": sorted(old | set(clashes))}
    path = cache_dir(out) / _JOURNAL
    tmp = path.with_name(f".{_JOURNAL}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(journal, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)  # the commit point
    _apply(out, journal)


def _apply(out: Path, journal: dict[str, Any]) -> None:
    """Carry out a swap journal; safe to run again on a swap that was interrupted at any point."""
    staged, trash = staging_dir(out), cache_dir(out) / _TRASH
    new = set(journal["new"])
    for rel in journal["old"]:
        # an old file whose replacement has already been moved in is the new one: leave it
        if (out / rel).exists() and (rel not in new or (staged / rel).exists()):
            (trash / rel).parent.mkdir(parents=True, exist_ok=True)
            os.replace(out / rel, trash / rel)
    for rel in journal["new"]:
        if (staged / rel).exists():
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged / rel, out / rel)
    (cache_dir(out) / _JOURNAL).unlink()
    for folder in (trash, staged):
        shutil.rmtree(folder, ignore_errors=True)
    logger.info("swapped in %d file(s), removed %d", len(journal["new"]), len(journal["old"]))


def recover(out: Path) -> bool:
    """Finish a swap that a killed build left half done (call it holding the folder's lock).

    A journal that is not one warp-ir wrote (unreadable, or naming paths outside the build
    layout) is discarded, and the previous build stays as it is.

    Returns:
        Whether a swap was finished.
    """
    path = cache_dir(out) / _JOURNAL
    if not path.is_file():
        return False
    try:
        journal = json.loads(path.read_text(encoding="utf-8"))
        ok = isinstance(journal, dict) and journal.get("version") == 1 and all(
            isinstance(journal.get(k), list) and all(isinstance(p, str) and safe_name(p) for p in journal[k])
            for k in ("new", "old"))
    except (OSError, UnicodeDecodeError, ValueError):
        ok = False
    if not ok:
        logger.warning("ignoring %s: not a swap journal warp-ir wrote", path)
        path.unlink()
        shutil.rmtree(staging_dir(out), ignore_errors=True)
        return False
    logger.warning("finishing the swap a killed build left in %s", out)
    _apply(out, journal)
    return True


@contextmanager
def opened(folder: Path, purpose: str) -> Iterator[None]:
    """Hold ``folder``'s lock while it is read or uploaded, after finishing a swap a killed build left.

    A folder this process cannot write to (a read-only copy) is used without the lock.

    Raises:
        warp_ir.lock.FolderLocked: A build (or another upload) is using the folder.
        OutputError: A killed build left a swap to finish and the folder is read-only.
    """
    if not folder.is_dir():
        yield
        return
    lock = FolderLock(folder, purpose)
    try:
        lock.acquire()
    except OSError:  # read-only: permissions or a read-only file system
        if (cache_dir(folder) / _JOURNAL).exists():
            raise OutputError(f"a killed build left {folder} half swapped: run warp-ir build there again "
                              "with write access to finish it") from None
        logger.info("%s is read-only: using it without the lock", folder)
        yield
        return
    try:
        recover(folder)
        yield
    finally:
        lock.release()
