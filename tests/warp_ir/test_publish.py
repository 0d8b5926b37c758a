"""Publishing, up to the network call (a stand-in API records what would be sent), and its one-line failures.

No test reaches the real Hub: failures come from stand-ins, a loopback HTTP server, or a closed loopback port.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx2
import pytest
from huggingface_hub.errors import HfHubHTTPError
from huggingface_hub.utils import filter_repo_objects
from huggingface_hub.utils._paths import DEFAULT_IGNORE_PATTERNS

from warp_ir import publish as pub
from warp_ir.cli import main


def selected(folder, kw) -> set[str]:
    """The files huggingface_hub's upload_folder / upload_large_folder would send for the call's keywords: every
    file under the folder (links followed, as the client does), filtered by its patterns and its default ignores."""
    paths = (p.relative_to(folder).as_posix() for p in sorted(folder.glob("**/*")) if p.is_file())
    return set(filter_repo_objects(paths, allow_patterns=kw.get("allow_patterns"),
                                   ignore_patterns=list(kw.get("ignore_patterns") or []) + DEFAULT_IGNORE_PATTERNS))


class FakeApi:
    """Records the calls, and in ``sent`` the files an upload would send; ``fail`` maps a method name to the
    exception it raises."""

    def __init__(self, fail: dict[str, BaseException] | None = None):
        self.calls = []
        self.fail = fail or {}
        self.sent: set[str] | None = None

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
        self.sent = selected(Path(kw["folder_path"]), kw)

    def upload_large_folder(self, **kw):
        self._call("upload_large_folder", kw)
        self.sent = selected(Path(kw["folder_path"]), kw)


def http_error(status: int, message: str = "") -> HfHubHTTPError:
    """What ``hf_raise_for_status`` raises for ``status`` (a several-line message, as the Hub's are)."""
    request = httpx2.Request("GET", "http://127.0.0.1:9/api/whoami-v2")
    response = httpx2.Response(status, request=request)
    message = message or f"{status} Client Error for url: {request.url}\n\nsome detail\nmore"
    return HfHubHTTPError(message, response=response)


def write_info(out, files):
    (out / "build_info.json").write_text(json.dumps({"synthetic": {"builder_version": "test", "files": files}}))


@pytest.fixture
def folder(tmp_path):
    """The least that ``plan_upload`` accepts as a build."""
    out = tmp_path / "built"
    (out / "data").mkdir(parents=True)
    (out / "README.md").write_text("# card\n")
    (out / "data" / "train-00000-of-00001.parquet").write_bytes(b"PAR1")
    write_info(out, ["data/train-00000-of-00001.parquet"])
    return out


USER_FILES = [".ssh/id_rsa", ".bashrc", "notes.txt", "data/mine.parquet"]


def build_files(out) -> set[str]:
    """README.md, build_info.json and what each configuration of build_info.json lists."""
    info = json.loads((out / "build_info.json").read_text())
    return {"README.md", "build_info.json"} | {f for entry in info.values() for f in entry["files"]}


@pytest.fixture
def mixed(small_build, tmp_path):
    """The small build in a folder that also holds the user's files (as a build with --overwrite leaves it), and a
    link named like a Parquet file of the build's layout that the build did not write."""
    out = tmp_path / "home"
    shutil.copytree(small_build.out_dir, out, symlinks=True)
    (out / ".ssh").mkdir()
    (out / ".ssh" / "id_rsa").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    (out / ".bashrc").write_text("export SECRET=1\n")
    (out / "notes.txt").write_text("mine\n")
    (out / "data" / "mine.parquet").write_bytes(b"PAR1 not the build's PAR1")
    link = out / "data" / "train-00099-of-00099.parquet"
    assert link.relative_to(out).as_posix() not in build_files(out)
    link.symlink_to(out / ".ssh" / "id_rsa")
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


@pytest.mark.parametrize("large", [False, True])
def test_publish_sends_only_the_builds_files(mixed, large, monkeypatch, caplog):
    own = build_files(mixed)
    assert any(f.startswith("data/") for f in own) and all((mixed / f).is_file() for f in own)
    if large:
        monkeypatch.setattr(pub, "LARGE_FOLDER_BYTES", 1)
    (mixed / ".warp-ir-cache" / "shards").mkdir(parents=True)  # the build's cache (kept with --keep-cache)
    (mixed / ".warp-ir-cache" / "shards" / "train-00000.arrow").write_bytes(b"ARROW1")
    api = FakeApi()
    with caplog.at_level("INFO", logger="warp_ir.publish"):
        pub.publish(mixed, "org/x", api=api, token="hf_fake")
    assert api.calls[2][0] == ("upload_large_folder" if large else "upload_folder")
    assert api.sent == own  # exactly the build's files: no user file, no link, nothing from the cache
    assert sorted(api.calls[2][1]["allow_patterns"]) == sorted(own)
    if not large:
        size = sum((mixed / f).stat().st_size for f in own)
        assert api.calls[2][1]["commit_message"] == f"warp-ir build ({size / 1024**2:.1f} MiB)"
    [line] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("left behind")]
    assert line.startswith("left behind (not part of the build): 5 files: ")
    for name in USER_FILES + ["data/train-00099-of-00099.parquet"]:
        assert name in line
    assert line.endswith("; .warp-ir-cache/ (the build's cache)") and "train-00000.arrow" not in line


