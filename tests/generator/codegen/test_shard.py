"""Rendered programs run in a child process, never in the builder's: not even with one worker.

Issue 23, case C: with ``--num-proc 1`` the shards were compiled in the ``warp-ir build`` process itself, which
imported (ran the top-level code of) every rendered program. Now a forked child does the work and hands back
Arrow IPC bytes and JSON.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pyarrow as pa
import pytest

from generator.codegen.shard import ChildFailed, TemplatesChanged, _compile_here, compile_shard, run_in_child
from generator.planning.plan import ShardSpec
from generator.programs.templates import default_families

# top-level code that says where it ran (and what it could see of the environment)
PID_TEMPLATE = """{#- warp-ir
family: pids
params:
  scale: {float: [0.5, 4.0]}
-#}
import os
import warp as wp

with open(os.environ["WARP_IR_TEST_PID_FILE"], "a") as _out:
    _out.write(f"{os.getpid()} {os.environ.get('HF_TOKEN', '-')}\\n")


@wp.kernel
def {{ rng.kernel_name() }}(a: wp.array(dtype=float)):
    i = wp.tid()
    a[i] = a[i] * {{ scale }}
"""


def test_a_one_worker_build_runs_no_program_in_the_builder(tmp_path):
    root, pid_file = tmp_path / "templates", tmp_path / "pids.txt"
    (root / "pids").mkdir(parents=True)
    (root / "pids" / "where.py.j2").write_text(PID_TEMPLATE)
    env = {**os.environ, "WARP_IR_TEMPLATES": str(root), "WARP_IR_TEST_PID_FILE": str(pid_file),
           "HF_TOKEN": "hf_not_for_templates"}
    builder = subprocess.Popen(
        [sys.executable, "-m", "warp_ir.cli", "build", "--out", str(tmp_path / "out"), "--families", "pids",
         "--num-samples", "3", "--num-proc", "1", "--no-fuzzy-dedup", "--shard-size", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    out, err = builder.communicate(timeout=300)
    assert builder.returncode == 0, err
    assert "wrote" in out and "Traceback" not in err
    ran = [line.split() for line in pid_file.read_text().splitlines()]
    assert ran, "no program was imported"
    assert all(int(pid) != builder.pid for pid, _ in ran)  # imported elsewhere: in the shards' children
    assert all(token == "-" for _, token in ran)  # and without the user's token


def test_rows_and_counts_are_those_of_compiling_in_this_process():
    shard = ShardSpec("train", 0, 4, tuple(range(12)), tuple(sorted(default_families())))
    here = _compile_here(shard, ("cpu", "cuda"), "codegen", None)
    assert compile_shard(shard, ("cpu", "cuda")) == here
    assert len(here[0]) == here[1]["rows"] > 0


def table_of(n: int) -> pa.Table:
    return pa.table({"x": list(range(n))})


def test_run_in_child_hands_back_data_and_reports_failures():
    header, table = run_in_child(lambda: ({"pid": os.getpid()}, table_of(100_000)), "testing")
    assert header["pid"] != os.getpid() and table.equals(table_of(100_000))
    assert run_in_child(lambda: ({}, None), "testing") == ({}, None)

    def raises(exc: BaseException):
        def work():
            raise exc
        return work

    with pytest.raises(TemplatesChanged, match="the templates changed"):  # kept as it is: the build says so
        run_in_child(raises(TemplatesChanged("the templates changed while the build was running")), "testing")
    with pytest.raises(ChildFailed, match="failed: SystemExit: 3"):  # a program's sys.exit() ends nothing here
        run_in_child(raises(SystemExit(3)), "testing")
    with pytest.raises(ChildFailed, match="testing exited with status 7 without handing back its result"):
        run_in_child(lambda: os._exit(7), "testing")
    with pytest.raises(ChildFailed, match=r"killed by signal 9 \(SIGKILL\)"):
        run_in_child(lambda: os.kill(os.getpid(), signal.SIGKILL), "testing")


def test_a_process_holding_the_pipe_does_not_hang_the_parent(tmp_path):
    """A program may start a process of its own, which inherits the child's end of the pipe."""
    pid_file = tmp_path / "grandchild"

    def work():
        pid = os.fork()
        if pid == 0:
            time.sleep(60)
            os._exit(0)
        pid_file.write_text(str(pid))
        os._exit(0)

    started = time.monotonic()
    try:
        with pytest.raises(ChildFailed, match="exited with status 0 without handing back its result"):
            run_in_child(work, "testing")
        assert time.monotonic() - started < 20
    finally:
        if pid_file.exists():
            try:
                os.kill(int(pid_file.read_text()), signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_unreadable_bytes_from_a_child_are_an_error_not_code(tmp_path, monkeypatch):
    import json
    from types import SimpleNamespace

    import generator.codegen.shard as shard_module

    marker = tmp_path / "code-ran"
    planted = f"cos\nsystem\n(S'touch {marker}'\ntR."  # a pickle that runs a command when loaded
    # the child (forked after this) sends it where its JSON header goes
    monkeypatch.setattr(shard_module, "json", SimpleNamespace(dumps=lambda obj: planted, loads=json.loads))
    with pytest.raises(ChildFailed, match="sent an unreadable result"):
        run_in_child(lambda: ({}, None), "testing")
    assert not marker.exists()


QUITS_TEMPLATE = """{#- warp-ir
family: quits
-#}
import os
import warp as wp

os._exit(0)


@wp.kernel
def {{ rng.kernel_name() }}(a: wp.array(dtype=float)):
    a[wp.tid()] = 1.0
"""


def test_a_program_that_ends_its_process_fails_the_build_in_one_line(tmp_path):
    """``os._exit(0)`` at a program's top level ended ``warp-ir build`` itself, with status 0 and nothing written."""
    root = tmp_path / "templates"
    (root / "quits").mkdir(parents=True)
    (root / "quits" / "now.py.j2").write_text(QUITS_TEMPLATE)
    proc = subprocess.run([sys.executable, "-m", "warp_ir.cli", "build", "--out", str(tmp_path / "out"),
                           "--families", "quits", "--num-samples", "2"], capture_output=True, text=True, timeout=300,
                          check=False, env={**os.environ, "WARP_IR_TEMPLATES": str(root), "TMPDIR": str(tmp_path)})
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("warp-ir: error:")]
    assert errors == ["warp-ir: error: the process compiling shard train-00000 exited with status 0 without handing "
                      "back its result"], proc.stderr
    (log,) = tmp_path.glob("warp-ir-crash-*.log")  # not a mistake of the user's: the traceback is kept, and named
    assert f"warp-ir: the full traceback is in {log}" in proc.stderr and "ChildFailed: " in log.read_text()
