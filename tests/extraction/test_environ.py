"""Secrets of the environment are kept from the code warp-ir runs: which names are secrets, and removing them."""

from __future__ import annotations

import os

import pytest

from extraction.environ import drop_secrets_from_process, is_secret, scrubbed_env

SECRETS = ["HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH", "MY_API_KEY", "GITHUB_TOKEN", "DB_PASSWORD",
           "CLIENT_SECRET", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
           "AWS_SHARED_CREDENTIALS_FILE", "GOOGLE_APPLICATION_CREDENTIALS", "AZURE_CLIENT_SECRET",
           "AZURE_STORAGE_KEY", "AZURE_STORAGE_CONNECTION_STRING", "PGPASSWORD", "TOKEN", "openai_api_key"]
NOT_SECRETS = ["PATH", "HOME", "PYTHONPATH", "WARP_CACHE_PATH", "HF_HOME", "HF_HUB_OFFLINE", "AWS_PROFILE",
               "AWS_DEFAULT_REGION", "SSH_AUTH_SOCK", "KEYBOARD", "TOKENIZERS_PARALLELISM", "MONKEY",
               "CUDA_VISIBLE_DEVICES"]


@pytest.mark.parametrize("name", SECRETS)
def test_secrets_are_recognised(name):
    assert is_secret(name)


@pytest.mark.parametrize("name", NOT_SECRETS)
def test_other_variables_are_not_secrets(name):
    assert not is_secret(name)


def test_scrubbed_env_is_a_copy_without_secrets():
    base = {"HF_TOKEN": "secret-value", "MY_API_KEY": "k", "PATH": "/bin", "AWS_PROFILE": "dev"}
    assert scrubbed_env(base) == {"PATH": "/bin", "AWS_PROFILE": "dev"}
    assert scrubbed_env(base, keep=("HF_TOKEN",)) == {"HF_TOKEN": "secret-value", "PATH": "/bin", "AWS_PROFILE": "dev"}
    assert base["HF_TOKEN"] == "secret-value"  # the base is not changed


def test_scrubbed_env_defaults_to_this_process(monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "secret-value")
    monkeypatch.setenv("WARP_IR_PLAIN", "1")
    env = scrubbed_env()
    assert "HF_TOKEN" not in env and env["WARP_IR_PLAIN"] == "1"
    assert os.environ["HF_TOKEN"] == "secret-value"


def test_drop_secrets_from_process(monkeypatch):
    for name in ("HF_TOKEN", "MY_API_KEY", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "secret-value")
    monkeypatch.setenv("WARP_IR_PLAIN", "1")
    kept = sorted(k for k in os.environ if is_secret(k) and k != "HF_TOKEN")
    assert drop_secrets_from_process(keep=("HF_TOKEN",)) == kept
    assert os.environ["HF_TOKEN"] == "secret-value" and "MY_API_KEY" not in os.environ
    assert drop_secrets_from_process() == ["HF_TOKEN"]
    assert not any(is_secret(k) for k in os.environ) and os.environ["WARP_IR_PLAIN"] == "1"
    assert drop_secrets_from_process() == []


def test_a_forked_isolated_child_sees_no_secret(monkeypatch):
    from extraction.isolate import run_isolated

    monkeypatch.setenv("HF_TOKEN", "secret-value")
    monkeypatch.setenv("MY_API_KEY", "secret-value")
    (seen,) = run_isolated([None], lambda _: sorted(os.environ), timeout_s=30)
    assert "HF_TOKEN" not in seen and "MY_API_KEY" not in seen and "PATH" in seen
    assert os.environ["HF_TOKEN"] == "secret-value"  # only the child dropped them
