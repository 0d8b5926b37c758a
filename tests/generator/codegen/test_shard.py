"""Rendered programs run in a child process, never in the builder's: not even with one worker.

Issue 23, case C: with ``--num-proc 1`` the shards were compiled in the ``warp-ir build`` process itself, which
imported (ran the top-level code of) every rendered program. Now a forked child does the work and hands back
Arrow IPC bytes and JSON.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from generator.codegen.shard import _compile_here, compile_shard
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


def test_the_next_shard_compiles_while_the_rows_before_it_are_used(monkeypatch):
    import generator.codegen.shard as shard_module

    shards = [ShardSpec("train", k, 4, (3 * k, 3 * k + 1), tuple(sorted(default_families()))) for k in range(3)]
    events, pids = [], []
    real_start = shard_module.start_shard

    def start_shard(shard, *args):
        events.append(f"start {shard.shard_id}")
        child = real_start(shard, *args)
        pids.append(child._reader.pid)
        return child

    monkeypatch.setattr(shard_module, "start_shard", start_shard)
    got = {}
    for shard, table in shard_module.run_shards(shards, ("cpu",)):
        events.append(f"got {shard.shard_id}")
        got[shard.shard_id] = table.column("id").to_pylist()
    assert events == ["start 0", "start 1", "got 0", "start 2", "got 1", "got 2"]
    for shard in shards:  # the same rows as one shard at a time
        assert got[shard.shard_id] == [row["id"] for row in compile_shard(shard, ("cpu",))[0]]

    events.clear()
    pids.clear()
    for _ in shard_module.run_shards(shards, ("cpu",)):
        break  # a consumer that stops early: the child already started for the next shard is killed and reaped
    assert events == ["start 0", "start 1"]
    with pytest.raises(ChildProcessError):  # reaped: no longer this process's child
        os.waitpid(pids[1], os.WNOHANG)


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
