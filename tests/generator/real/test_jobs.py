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
