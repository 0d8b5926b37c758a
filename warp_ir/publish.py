"""Upload a built folder to the Hugging Face Hub."""

from __future__ import annotations

import logging
import os
import re
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from huggingface_hub import HfApi, constants, get_token
from huggingface_hub.errors import HFValidationError
from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status, validate_repo_id

from common.errors import WarpIRError, first_line
from warp_ir.lock import LOCK_NAME
from warp_ir.outdir import CACHE_DIRNAME, CARD, owned_files, read_build_info
from warp_ir.stats import BUILD_INFO

try:
    import httpx2 as httpx  # huggingface_hub 2.x
except ImportError:  # pragma: no cover - older huggingface_hub on httpx
    import httpx  # type: ignore[no-redef]  # the same names, from the package 2.x forked

logger = logging.getLogger(__name__)

LARGE_FOLDER_BYTES = 2 * 1024**3
_REPO_RE = re.compile(r"^[\w.-]+/[\w.-]+$")
# The build's names (outdir.safe_name) hold no fnmatch wildcard (``*``, ``?``, ``[``): as ``allow_patterns`` each
# one matches only itself, so the Hub client uploads exactly the listed files.
_EXACT_RE = re.compile(r"[\w.-]+(?:/[\w.-]+)*")
LEFT_BEHIND_SHOWN = 10  # names of left-behind files shown, the rest counted
ERROR_LINE_CHARS = 300  # an error's first line, quoted in a refusal, is cut to this
WHOAMI_TIMEOUT_S = 15.0  # the token check: connect and read; the uploads themselves keep the Hub's defaults


class PublishError(WarpIRError):
    """The folder, the repository name, the token or the Hub is not fit to publish; one line."""


def _status(exc: BaseException) -> int | None:
    """HTTP status of an error that carries a response (``HfHubHTTPError``, ``httpx2.HTTPStatusError``), else None."""
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else None


def _reason(exc: BaseException) -> str:
    """One line on why a call failed: its HTTP status, the first line of the error and of the Hub's own message."""
    reason = first_line(exc, ERROR_LINE_CHARS)
    server = first_line(getattr(exc, "server_message", None) or "", ERROR_LINE_CHARS)  # HfHubHTTPError: the Hub's
    if server and server not in reason:
        reason = f"{reason.rstrip(':. ')}: {server}"
    status = _status(exc)
    if status is not None and str(status) not in reason:
        reason = f"HTTP {status}: {reason}"
    return reason if len(reason) <= 400 else reason[:397] + "..."


def _network_errors() -> tuple[type[BaseException], ...]:
    """Exceptions an HTTP call to the Hub raises when it fails: HTTP errors, transport errors, OS-level errors."""
    # HfHubHTTPError is an httpx HTTPError and an OSError; ConnectionError and TimeoutError are OSErrors.
    return (httpx.HTTPError, OSError, HFValidationError)


@dataclass(frozen=True)
class UploadPlan:
    """What :func:`publish` sends from a folder, and what it leaves there.

    Attributes:
        files: The build's own files, ``(relative path, size in bytes)``: ``README.md``, ``build_info.json``,
            then what each configuration of ``build_info.json`` lists.
        left_behind: Everything else in the folder (relative paths, sorted), the build's cache and lock aside.
        has_cache: Whether the folder holds the build's cache (``.warp-ir-cache/``), which is never sent.
    """

    files: tuple[tuple[str, int], ...]
    left_behind: tuple[str, ...]
    has_cache: bool

    @property
    def paths(self) -> list[str]:
        """The relative paths that are uploaded."""
        return [rel for rel, _ in self.files]

    @property
    def size(self) -> int:
        """Bytes uploaded."""
        return sum(size for _, size in self.files)

    def left_behind_line(self, shown: int = LEFT_BEHIND_SHOWN) -> str:
        """One line naming what is not uploaded (at most ``shown`` names); empty when nothing is left behind."""
        parts = []
        if self.left_behind:
            n = len(self.left_behind)
            names = ", ".join(self.left_behind[:shown]) + (f", ... ({n - shown} more)" if n > shown else "")
            parts.append(f"{n} file{'s' if n != 1 else ''}: {names}")
        if self.has_cache:
            parts.append(f"{CACHE_DIRNAME}/ (the build's cache)")
        return f"left behind (not part of the build): {'; '.join(parts)}" if parts else ""


