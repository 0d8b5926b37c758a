"""The forked-child runner: results come back as data (JSON and Arrow), failures as one-line errors."""

from __future__ import annotations

import os
import signal
import time

import pyarrow as pa
import pytest

from common.forked import ChildFailed, run_in_child
from generator.codegen.shard import TemplatesChanged


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
        run_in_child(raises(TemplatesChanged("the templates changed while the build was running")), "testing",
                     passed_on=(TemplatesChanged,))
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

    import common.forked as forked_module

    marker = tmp_path / "code-ran"
    planted = f"cos\nsystem\n(S'touch {marker}'\ntR."  # a pickle that runs a command when loaded
    # the child (forked after this) sends it where its JSON header goes
    monkeypatch.setattr(forked_module, "json", SimpleNamespace(dumps=lambda obj: planted, loads=json.loads))
    with pytest.raises(ChildFailed, match="sent an unreadable result"):
        run_in_child(lambda: ({}, None), "testing")
    assert not marker.exists()


def test_first_runs_in_the_child_before_the_work(tmp_path):
    marker = tmp_path / "first"

    def first():
        marker.write_text(str(os.getpid()))

    header, _ = run_in_child(lambda: ({"saw": marker.read_text()}, None), "testing", first=first)
    assert header["saw"] == marker.read_text() != str(os.getpid())
