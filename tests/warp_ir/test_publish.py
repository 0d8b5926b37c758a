"""Publishing, up to the network call (a stand-in API records what would be sent), and its one-line failures.

No test reaches the real Hub: failures come from stand-ins, a loopback HTTP server, or a closed loopback port.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx2
import pytest
from huggingface_hub.errors import HfHubHTTPError

from warp_ir import publish as pub


class FakeApi:
    """Records the calls; ``fail`` maps a method name to the exception it raises."""

    def __init__(self, fail: dict[str, BaseException] | None = None):
        self.calls = []
        self.fail = fail or {}

    def _call(self, name, *args):
        self.calls.append((name, *args))
        if name in self.fail:
            raise self.fail[name]

    def whoami(self, token=None):
        self._call("whoami", token)
        return {"name": "tester"}

    def create_repo(self, repo_id, **kw):
        self._call("create_repo", repo_id, kw)

    def upload_folder(self, **kw):
        self._call("upload_folder", kw)

    def upload_large_folder(self, **kw):
        self._call("upload_large_folder", kw)


def http_error(status: int, message: str = "") -> HfHubHTTPError:
    """What ``hf_raise_for_status`` raises for ``status`` (a several-line message, as the Hub's are)."""
    request = httpx2.Request("GET", "http://127.0.0.1:9/api/whoami-v2")
    response = httpx2.Response(status, request=request)
    message = message or f"{status} Client Error for url: {request.url}\n\nsome detail\nmore"
    return HfHubHTTPError(message, response=response)


@pytest.fixture
def folder(tmp_path):
    """The least that ``check_folder`` accepts as a build."""
    out = tmp_path / "built"
    (out / "data").mkdir(parents=True)
    (out / "README.md").write_text("# card\n")
    (out / "data" / "train-00000-of-00001.parquet").write_bytes(b"PAR1")
    return out


@pytest.fixture
def no_token(tmp_path, monkeypatch):
    """No token anywhere: no HF_TOKEN, an empty HF_HOME (the token file path is fixed at import, so patch it too)."""
    from huggingface_hub import constants

    for var in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_OIDC_RESOURCE"):
        monkeypatch.delenv(var, raising=False)
    home = tmp_path / "hf-home"
    home.mkdir()
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(home / "token"))


def test_publish_small_and_large(small_build, monkeypatch):
    api = FakeApi()
    url = pub.publish(small_build.out_dir, "org/warp-ir", private=True, api=api, token="hf_fake")
    assert url == "https://huggingface.co/datasets/org/warp-ir"
    assert api.calls[0] == ("whoami", "hf_fake")
    assert api.calls[1] == ("create_repo", "org/warp-ir", {"repo_type": "dataset", "private": True, "exist_ok": True})
    assert api.calls[2][0] == "upload_folder" and api.calls[2][1]["repo_type"] == "dataset"
    monkeypatch.setattr(pub, "LARGE_FOLDER_BYTES", 1)
    api = FakeApi()
    pub.publish(small_build.out_dir, "org/warp-ir", api=api, token="hf_fake")
    assert api.calls[2][0] == "upload_large_folder"


