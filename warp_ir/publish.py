"""Upload a built folder to the Hugging Face Hub."""

from __future__ import annotations

import logging
import re
from pathlib import Path

logger = logging.getLogger(__name__)

LARGE_FOLDER_BYTES = 2 * 1024**3
_REPO_RE = re.compile(r"^[\w.-]+/[\w.-]+$")
IGNORE = [".warp-ir-cache/**", "**/.*.tmp"]


class PublishError(Exception):
    """The folder or the repository name is not fit to publish."""


def check_folder(folder: Path, repo_id: str) -> int:
    """Check that ``folder`` is a built dataset and ``repo_id`` is ``ORG/NAME``; return the folder's size in bytes.

    Raises:
        PublishError: With a one-line reason.
    """
    if not _REPO_RE.match(repo_id):
        raise PublishError(f"--repo must look like ORG/NAME, got {repo_id!r}")
    if not (folder / "README.md").is_file() or not any(folder.glob("*/*.parquet")):
        raise PublishError(f"{folder} is not a warp-ir build (needs README.md and <config>/*.parquet)")
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and ".warp-ir-cache" not in p.parts)


def publish(folder: Path, repo_id: str, private: bool = False, api: object | None = None) -> str:
    """Create the dataset repository if needed and upload ``folder``.

    Folders over 2 GiB go through ``upload_large_folder`` (resumable, multi-commit);
    smaller ones through one ``upload_folder`` commit.

    Args:
        folder: A folder written by ``warp-ir build``.
        repo_id: ``ORG/NAME`` on the Hub.
        private: Create the repository private.
        api: An ``HfApi`` (tests pass a stand-in; default: a real one).

    Returns:
        The URL of the dataset repository.
    """
    size = check_folder(folder, repo_id)
    if api is None:
        from huggingface_hub import HfApi  # noqa: PLC0415

        api = HfApi()
    api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
    if size > LARGE_FOLDER_BYTES:
        logger.info("uploading %.1f GiB with upload_large_folder", size / 1024**3)
        api.upload_large_folder(repo_id=repo_id, folder_path=str(folder), repo_type="dataset",
                                ignore_patterns=IGNORE, private=private)
    else:
        api.upload_folder(repo_id=repo_id, folder_path=str(folder), repo_type="dataset", ignore_patterns=IGNORE,
                          commit_message=f"warp-ir build ({size / 1024**2:.1f} MiB)")
    return f"https://huggingface.co/datasets/{repo_id}"
