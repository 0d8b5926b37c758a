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
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any

from common.atomic import write_json_atomic
from common.errors import WarpIRError
from evaluation.tasks import BY_SLUG
from warp_ir.figures import FIGURES_DIR
from warp_ir.lock import LOCK_NAME, FolderLock
from warp_ir.stats import BUILD_INFO, CONFIG_PREFIX, HUB_FILE_RE
from warp_ir.swap import (
    JOURNAL_VERSION,
    apply_journal,
    backup_name,
    check_journal,
    fingerprint,
    read_journal,
    staged_files,
)

logger = logging.getLogger(__name__)

CACHE_DIRNAME = ".warp-ir-cache"
VIEWS_DIR = "chat"  # the chat views of the synthetic configuration: chat/<task slug>/<split>-XXXXX-of-YYYYY.parquet
CARD = "README.md"
_JOURNAL = "swap.json"
_STAGING = "staging"
_TRASH = "trash"
# The build's working folder carries the cache directory tag (https://bford.info/cachedir/): a folder of that
# name without it was not made by warp-ir, and warp-ir neither writes into it nor deletes from it
CACHE_TAG = "CACHEDIR.TAG"
_TAG_SIGNATURE = "Signature: 8a477f597d28d172789f06886806bc55"
_TAG_TEXT = _TAG_SIGNATURE + "\n# warp-ir's working files for the build in the folder above (safe to delete).\n"
# what marks a project checkout, which a build never writes into unless it already holds a warp-ir build
_PROJECT_MARKERS = (".git", "pyproject.toml", "setup.py")


class OutputError(WarpIRError, ValueError):
    """The output folder cannot be used as asked (a one-line reason)."""


def cache_dir(out: Path) -> Path:
    """``OUT/.warp-ir-cache``: the build's own working files (builder cache, resume shards, staging)."""
    return out / CACHE_DIRNAME


def check_cache(out: Path) -> None:
    """Check that ``OUT/.warp-ir-cache``, if it exists, is a folder warp-ir made and holds no symbolic link.

    Everything warp-ir writes, renames or deletes there must stay inside ``out``: a working folder that is a
    link (or holds one) could aim a build's writes and clean-ups at another folder, so it is refused.

    Raises:
        OutputError: It is a symbolic link, not a folder, has no warp-ir tag, or holds a symbolic link.
    """
    path = cache_dir(out)
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise OutputError(f"cannot read {path}: {exc.strerror or exc}") from None
    if stat.S_ISLNK(mode):
        raise OutputError(f"{path} is a symbolic link: warp-ir keeps its own working files there and follows no "
                          "link out of the folder; remove the link")
    if not stat.S_ISDIR(mode):
        raise OutputError(f"{path} is not a folder: warp-ir keeps its own working files there; move it away")
    tag = path / CACHE_TAG
    try:
        ours = not tag.is_symlink() and tag.is_file() and tag.read_text(encoding="utf-8").startswith(_TAG_SIGNATURE)
    except (OSError, UnicodeDecodeError):
        ours = False
    if not ours:
        raise OutputError(f"{path} was not made by this warp-ir (no {CACHE_TAG} in it): move it away or remove it")
    for root, dirs, names in os.walk(path):
        for name in dirs + names:
            if os.path.islink(os.path.join(root, name)):
                raise OutputError(f"{os.path.join(root, name)} is a symbolic link inside warp-ir's working folder: "
                                  f"remove {path}")


