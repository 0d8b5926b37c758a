"""extract_in_child and `warp-ir extract`: the target's top-level code runs in a child process with a time limit."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from extraction import ChildError, LoadError, extract_in_child, load_target

KERNEL = """
import warp as wp

@wp.kernel
def trig(x: wp.array(dtype=float), y: wp.array(dtype=float)):
    i = wp.tid()
    y[i] = wp.sin(x[i])
"""

HANG = KERNEL + "\nwhile True:\n    pass\n"

# Before hanging, the target records its own pid and that of a process it started: the timeout
# must kill both (the child's whole process group), not only the child.
HANG_WITH_GRANDCHILD = KERNEL + """
import os, subprocess, sys
kid = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
open(os.environ["PIDS_FILE"] + ".tmp", "w").write(f"{os.getpid()} {kid.pid}")
os.replace(os.environ["PIDS_FILE"] + ".tmp", os.environ["PIDS_FILE"])
while True:
    pass
"""


@pytest.fixture(autouse=True)
def child_warp_cache(monkeypatch):
    """Children inherit the environment: keep their Warp kernel cache in the session's temp dir."""
    monkeypatch.setenv("WARP_CACHE_PATH", str(Path(os.environ["WARP_IR_TEST_TMP"]) / "warp-cache-child"))


def write(tmp_path: Path, name: str, source: str) -> str:
    path = tmp_path / name
    path.write_text(source)
    return str(path)


def gone(pid: int, within_s: float = 10.0) -> bool:
    """Whether process ``pid`` has ended (zombies waiting for their reaper count as ended)."""
    import psutil

    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.1)
    return False


def test_rows_come_back_and_target_prints_go_to_stderr(tmp_path, capfd):
    target = write(tmp_path, "trig.py", "print('hello from the target')\nprint('{not json')\n" + KERNEL)
    rows = extract_in_child(target, ("cpu", "cuda"), timeout_s=120)
    assert [r["kernel_name"] for r in rows] == ["trig"]
    row = rows[0]
    assert "wp::adj_sin(" in row["cuda_backward"] and "wp::sin(" in row["cpp_forward"]
    assert row["module_name"] == "warp_ir_user_trig"
    assert row["arguments"] == [{"name": "x", "type": "array(ndim=1, dtype=float32)"},
                                {"name": "y", "type": "array(ndim=1, dtype=float32)"}]
    assert row["cpp_backward"] and row["cuda_forward"] and row["differentiable"] is True
    captured = capfd.readouterr()
    assert "hello from the target" in captured.err and "hello" not in captured.out


def test_timeout_kills_the_child_and_what_it_started(tmp_path, monkeypatch):
    pids_file = tmp_path / "pids"
    monkeypatch.setenv("PIDS_FILE", str(pids_file))
    target = write(tmp_path, "hang.py", HANG_WITH_GRANDCHILD)
    start = time.monotonic()
    # 6 s, not less: Warp's import in the child must be over before the target starts its process.
    with pytest.raises(ChildError) as info:
        extract_in_child(target, ("cpu",), timeout_s=6)
    assert time.monotonic() - start < 30
    assert str(info.value) == (f"{target} did not finish importing within 6 s (its top-level code still running?): "
                               "raise --timeout or guard it with if __name__ == '__main__'")
    child_pid, grandchild_pid = map(int, pids_file.read_text().split())
    assert gone(child_pid) and gone(grandchild_pid)


@pytest.mark.parametrize("tail, message", [
    ("import sys\nsys.exit(0)\n", "{target} called sys.exit(0) while being imported: no kernels extracted"),
    ("import os\nos._exit(3)\n", "{target}: the import exited with status 3 before any kernel was extracted"),
    ("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n",
     "{target}: the import was killed by signal 9 before any kernel was extracted"),
    ("raise ValueError('first line\\nsecond line')\n", "{target}: ValueError: first line"),
])
def test_target_that_ends_or_fails_is_one_line_error(tmp_path, tail, message):
    target = write(tmp_path, "bad.py", KERNEL + tail)
    with pytest.raises(ChildError) as info:
        extract_in_child(target, ("cpu",))
    assert str(info.value) == message.format(target=target)


def test_directory_target_is_named(tmp_path):
    with pytest.raises(LoadError, match=r"is a directory: pass a \.py file or an importable module name"):
        load_target(str(tmp_path))


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "warp_ir.cli", "extract", *args], capture_output=True, text=True,
                          timeout=120, check=False)


def assert_one_line_error(proc: subprocess.CompletedProcess, message: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if "error" in ln]
    assert len(errors) == 1 and message in errors[0], proc.stderr
    assert proc.stdout == ""


