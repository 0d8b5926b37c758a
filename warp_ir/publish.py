"""Upload a built folder to the Hugging Face Hub."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

LARGE_FOLDER_BYTES = 2 * 1024**3
_REPO_RE = re.compile(r"^[\w.-]+/[\w.-]+$")
IGNORE = [".warp-ir-cache/**", ".warp-ir.lock", "**/.*.tmp"]
WHOAMI_TIMEOUT_S = 15.0  # the token check: connect and read; the uploads themselves keep the Hub's defaults


class PublishError(Exception):
    """The folder, the repository name, the token or the Hub is not fit to publish; one line."""


def _first_line(exc: BaseException | str) -> str:
    """The first non-empty line of ``exc``'s message (its type name when it has none), at most 300 characters."""
    line = next((ln.strip() for ln in str(exc).splitlines() if ln.strip()), "")
    if not line and isinstance(exc, BaseException):
        line = type(exc).__name__
    return line if len(line) <= 300 else line[:297] + "..."


def _status(exc: BaseException) -> int | None:
    """HTTP status of an error that carries a response (``HfHubHTTPError``, ``httpx2.HTTPStatusError``), else None."""
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else None


def _reason(exc: BaseException) -> str:
    """One line on why a call failed: its HTTP status, the first line of the error and of the Hub's own message."""
    reason = _first_line(exc)
    server = _first_line(getattr(exc, "server_message", None) or "")  # HfHubHTTPError: what the Hub said
    if server and server not in reason:
        reason = f"{reason.rstrip(':. ')}: {server}"
    status = _status(exc)
    if status is not None and str(status) not in reason:
        reason = f"HTTP {status}: {reason}"
    return reason if len(reason) <= 400 else reason[:397] + "..."


def _network_errors() -> tuple[type[BaseException], ...]:
    """Exceptions an HTTP call to the Hub raises when it fails: HTTP errors, transport errors, OS-level errors."""
    from huggingface_hub.errors import HFValidationError  # noqa: PLC0415

    try:
        import httpx2 as httpx  # noqa: PLC0415 - huggingface_hub 2.x
    except ImportError:  # pragma: no cover - older huggingface_hub on httpx
        import httpx  # noqa: PLC0415
    # HfHubHTTPError is an httpx HTTPError and an OSError; ConnectionError and TimeoutError are OSErrors.
    return (httpx.HTTPError, OSError, HFValidationError)


def check_folder(folder: Path, repo_id: str) -> int:
    """Check that ``folder`` is a built dataset and ``repo_id`` is ``ORG/NAME``; return the folder's size in bytes.

    Raises:
        PublishError: With a one-line reason.
    """
    if not _REPO_RE.match(repo_id):
        raise PublishError(f"--repo must look like ORG/NAME, got {repo_id!r}")
    from huggingface_hub.errors import HFValidationError  # noqa: PLC0415
    from huggingface_hub.utils import validate_repo_id  # noqa: PLC0415

    try:
        validate_repo_id(repo_id)  # the Hub's own rules: no "--" or "..", at most 96 characters, ...
    except HFValidationError as exc:
        raise PublishError(f"--repo must look like ORG/NAME: {_first_line(exc)}") from None
    if not (folder / "README.md").is_file() or not any(folder.glob("*/*.parquet")):
        raise PublishError(f"{folder} is not a warp-ir build (needs README.md and <config>/*.parquet)")
    return sum(p.stat().st_size for p in folder.rglob("*")
               if p.is_file() and ".warp-ir-cache" not in p.parts and p.name != ".warp-ir.lock")


def find_token() -> str:
    """The Hugging Face token (``HF_TOKEN``, then the one ``hf auth login`` saved).

    Raises:
        PublishError: No token, or the token could not be read.
    """
    from huggingface_hub import get_token  # noqa: PLC0415
    from huggingface_hub.errors import OIDCError  # noqa: PLC0415

    try:
        token = get_token()
    except (OIDCError, OSError, ValueError) as exc:  # e.g. HF_OIDC_RESOURCE set and the exchange failed
        raise PublishError(f"cannot get a Hugging Face token: {_first_line(exc)}") from None
    if not token:
        raise PublishError("no Hugging Face token: run `hf auth login` or set HF_TOKEN")
    return token


def _whoami(api: Any, token: str, timeout: float) -> dict[str, Any]:
    """``api.whoami`` for ``token``; for a real ``HfApi``, the same request with a timeout (whoami has none)."""
    from huggingface_hub import HfApi  # noqa: PLC0415
    from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status  # noqa: PLC0415

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
    from huggingface_hub import constants  # noqa: PLC0415

    endpoint = getattr(api, "endpoint", None) or constants.ENDPOINT
    try:
        me = _whoami(api, token, timeout)
    except _network_errors() as exc:
        status = _status(exc)
        if status in (401, 403):
            raise PublishError(f"the Hugging Face token was rejected ({status}): run `hf auth login` again") from None
        if status is not None:
            raise PublishError(f"token check at {endpoint} failed: {_reason(exc)}") from None
        raise PublishError(f"cannot reach {endpoint}: {_first_line(exc)} (while checking the token)") from None
    return (me or {}).get("name", "?") if isinstance(me, dict) else "?"


@contextmanager
def _step(repo_id: str, name: str) -> Iterator[None]:
    """Turn an HTTP or connection error of the ``name`` step into a one-line :class:`PublishError`."""
    try:
        yield
    except _network_errors() as exc:
        raise PublishError(f"upload to {repo_id} failed: {name}: {_reason(exc)}") from None


def publish(folder: Path, repo_id: str, private: bool = False, api: object | None = None,
            token: str | None = None) -> str:
    """Create the dataset repository if needed and upload ``folder``.

    Checks, in order, before uploading anything: the folder and the name (:func:`check_folder`), that there is
    a token, and that the Hub answers and accepts it (:func:`check_hub`). Folders over 2 GiB go through
    ``upload_large_folder`` (resumable, multi-commit); smaller ones through one ``upload_folder`` commit.

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
    size = check_folder(folder, repo_id)
    token = token or find_token()
    if api is None:
        from huggingface_hub import HfApi  # noqa: PLC0415

        api = HfApi(token=token)
    user = check_hub(api, token)
    logger.info("publishing %s to %s as %s", folder, repo_id, user)
    with _step(repo_id, "create_repo"):
        api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
    if size > LARGE_FOLDER_BYTES:
        logger.info("uploading %.1f GiB with upload_large_folder", size / 1024**3)
        with _step(repo_id, "upload_large_folder"):
            api.upload_large_folder(repo_id=repo_id, folder_path=str(folder), repo_type="dataset",
                                    ignore_patterns=IGNORE, private=private)
    else:
        with _step(repo_id, "upload_folder"):
            api.upload_folder(repo_id=repo_id, folder_path=str(folder), repo_type="dataset", ignore_patterns=IGNORE,
                              commit_message=f"warp-ir build ({size / 1024**2:.1f} MiB)")
    return f"https://huggingface.co/datasets/{repo_id}"
