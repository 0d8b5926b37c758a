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
    import psutil  # noqa: PLC0415

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