def _check_repo_id(repo_id: str) -> None:
    """Check that ``repo_id`` is ``ORG/NAME`` by warp-ir's and the Hub's rules.

    Raises:
        PublishError: With a one-line reason.
    """
    if not _REPO_RE.match(repo_id):
        raise PublishError(f"--repo must look like ORG/NAME, got {repo_id!r}")
    try:
        validate_repo_id(repo_id)  # the Hub's own rules: no "--" or "..", at most 96 characters, ...
    except HFValidationError as exc:
        raise PublishError(f"--repo must look like ORG/NAME: {first_line(exc, ERROR_LINE_CHARS)}") from None


def _own_file_size(folder: Path, rel: str) -> int:
    """Size of the build's file ``folder/rel``, after checking it is a regular file reached through no link.

    Raises:
        PublishError: It is missing, a symbolic link (or under one), or not a regular file.
    """
    if not _EXACT_RE.fullmatch(rel):  # safe_name admits only such names; checked, since the patterns rely on it
        raise PublishError(f"{folder / rel}: unexpected name for a build file (only letters, digits, '_', '.', '-')")
    path = folder / rel
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise PublishError(f"{path} is missing: {folder / BUILD_INFO} lists it; build the folder again") from None
    if stat.S_ISLNK(st.st_mode) or os.path.realpath(path) != os.path.join(os.path.realpath(folder), *rel.split("/")):
        raise PublishError(f"{path} is a symbolic link (or under one), not a file the build wrote: "
                           "replace it with the build's file or build the folder again")
    if not stat.S_ISREG(st.st_mode):
        raise PublishError(f"{path} is not a regular file: build the folder again")
    return st.st_size


def _left_behind(folder: Path, own: set[str]) -> tuple[list[str], bool]:
    """Files (and links, and anything else not a folder) under ``folder`` that are not in ``own``; and whether the
    build's cache is there. Nothing inside the cache is looked at, and no link is followed."""
    found, has_cache = [], False
    for root, dirs, files in os.walk(folder):  # followlinks=False: a linked folder is listed, not entered
        base = Path(root).relative_to(folder)
        if base == Path("."):
            has_cache = CACHE_DIRNAME in dirs
            dirs[:] = [d for d in dirs if d != CACHE_DIRNAME]
            files = [f for f in files if f != LOCK_NAME]
        links = [d for d in dirs if os.path.islink(os.path.join(root, d))]
        dirs[:] = sorted(d for d in dirs if d not in links)
        for name in files + links:
            rel = (base / name).as_posix()
            if rel not in own:
                found.append(rel)
    return sorted(found), has_cache


def plan_upload(folder: Path, repo_id: str) -> UploadPlan:
    """Check that ``folder`` is a warp-ir build and ``repo_id`` is ``ORG/NAME``; return what would be uploaded.

    Only the build's own files go: ``README.md``, ``build_info.json`` and the files each configuration of
    ``build_info.json`` lists (:func:`warp_ir.outdir.owned_files`, which admits only names of the build's layout).
    Each must be a regular file reached through no symbolic link. Nothing is sent and no token is needed.

    Raises:
        PublishError: With a one-line reason.
    """
    _check_repo_id(repo_id)
    info = read_build_info(folder)
    if info is None:
        raise PublishError(f"{folder} is not a warp-ir build (no {BUILD_INFO} a build wrote)")
    listed = sorted({rel for name in info for rel in owned_files(folder, info, name)})
    if not any(rel.endswith(".parquet") for rel in listed):
        raise PublishError(f"{folder} is not a warp-ir build ({BUILD_INFO} lists no Parquet files)")
    dropped = sorted({p for entry in info.values() for p in entry.get("files") or [] if isinstance(p, str)}
                     - set(listed))
    if dropped:
        logger.warning("%s names %d file(s) outside the build's layout; not uploaded: %s", folder / BUILD_INFO,
                       len(dropped), ", ".join(map(repr, dropped[:LEFT_BEHIND_SHOWN])))
    own = [CARD, BUILD_INFO] + [rel for rel in listed if rel not in (CARD, BUILD_INFO)]
    files = tuple((rel, _own_file_size(folder, rel)) for rel in own)
    left, has_cache = _left_behind(folder, set(own))
    return UploadPlan(files=files, left_behind=tuple(left), has_cache=has_cache)