@pytest.mark.parametrize("source, args, message", [
    (HANG, ["--timeout", "3"], "did not finish importing within 3 s (its top-level code still running?)"),
    (KERNEL + "import sys\nsys.exit(0)\n", [], "called sys.exit(0) while being imported: no kernels extracted"),
    (None, [], "is a directory: pass a .py file or an importable module name"),
    (KERNEL, ["--timeout", "-1"], "argument --timeout: must be a number of seconds above 0, got '-1'"),
    (KERNEL, ["--timeout", "abc"], "argument --timeout: must be a number of seconds above 0, got 'abc'"),
    (KERNEL, ["--out", "{tmp}"], "--out {tmp} is a directory: name a .jsonl file"),
    (KERNEL, ["--out", "{tmp}/k.py/sub/out.jsonl"], "cannot write {tmp}/k.py/sub/out.jsonl: Not a directory"),
])
def test_cli_mistakes_are_one_line_errors(tmp_path, source, args, message):
    target = str(tmp_path) if source is None else write(tmp_path, "k.py", source)
    start = time.monotonic()
    proc = run_cli(target, *[a.replace("{tmp}", str(tmp_path)) for a in args])
    assert_one_line_error(proc, message.replace("{tmp}", str(tmp_path)))
    assert time.monotonic() - start < 60


def test_cli_out_existing_file_needs_overwrite(tmp_path):
    target = write(tmp_path, "k.py", KERNEL)
    out = tmp_path / "k.jsonl"
    out.write_bytes(b"old content\x00\n")
    assert_one_line_error(run_cli(target, "--out", str(out)), f"{out} exists: pass --overwrite to replace it")
    assert out.read_bytes() == b"old content\x00\n"

    proc = run_cli(target, "--targets", "cpu", "--out", str(out), "--overwrite")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"wrote 1 kernel(s) to {out}"
    lines = out.read_text().splitlines()
    assert len(lines) == 1 and '"kernel_name": "trig"' in lines[0] and "wp::sin(" in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k.jsonl", "k.py"]  # no temp file left


# --- secrets, provenance, and what the target leaves running --------------------------------------------

DUMP_ENV = KERNEL + """
import json, os
json.dump(sorted(os.environ), open(os.environ["WARP_IR_ENV_DUMP"], "w"))
"""


@pytest.fixture()
def secrets(monkeypatch, tmp_path):
    """Secrets in the environment, and a file a target dumps the names of its environment into."""
    monkeypatch.setenv("HF_TOKEN", "secret-value")
    monkeypatch.setenv("MY_API_KEY", "secret-value")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret-value")
    dump = tmp_path / "env.json"
    monkeypatch.setenv("WARP_IR_ENV_DUMP", str(dump))
    return dump


def test_the_target_sees_no_secret(tmp_path, secrets):
    import json

    rows = extract_in_child(write(tmp_path, "dump.py", DUMP_ENV), ("cpu",))
    assert [r["kernel_name"] for r in rows] == ["trig"]
    seen = json.loads(secrets.read_text())
    assert "WARP_IR_ENV_DUMP" in seen and "PATH" in seen
    assert not {"HF_TOKEN", "MY_API_KEY", "AWS_SECRET_ACCESS_KEY"} & set(seen)
    assert os.environ["HF_TOKEN"] == "secret-value"  # the caller keeps its own


def test_cli_extract_drops_the_secrets_of_its_process(tmp_path, secrets, monkeypatch, capsys):
    import json

    from warp_ir.cli import main

    out = tmp_path / "rows.jsonl"
    assert main(["extract", write(tmp_path, "dump.py", DUMP_ENV), "--targets", "cpu", "--out", str(out)]) == 0
    assert "HF_TOKEN" not in os.environ and "MY_API_KEY" not in os.environ and "WARP_IR_ENV_DUMP" in os.environ
    assert not {"HF_TOKEN", "MY_API_KEY"} & set(json.loads(secrets.read_text()))
    assert json.loads(out.read_text())["kernel_name"] == "trig"


@pytest.mark.parametrize("argv, dropped", [
    (["build", "--out", "{tmp}/out"], True),
    (["build", "--out", "file://{tmp}/out", "--engine", "ray"], True),
    (["build", "--out", "s3://bucket/warp-ir", "--engine", "ray"], False),  # the storage needs its credentials
    (["extract", "k.py"], True),
    (["eval", "p.jsonl", "--data", "{tmp}"], True),
    (["views", "{tmp}"], True),
    (["stats", "{tmp}"], True),
    (["check-templates"], True),
    (["publish", "{tmp}", "--repo", "org/name"], False),
])
def test_commands_that_never_publish_drop_the_secrets(tmp_path, monkeypatch, argv, dropped):
    from warp_ir.cli import drop_secrets, make_parser

    monkeypatch.setenv("HF_TOKEN", "secret-value")
    monkeypatch.setenv("MY_API_KEY", "secret-value")
    args = make_parser().parse_args([a.replace("{tmp}", str(tmp_path)) for a in argv])
    removed = drop_secrets(args)
    assert ({"HF_TOKEN", "MY_API_KEY"} <= set(removed)) is dropped
    assert ("HF_TOKEN" in os.environ) is not dropped and ("MY_API_KEY" in os.environ) is not dropped