@pytest.mark.parametrize("link", ["file", "folder", "card"])
def test_linked_build_file_is_refused(mixed, no_token, link):
    """A build file replaced by a link (or reached through a linked folder) is refused before anything is sent."""
    data_file = sorted(f for f in build_files(mixed) if f.startswith("data/"))[0]
    if link == "file":
        target, name = mixed / ".ssh" / "id_rsa", data_file
        (mixed / data_file).unlink()
    elif link == "card":
        target, name = mixed / "notes.txt", "README.md"
        (mixed / "README.md").unlink()
    else:
        target, name = mixed.parent / "elsewhere", "data"
        shutil.move(mixed / "data", target)
    (mixed / name).symlink_to(target)
    api = FakeApi()
    with pytest.raises(pub.PublishError, match="symbolic link") as err:
        pub.publish(mixed, "org/x", api=api)
    assert str(mixed / name) in str(err.value) and "\n" not in str(err.value)
    assert api.calls == []


def test_listed_file_missing_is_refused(folder, no_token):
    (folder / "data" / "train-00000-of-00001.parquet").unlink()
    api = FakeApi()
    with pytest.raises(pub.PublishError, match="is missing"):
        pub.publish(folder, "org/x", api=api)
    assert api.calls == []


def test_names_outside_the_layout_are_not_sent(folder, tmp_path):
    (tmp_path / "outside.txt").write_text("secret\n")
    (folder / ".ssh").mkdir()
    (folder / ".ssh" / "id_rsa").write_text("key\n")
    write_info(folder, ["data/train-00000-of-00001.parquet", "../outside.txt", ".ssh/id_rsa", "/etc/passwd"])
    api = FakeApi()
    pub.publish(folder, "org/x", api=api, token="hf_fake")
    assert api.sent == {"README.md", "build_info.json", "data/train-00000-of-00001.parquet"}


def test_without_build_info_is_refused(folder, no_token):
    """README.md and Parquet files alone are not a build: only build_info.json says which files are the build's."""
    (folder / "build_info.json").unlink()
    api = FakeApi()
    with pytest.raises(pub.PublishError, match=r"not a warp-ir build \(no build_info.json a build wrote\)$"):
        pub.publish(folder, "org/x", api=api)
    assert api.calls == []


def test_left_behind_line_is_capped(folder):
    for i in range(15):
        (folder / f"mine-{i:02}.txt").write_text("x")
    line = pub.plan_upload(folder, "org/x").left_behind_line()
    assert line.startswith("left behind (not part of the build): 15 files: mine-00.txt, ")
    assert "mine-09.txt, ... (5 more)" in line and "mine-10.txt" not in line


@pytest.fixture
def no_hf_api(monkeypatch):
    """Creating an HfApi fails the test."""
    import huggingface_hub

    def refuse(*args, **kwargs):
        raise AssertionError("HfApi created during a dry run")

    monkeypatch.setattr(huggingface_hub, "HfApi", refuse)
    monkeypatch.setattr(huggingface_hub.hf_api, "HfApi", refuse)
    monkeypatch.setattr(pub, "HfApi", refuse)


def test_dry_run_lists_and_sends_nothing(mixed, no_token, no_hf_api, capsys):
    before = sorted(p.relative_to(mixed).as_posix() for p in mixed.rglob("*") if ".warp-ir-cache" not in p.parts)
    assert main(["publish", str(mixed), "--repo", "org/x", "--dry-run"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    listed = {ln.split()[-1] for ln in lines[1:] if ln.split() and ln.split()[0].replace(",", "").isdigit()
              and not ln.strip().endswith("MiB)")}
    own = build_files(mixed)
    assert listed == own
    for f in own:
        assert f"{(mixed / f).stat().st_size:,}  {f}" in out
    total = sum((mixed / f).stat().st_size for f in own)
    assert f"{total:,}  bytes in all" in out
    [left] = [ln for ln in lines if ln.startswith("left behind (not part of the build): ")]
    for name in USER_FILES + ["data/train-00099-of-00099.parquet"]:
        assert name in left and name not in listed
    assert "nothing was sent" in out
    after = sorted(p.relative_to(mixed).as_posix() for p in mixed.rglob("*") if ".warp-ir-cache" not in p.parts)
    assert after == before  # nothing written (the lock is taken and given back)


def test_dry_run_refusals_are_one_line(folder, no_token, no_hf_api, capsys):
    assert main(["publish", str(folder), "--repo", "org/a--b", "--dry-run"]) == 2
    (folder / "build_info.json").unlink()
    assert main(["publish", str(folder), "--repo", "org/x", "--dry-run"]) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(err) == 2 and "ORG/NAME" in err[0] and "not a warp-ir build" in err[1]


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

    def do_GET(self):
        if self.path == "/api/whoami-v2":
            ok = self.headers.get("authorization") == "Bearer hf_good"
            self._send(200, {"name": "tester"}) if ok else self._send(401, {"error": "Invalid credentials"})
        else:
            self._send(404, {"error": "not found"})

    def do_POST(self):
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