def make_cache(out: Path) -> Path:
    """``OUT/.warp-ir-cache``, created (with its tag) if missing, after :func:`check_cache`.

    Raises:
        OutputError: As :func:`check_cache`.
    """
    check_cache(out)
    path = cache_dir(out)
    try:
        path.mkdir()
    except FileExistsError:
        return path
    with open(path / CACHE_TAG, "x", encoding="utf-8") as f:
        f.write(_TAG_TEXT)
    return path


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
    check_cache(out)
    try:
        entries = sorted(os.listdir(out))
    except OSError as exc:
        raise OutputError(f"cannot read {out}: {exc.strerror}") from exc
    info = read_build_info(out)
    project = [m for m in _PROJECT_MARKERS if m in entries]
    if info is None and project:
        raise OutputError(f"{out} looks like a project checkout (it holds {', '.join(project)}) and not a warp-ir "
                          "build: warp-ir does not build into it, even with --overwrite; choose a new or empty folder")
    if not set(entries) - {CACHE_DIRNAME, LOCK_NAME} or overwrite:
        return
    if info is None:
        shown = ", ".join(entries[:3]) + (", ..." if len(entries) > 3 else "")
        raise OutputError(f"{out} is not empty and not a warp-ir build (it holds {shown}): choose a new or empty "
                          f"folder, or pass --overwrite to replace README.md, {BUILD_INFO} and "
                          f"{CONFIG_PREFIX[config_name]}/ files there (what it replaces is moved to a backup folder)")
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


def _apply(out: Path, journal: dict[str, Any]) -> None:
    """Carry out a swap journal in ``out`` (:func:`warp_ir.swap.apply_journal`)."""
    apply_journal(out, staging_dir(out), cache_dir(out) / _TRASH, cache_dir(out) / _JOURNAL, journal)


def commit(out: Path, config_name: str, overwrite: bool, only: str | None = None) -> Path | None:
    """Swap the staged files of a build of ``config_name`` into ``out``, replacing only what warp-ir wrote.

    With ``only`` (a folder prefix such as ``chat/``), only the files of ``config_name`` under it are
    replaced (with the card and ``build_info.json``): the rest of that build stays. A file the previous
    build did not write is replaced only with ``overwrite``, and then moved to a backup folder
    (``out/warp-ir-backup-<time>/``), never deleted.

    Returns:
        The backup folder holding the user's files this swap replaced, or ``None`` when it replaced none.

    Raises:
        OutputError: A staged file would replace a file warp-ir did not write (without ``overwrite``), or the
            build's working folder is not one warp-ir made (:func:`check_cache`).
    """
    check_cache(out)
    staged = staging_dir(out)
    new = staged_files(staged)
    bad = [p for p in new if not safe_name(p) or (staged / p).is_symlink()]
    if bad:
        raise RuntimeError(f"staged files outside the build layout: {bad}")
    info = read_build_info(out)
    old = {p for p in owned_files(out, info, config_name) if only is None or p.startswith(only)}
    if info is not None:
        old |= {CARD, BUILD_INFO}
    clashes = [p for p in new if p not in old and os.path.lexists(out / p)]
    if clashes and not overwrite:
        raise OutputError(f"{out / clashes[0]} exists and was not written by warp-ir: pass --overwrite to replace it "
                          "(it is then moved to a backup folder)")
    backup = backup_name(out) if clashes else None
    journal = {"version": JOURNAL_VERSION,
               "new": {p: fingerprint(staged / p) for p in new},
               "old": {p: fingerprint(out / p) for p in sorted(old) if os.path.lexists(out / p)},
               "backup": backup,
               "backed_up": {p: fingerprint(out / p) for p in clashes}}
    write_json_atomic(cache_dir(out) / _JOURNAL, journal, durable=True)  # the commit point
    _apply(out, journal)
    return out / backup if backup else None


def recover(out: Path) -> bool:
    """Finish a swap that a killed build left half done (call it holding the folder's lock).

    The journal is carried out only when every file it names is the one it recorded (size and
    SHA-256): a journal warp-ir did not write, one left from another build or one planted in the
    folder is refused, and nothing is moved or deleted.

    Returns:
        Whether a swap was finished.

    Raises:
        OutputError: The working folder or the journal is not one warp-ir made, or the files do not match it.
    """
    check_cache(out)
    path = cache_dir(out) / _JOURNAL
    if not os.path.lexists(path):
        return False
    journal = read_journal(path, safe_name) if path.is_file() and not path.is_symlink() else None
    problem = ("not a swap journal this warp-ir wrote" if journal is None
               else check_journal(out, staging_dir(out), journal))
    if problem is not None:
        raise OutputError(f"{path} cannot be trusted ({problem}): nothing was changed; remove {cache_dir(out)} "
                          "to go on, or build again into a new folder")
    assert journal is not None  # a missing journal is a problem, raised above
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