def test_token_from_environment(folder, no_token, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_from_env")
    api = FakeApi()
    pub.publish(folder, "org/x", api=api)
    assert api.calls[0] == ("whoami", "hf_from_env")


@pytest.mark.parametrize("repo", ["warp-ir", "a/b/c", "org/", "org/a..b", "org/a--b"])
def test_bad_repo_id(folder, no_token, repo):
    with pytest.raises(pub.PublishError, match="ORG/NAME"):  # reported before (and without) a token
        pub.publish(folder, repo, api=FakeApi())


def test_not_a_build(tmp_path, no_token):
    api = FakeApi()
    with pytest.raises(pub.PublishError, match="not a warp-ir build"):  # reported before (and without) a token
        pub.publish(tmp_path, "org/x", api=api)
    assert api.calls == []


def test_no_token(folder, no_token):
    api = FakeApi()
    with pytest.raises(pub.PublishError) as err:
        pub.publish(folder, "org/x", api=api)
    assert str(err.value) == "no Hugging Face token: run `hf auth login` or set HF_TOKEN"
    assert api.calls == []  # nothing was sent


@pytest.mark.parametrize("status", [401, 403])
def test_token_rejected(folder, status):
    api = FakeApi(fail={"whoami": http_error(status)})
    with pytest.raises(pub.PublishError) as err:
        pub.publish(folder, "org/x", api=api, token="hf_fake")
    assert str(err.value) == f"the Hugging Face token was rejected ({status}): run `hf auth login` again"
    assert [c[0] for c in api.calls] == ["whoami"]  # no upload tried


@pytest.mark.parametrize("exc", [httpx2.ConnectError("[Errno 111] Connection refused"),
                                 httpx2.ConnectTimeout("timed out"), ConnectionError("network is down\nmore")])
def test_hub_unreachable(folder, exc):
    api = FakeApi(fail={"whoami": exc})
    with pytest.raises(pub.PublishError) as err:
        pub.publish(folder, "org/x", api=api, token="hf_fake")
    message = str(err.value)
    assert message.startswith("cannot reach https://") or message.startswith("cannot reach http://")
    assert "checking the token" in message and "\n" not in message
    assert [c[0] for c in api.calls] == ["whoami"]


def test_token_check_other_http_error(folder):
    api = FakeApi(fail={"whoami": http_error(502)})
    with pytest.raises(pub.PublishError, match=r"^token check at \S+ failed: 502 Client Error for url") as err:
        pub.publish(folder, "org/x", api=api, token="hf_fake")
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("step, exc, reason", [
    ("create_repo", http_error(400, "400 Bad Request\nlong server detail"), "400 Bad Request"),
    ("upload_folder", http_error(500), "500 Client Error for url: http://127.0.0.1:9/api/whoami-v2"),
    ("upload_folder", httpx2.ReadTimeout("The read operation timed out"), "The read operation timed out"),
    ("upload_folder", ConnectionResetError(104, "Connection reset by peer"), "[Errno 104] Connection reset by peer"),
])
def test_upload_failures_are_one_line(folder, step, exc, reason):
    api = FakeApi(fail={step: exc})
    with pytest.raises(pub.PublishError) as err:
        pub.publish(folder, "org/x", api=api, token="hf_fake")
    assert str(err.value) == f"upload to org/x failed: {step}: {reason}"


def test_large_upload_failure(folder, monkeypatch):
    monkeypatch.setattr(pub, "LARGE_FOLDER_BYTES", 1)
    api = FakeApi(fail={"upload_large_folder": http_error(503, "503 Service Unavailable\ndetail")})
    with pytest.raises(pub.PublishError,
                       match=r"^upload to org/x failed: upload_large_folder: 503 Service Unavailable$"):
        pub.publish(folder, "org/x", api=api, token="hf_fake")


def test_other_errors_are_not_swallowed(folder):
    api = FakeApi(fail={"upload_folder": KeyError("a bug")})
    with pytest.raises(KeyError):
        pub.publish(folder, "org/x", api=api, token="hf_fake")


# --- a real HfApi against loopback ---------------------------------------------------------------


class _FakeHub(BaseHTTPRequestHandler):
    """whoami accepts only ``hf_good``; creating a repository always fails with a several-line error."""

    def _send(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802
        if self.path == "/api/whoami-v2":
            ok = self.headers.get("authorization") == "Bearer hf_good"
            self._send(200, {"name": "tester"}) if ok else self._send(401, {"error": "Invalid credentials"})
        else:
            self._send(404, {"error": "not found"})

    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._send(400, {"error": "You already created this dataset repo\nsecond line"})

    def log_message(self, *args):
        pass


@pytest.fixture
def online(monkeypatch):
    """Let huggingface_hub send requests (conftest sets HF_HUB_OFFLINE=1); every endpoint used is loopback."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)


@pytest.fixture
def fake_hub(online):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeHub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_real_api_token_rejected(folder, fake_hub):
    from huggingface_hub import HfApi

    with pytest.raises(pub.PublishError) as err:
        pub.publish(folder, "org/x", api=HfApi(endpoint=fake_hub), token="hf_bad")
    assert str(err.value) == "the Hugging Face token was rejected (401): run `hf auth login` again"


def test_real_api_upload_failure(folder, fake_hub):
    from huggingface_hub import HfApi

    with pytest.raises(pub.PublishError) as err:
        pub.publish(folder, "org/x", api=HfApi(endpoint=fake_hub, token="hf_good"), token="hf_good")
    # the first line of the error, completed with the first line of what the Hub said
    assert str(err.value) == ("upload to org/x failed: create_repo: HTTP 400: Bad request: "
                              "You already created this dataset repo")


def test_real_api_timeout(online):
    """A Hub that accepts the connection and never answers: the token check gives up after its timeout."""
    from huggingface_hub import HfApi

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        endpoint = f"http://127.0.0.1:{silent.getsockname()[1]}"
        start = time.monotonic()
        with pytest.raises(pub.PublishError, match=rf"^cannot reach {endpoint}: .*\(while checking the token\)$"):
            pub.check_hub(HfApi(endpoint=endpoint), "hf_fake", timeout=0.5)
        assert time.monotonic() - start < 10


def test_cli_unreachable_hub_is_one_line(folder):
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"}
    env.update(HF_TOKEN="hf_fake", HF_ENDPOINT="http://127.0.0.1:9")
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "warp_ir.cli", "publish", str(folder), "--repo", "org/x"],
                          capture_output=True, text=True, env=env, timeout=60, check=False)
    assert time.monotonic() - start < 60
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "cannot reach http://127.0.0.1:9" in lines[0], proc.stderr