def find_token() -> str:
    """The Hugging Face token (``HF_TOKEN``, then the one ``hf auth login`` saved).

    Raises:
        PublishError: No token, or the token could not be read.
    """
    from huggingface_hub.errors import OIDCError  # noqa: PLC0415 - not in huggingface_hub 1.0 (the pin allows it)

    try:
        token = get_token()
    except (OIDCError, OSError, ValueError) as exc:  # e.g. HF_OIDC_RESOURCE set and the exchange failed
        raise PublishError(f"cannot get a Hugging Face token: {first_line(exc, ERROR_LINE_CHARS)}") from None
    if not token:
        raise PublishError("no Hugging Face token: run `hf auth login` or set HF_TOKEN")
    return token


def _whoami(api: Any, token: str, timeout: float) -> dict[str, Any]:
    """``api.whoami`` for ``token``; for a real ``HfApi``, the same request with a timeout (whoami has none)."""
    if not isinstance(api, HfApi):
        return api.whoami(token=token)
    response = get_session().get(f"{api.endpoint}/api/whoami-v2", headers=build_hf_headers(token=token),
                                 timeout=timeout)
    hf_raise_for_status(response)
    return response.json()


def check_hub(api: Any, token: str, timeout: float = WHOAMI_TIMEOUT_S) -> str:
    """Check that the Hub answers and accepts ``token`` (one ``whoami`` call); return the account name.

    Raises:
        PublishError: The Hub cannot be reached, or it rejected the token.
    """
    endpoint = getattr(api, "endpoint", None) or constants.ENDPOINT
    try:
        me = _whoami(api, token, timeout)
    except _network_errors() as exc:
        status = _status(exc)
        if status in (401, 403):
            raise PublishError(f"the Hugging Face token was rejected ({status}): run `hf auth login` again") from None
        if status is not None:
            raise PublishError(f"token check at {endpoint} failed: {_reason(exc)}") from None
        reason = first_line(exc, ERROR_LINE_CHARS)
        raise PublishError(f"cannot reach {endpoint}: {reason} (while checking the token)") from None
    return (me or {}).get("name", "?") if isinstance(me, dict) else "?"


@contextmanager
def _step(repo_id: str, name: str) -> Iterator[None]:
    """Turn an HTTP or connection error of the ``name`` step into a one-line :class:`PublishError`."""
    try:
        yield
    except _network_errors() as exc:
        raise PublishError(f"upload to {repo_id} failed: {name}: {_reason(exc)}") from None


def publish(folder: Path, repo_id: str, private: bool = False, api: Any = None,
            token: str | None = None) -> str:
    """Create the dataset repository if needed and upload the build's own files in ``folder``.

    Checks, in order, before uploading anything: the folder and the name (:func:`plan_upload`), that there is
    a token, and that the Hub answers and accepts it (:func:`check_hub`). Only the files :func:`plan_upload` lists
    are sent (as exact ``allow_patterns``); what else the folder holds is named in a log line and left behind.
    Builds over 2 GiB go through ``upload_large_folder`` (resumable, multi-commit) where the client has it
    (huggingface_hub 1.x; 2.x's ``upload_folder`` itself commits large folders in batches), the others through
    ``upload_folder``.

    Args:
        folder: A folder written by ``warp-ir build``.
        repo_id: ``ORG/NAME`` on the Hub.
        private: Create the repository private.
        api: An ``HfApi`` (tests pass a stand-in; default: a real one with ``token``).
        token: Hugging Face token (default: ``huggingface_hub.get_token()``: ``HF_TOKEN`` or ``hf auth login``).

    Returns:
        The URL of the dataset repository.

    Raises:
        PublishError: One line naming the check or the step that failed.
    """
    plan = plan_upload(folder, repo_id)
    token = token or find_token()
    if api is None:
        api = HfApi(token=token)
    user = check_hub(api, token)
    logger.info("publishing %d files of %s to %s as %s", len(plan.files), folder, repo_id, user)
    if line := plan.left_behind_line():
        (logger.warning if plan.left_behind else logger.info)("%s", line)
    size, allow = plan.size, plan.paths
    with _step(repo_id, "create_repo"):
        api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
    if size > LARGE_FOLDER_BYTES and hasattr(api, "upload_large_folder"):
        logger.info("uploading %.1f GiB with upload_large_folder", size / 1024**3)
        with _step(repo_id, "upload_large_folder"):
            api.upload_large_folder(repo_id=repo_id, folder_path=str(folder), repo_type="dataset",
                                    allow_patterns=allow, private=private)
    else:
        with _step(repo_id, "upload_folder"):
            api.upload_folder(repo_id=repo_id, folder_path=str(folder), repo_type="dataset", allow_patterns=allow,
                              commit_message=f"warp-ir build ({size / 1024**2:.1f} MiB)")
    return f"https://huggingface.co/datasets/{repo_id}"