def test_a_hub_tokenizer_keeps_the_hub_token_only(tmp_path, monkeypatch):
    from warp_ir.cli import drop_secrets, make_parser

    monkeypatch.setenv("HF_TOKEN", "secret-value")
    monkeypatch.setenv("MY_API_KEY", "secret-value")
    drop_secrets(make_parser().parse_args(["stats", str(tmp_path), "--tokenizer", "Qwen/Qwen2.5-Coder-7B"]))
    assert os.environ["HF_TOKEN"] == "secret-value" and "MY_API_KEY" not in os.environ
    local = tmp_path / "tokenizer.json"
    local.write_text("{}")
    drop_secrets(make_parser().parse_args(["stats", str(tmp_path), "--tokenizer", str(local)]))
    assert "HF_TOKEN" not in os.environ


# The target forks a copy of itself that sleeps, then (in the parent) records the copy's pid; the
# extraction then works, or fails: either way the copy must not outlive extract_in_child.
FORK_SLEEPER = """
import os, time
_kid = os.fork()
if _kid == 0:
    time.sleep(60)
    os._exit(0)
open(os.environ["PIDS_FILE"] + ".tmp", "w").write(str(_kid))
os.replace(os.environ["PIDS_FILE"] + ".tmp", os.environ["PIDS_FILE"])
"""


@pytest.mark.parametrize("tail", ["", "raise ValueError('after the fork')\n"], ids=["works", "fails"])
def test_what_the_target_started_is_killed_when_the_extraction_ends(tmp_path, monkeypatch, tail):
    pids_file = tmp_path / "pids"
    monkeypatch.setenv("PIDS_FILE", str(pids_file))
    target = write(tmp_path, "forker.py", KERNEL + FORK_SLEEPER + tail)
    if tail:
        with pytest.raises(ChildError, match="ValueError: after the fork"):
            extract_in_child(target, ("cpu",))
    else:
        assert [r["kernel_name"] for r in extract_in_child(target, ("cpu",))] == ["trig"]
    assert gone(int(pids_file.read_text()), within_s=2.0)


SPDX_KERNEL = "# SPDX-FileCopyrightText: 2025 Someone\n# SPDX-License-Identifier: MIT\n" + KERNEL


def test_rows_of_a_users_file_say_where_they_come_from(tmp_path, monkeypatch):
    from extraction import extract_target

    monkeypatch.chdir(tmp_path)
    (tmp_path / "src").mkdir()
    write(tmp_path / "src", "licensed.py", SPDX_KERNEL)
    row = extract_in_child("src/licensed.py", ("cpu",))[0]
    src = row["source"]
    assert src == {"kind": "user", "package": "", "package_version": "", "module": "licensed",
                   "path": "src/licensed.py", "first_line": 6, "last_line": 9, "license": "MIT",
                   "license_file": "", "repository": "", "backward_as_shipped": True, "factory": "",
                   "instantiated_by": "", "definitions": []}
    lines = (tmp_path / "src/licensed.py").read_text().splitlines()
    assert lines[5] == "@wp.kernel" and lines[8] == "    y[i] = wp.sin(x[i])"
    assert len(row["id"]) == 16 and int(row["id"], 16) >= 0
    # the same file gives the same id: in another run, in this process, named by an absolute path
    assert extract_in_child("src/licensed.py", ("cpu",))[0]["id"] == row["id"]
    (again,) = extract_target(str(tmp_path / "src/licensed.py"), ("cpu",))
    assert again.id == row["id"] and again.source.path == "src/licensed.py" and again.source.kind == "user"


def test_a_file_without_spdx_header_or_outside_the_current_folder(tmp_path, monkeypatch):
    from extraction import extract_target

    (tmp_path / "here").mkdir()
    monkeypatch.chdir(tmp_path / "here")
    target = write(tmp_path, "plain.py", KERNEL)
    (rec,) = extract_target(target, ("cpu",))
    assert rec.source.license == "" and rec.source.path == "plain.py" and rec.source.kind == "user"
    assert rec.source.package == "" and rec.source.module == "plain"
    (other,) = extract_target("../plain.py", ("cpu",))
    assert other.source.path == "plain.py" and other.id == rec.id


def test_a_module_target_is_named_inside_its_package(tmp_path, monkeypatch):
    import sys

    from extraction import extract_target

    (tmp_path / "wirpkg").mkdir()
    (tmp_path / "wirpkg" / "__init__.py").write_text("")
    write(tmp_path / "wirpkg", "kernels.py", '"""SPDX-License-Identifier: BSD-3-Clause"""\n' + KERNEL)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path.parent)
    try:
        (rec,) = extract_target("wirpkg.kernels", ("cpu",))
    finally:
        for name in [m for m in sys.modules if m.startswith("wirpkg")]:
            del sys.modules[name]
    src = rec.source
    assert (src.kind, src.module, src.path) == ("user", "wirpkg.kernels", "wirpkg/kernels.py")
    assert src.license == "BSD-3-Clause"
