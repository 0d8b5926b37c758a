"""Keep secrets in the environment away from the code warp-ir runs (kernels, user files, mined packages, answers).

warp-ir runs code it did not write: a user's file under ``warp-ir extract``, every installed
package a ``real`` build mines, a model's answers under ``warp-ir eval``. Each runs in a child
process, and a child inherits its parent's environment, where a Hugging Face token or cloud
credentials often sit. This module decides which variables are secrets (:func:`is_secret`) and
removes them from a child's environment (:func:`scrubbed_env`, for ``subprocess``) or from this
process's own (:func:`drop_secrets_from_process`, before forking, and in a forked child).

A variable is a secret when its name, in upper case:

* is one of :data:`SECRET_NAMES`: Hugging Face tokens (``HF_TOKEN``, ``HUGGING_FACE_HUB_TOKEN``),
  AWS keys (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``,
  ``AWS_SECURITY_TOKEN``), Azure secrets (``AZURE_CLIENT_SECRET``, ``AZURE_STORAGE_KEY``, ...)
  and the variables whose only use is to name a credentials file somewhere other than its usual
  place (``GOOGLE_APPLICATION_CREDENTIALS``, ``AWS_SHARED_CREDENTIALS_FILE``,
  ``AWS_WEB_IDENTITY_TOKEN_FILE``, ``AZURE_CLIENT_CERTIFICATE_PATH``, ``HF_TOKEN_PATH``); or
* ends in one of :data:`SECRET_SUFFIXES` (``_TOKEN``, ``_KEY``, ``_SECRET``, ``_PASSWORD``,
  ``_PASSWD``, ``_CREDENTIALS``, ``_KEY_ID``, ``_CONNECTION_STRING``), or is that word alone
  (``TOKEN``, ``PASSWORD``): ``GITHUB_TOKEN``, ``OPENAI_API_KEY``, ``WANDB_API_KEY``, ``TWINE_PASSWORD``.

Left alone: names that only select among credentials stored elsewhere, or say where to find
settings (``AWS_PROFILE``, ``AWS_DEFAULT_PROFILE``, ``AWS_CONFIG_FILE``, ``SSH_AUTH_SOCK``,
``KRB5CCNAME``): none of them is a secret, and removing them would not hide the files they
select from. Files are out of reach of this module altogether: the token ``hf auth login`` saved
(``~/.cache/huggingface/token``), ``~/.aws/credentials``, ``~/.netrc`` and the like stay readable
by any process running as the same user.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Collection, Mapping

logger = logging.getLogger(__name__)

SECRET_NAMES: frozenset[str] = frozenset({
    "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH",
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
    "AWS_SHARED_CREDENTIALS_FILE", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_GHA_CREDS_PATH",
    "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_CLIENT_CERTIFICATE_PASSWORD",
    "AZURE_STORAGE_KEY", "AZURE_STORAGE_ACCOUNT_KEY", "AZURE_STORAGE_SAS_TOKEN", "AZURE_STORAGE_CONNECTION_STRING",
    "PGPASSWORD", "MYSQL_PWD",
})
"""Secrets by exact name (beyond those :data:`SECRET_SUFFIXES` already match)."""

SECRET_SUFFIXES: tuple[str, ...] = ("TOKEN", "KEY", "SECRET", "PASSWORD", "PASSWD", "CREDENTIALS", "KEY_ID",
                                    "CONNECTION_STRING")
"""A name ending in ``_`` + one of these (or equal to one of them) is a secret."""

HF_TOKEN_NAMES: tuple[str, ...] = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH")
"""The variables ``huggingface_hub`` reads its token from (kept by a command that fetches from the Hub)."""

_SUFFIX_RE = re.compile(r"(?:^|_)(?:" + "|".join(re.escape(s) for s in SECRET_SUFFIXES) + r")$")


def is_secret(name: str) -> bool:
    """Whether the environment variable ``name`` holds a secret (or names a credentials file); see the module doc.

    Args:
        name: A variable name, in any case.
    """
    upper = name.upper()
    return upper in SECRET_NAMES or _SUFFIX_RE.search(upper) is not None


def scrubbed_env(base: Mapping[str, str] | None = None, keep: Collection[str] = ()) -> dict[str, str]:
    """A copy of an environment without its secrets.

    Args:
        base: The environment to copy (default: this process's, ``os.environ``).
        keep: Names kept even though they are secrets.

    Returns:
        A new dict: every variable of ``base`` for which :func:`is_secret` is false, and those in ``keep``.
    """
    env = os.environ if base is None else base
    return {k: v for k, v in env.items() if k in keep or not is_secret(k)}


def drop_secrets_from_process(keep: Collection[str] = ()) -> list[str]:
    """Remove every secret from this process's environment (``os.environ`` and the C library's).

    Children started after this (forked or spawned) inherit none of them. Call it where no code
    of this process needs them any more: a command that never talks to the Hub, or a forked child
    about to run code warp-ir did not write.

    Args:
        keep: Names kept even though they are secrets.

    Returns:
        The names removed (never their values), sorted.
    """
    removed = sorted(k for k in list(os.environ) if k not in keep and is_secret(k))
    for name in removed:
        os.environ.pop(name, None)  # also unsetenv(): native code and spawned children see it gone too
    if removed:
        logger.debug("removed from the environment: %s", ", ".join(removed))
    return removed


__all__ = ["HF_TOKEN_NAMES", "SECRET_NAMES", "SECRET_SUFFIXES", "drop_secrets_from_process", "is_secret",
           "scrubbed_env"]
