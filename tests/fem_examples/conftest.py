"""Fixtures of the warp.fem example tests: Warp's kernel cache lives in a per-session temp dir."""

from __future__ import annotations

import logging

import pytest
import warp as wp


@pytest.fixture(scope="session", autouse=True)
def fem_warp(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Initialise Warp with its kernel cache in a temp dir, before the first warp.fem kernel is built.

    When Warp is already initialised (the top-level ``tests/conftest.py`` points the cache at its own
    per-session temp dir at import time, and other tests may have run first), the cache is left where
    it is: moving it then would only force every shared Warp module to compile again.
    """
    from warp._src import context  # only to ask whether Warp is initialised

    if context.runtime is None:
        wp.config.kernel_cache_dir = str(tmp_path_factory.mktemp("warp-cache"))
    wp.config.log_level = logging.WARNING
    wp.init()
