"""The mining child: an environment without secrets, and nothing a package started outlives it."""

from __future__ import annotations

import importlib
import json
import os
import sys

import pytest

from generator.real.jobs import MineJob, mine_env, mine_isolated
from tests.extraction.test_child import gone
from tests.fixtures.real_packages import KERNELS, make_distribution

# At import the package forks a copy of the mining child that sleeps, and records the copy's pid.
FORKER = KERNELS + """
import os, time
_kid = os.fork()
if _kid == 0:
    time.sleep(60)
    os._exit(0)
with open(os.environ["WIRT_PID_FILE"], "a") as _f:
    _f.write(f"{_kid}\\n")
"""


def test_the_mining_environment_has_no_secret(monkeypatch):
    for name in ("HF_TOKEN", "MY_API_KEY", "AWS_SECRET_ACCESS_KEY", "GOOGLE_APPLICATION_CREDENTIALS"):
        monkeypatch.setenv(name, "secret-value")
    monkeypatch.setenv("WARP_IR_PLAIN", "1")
    env = mine_env()
    assert not {"HF_TOKEN", "MY_API_KEY", "AWS_SECRET_ACCESS_KEY", "GOOGLE_APPLICATION_CREDENTIALS"} & set(env)
    assert env["WARP_IR_PLAIN"] == "1" and env["PYTHONHASHSEED"] == "0" and env["PATH"] == os.environ["PATH"]


@pytest.fixture()
def forker_site(tmp_path_factory, monkeypatch):
    """A site folder holding ``wirt-forker``, on ``sys.path`` and on the children's ``PYTHONPATH``."""
    site = tmp_path_factory.mktemp("forker-site")
    make_distribution(site, "wirt-forker", {"kernels.py": FORKER})
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH")) if p))
    importlib.invalidate_caches()
    yield site
    for name in [m for m in sys.modules if m.startswith("wirt_forker")]:
        del sys.modules[name]


def test_what_a_package_started_is_killed_when_its_mining_ends(forker_site, tmp_path, monkeypatch):
    pid_file = tmp_path / "pid"
    monkeypatch.setenv("WIRT_PID_FILE", str(pid_file))
    mined = mine_isolated(MineJob("wirt-forker", ("cpu",)), tmp_path / "out", timeout_s=300)
    assert mined.report["status"] == "mined" and mined.table.num_rows == 2, json.dumps(mined.report)
    pids = [int(p) for p in pid_file.read_text().split()]
    assert pids and all(gone(pid, within_s=2.0) for pid in pids)


def test_mining_shows_each_package_done(monkeypatch, tmp_path):
    """Packages mined of those asked, the last one's status and rows, and a last line (plain: not a terminal)."""
    import logging
    import re

    import pyarrow as pa

    import common.progress as progress_module
    import generator.real.jobs as jobs_module
    from generator.real.jobs import Mined, mine_all

    def fake_mine(job, folder, timeout_s, memory_mb, stop):
        rows = {"pkg-a": 3, "pkg-b": 0}[job.package]
        table = pa.table({"n": list(range(rows))}) if rows else None
        return Mined(job.package, table, {"status": "mined" if rows else "failed: the child exited"}, {})

    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    monkeypatch.setattr(jobs_module, "mine_isolated", fake_mine)
    monkeypatch.setattr(jobs_module, "PROGRESS_EVERY_S", 0.0)
    monkeypatch.setattr(progress_module, "_bars_allowed", False)
    log, handler = logging.getLogger(progress_module.LOGGER), Collect()
    level = log.level
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        mined = mine_all([MineJob("pkg-a", ("cpu",)), MineJob("pkg-b", ("cpu",))], tmp_path)
    finally:
        log.removeHandler(handler)
        log.setLevel(level)
    assert [m.package for m in mined] == ["pkg-a", "pkg-b"]
    assert any(re.fullmatch(r"mining: 1 of 2 packages \(50%, \d+\.\d s\); pkg-a mined, 3 rows", ln) for ln in lines)
    assert re.fullmatch(r"mined 2 of 2 packages in \d+\.\d s \(pkg-b failed, 0 rows\)", lines[-1]), lines
