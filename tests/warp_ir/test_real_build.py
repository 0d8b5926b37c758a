"""The real configuration built by the command line from the packages the ``[real]`` extra installs.

Slow (the largest package takes minutes to mine); ``.ci/run`` installs the extra, so CI builds it here.
"""

from __future__ import annotations

import importlib.metadata
import json
import shutil
import subprocess

import datasets
import pyarrow.parquet as pq
import pytest

REAL_EXTRA = ("mujoco-warp", "nvalchemi-toolkit-ops", "warp-simdata", "skrl", "warp-nn", "warp-jsb", "newton",
              "mink-warp", "newton-actuators", "uniray")
TEST_PACKAGES = ["mink-warp", "mujoco-warp", "nvalchemi-toolkit-ops"]
NO_URL = {"nvalchemi-toolkit-ops", "newton", "uniray"}  # their metadata names no repository (nor any other URL)


def _installed(name: str) -> bool:
    try:
        importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


@pytest.mark.slow
@pytest.mark.timeout(3600)  # about 12 minutes on 2 cores (the suite's limit is 900 s a test)
@pytest.mark.skipif(not all(map(_installed, REAL_EXTRA)), reason='needs pip install -e ".[real]"')
def test_real_build_of_the_installed_ecosystem(tmp_path):
    out = tmp_path / "real"
    proc = subprocess.run([shutil.which("warp-ir") or "warp-ir", "build", "--config", "real", "--out", str(out),
                           "--num-proc", "2"], capture_output=True, text=True, timeout=3600, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    info = json.loads((out / "build_info.json").read_text())["real"]
    rep = info["real_report"]
    rows = rep["rows"]
    packages = rep["packages"]
    assert set(REAL_EXTRA) | {"warp-lang"} <= set(packages)
    with_rows = [name for name, p in packages.items() if p["records"]]
    statuses = {name: (p["records"], p["status"]) for name, p in packages.items()}
    assert sum(rows.values()) >= 3000 and len(with_rows) >= 10, (rows, statuses)
    assert sorted(rep["splits"]["test"]) == TEST_PACKAGES and rows["test"] >= 0.15 * sum(rows.values())
    # kernels that factories made, at import and when newton's and warp-lang's examples ran, are rows
    assert rep["totals"]["factory_rows"] > 0 and rep["totals"]["script_rows"] > 0
    assert packages["newton"]["scripts_run_count"] > 0 and packages["warp-lang"]["scripts_run_count"] > 0
    for name, p in packages.items():
        assert p["status"] == "mined", (name, p["status"])
        # non-generic kernels and overloads: code generated for nearly all (Warp rejecting a package's own bug
        # is the only failure of a package's own kernels here: warp-jsb reads a struct field its struct does not
        # declare); warp-lang's examples also make warp.fem kernels whose code Warp may reject out of their context
        failed = p["failed_count"]
        fem_only = all(":" in k and k.split(":")[0].startswith("warp._src.fem") for k in p.get("failed_kernels", {}))
        assert failed == 0 or (name == "warp-jsb" and failed == 1) or (name == "warp-lang" and fem_only), \
            (name, p["failed"])
    ds = datasets.load_dataset(str(out), "real")
    assert set(ds) == {"train", "test"} and ds.num_rows == rows
    assert "## Real configuration" in (out / "README.md").read_text()
    for path in (out / "real").glob("*.parquet"):
        sources = pq.read_table(path, columns=["source"]).column("source").to_pylist()
        assert all(s["license"] in ("Apache-2.0", "MIT") for s in sources)
        assert all(s["repository"].startswith("https://") for s in sources if s["package"] not in NO_URL
                   and s["kind"] == "real")
        assert all(s["repository"] == "" for s in sources if s["package"] in NO_URL)
    test_packages = {s["package"] for s in ds["test"]["source"]}
    assert sorted(test_packages) == TEST_PACKAGES
    # every row a whole problem: its round trip passed (warp.fem's integration kernels, which are not, are left
    # out unless --fem-rows asks for them)
    for split in ("train", "test"):
        assert set(ds[split]["family"]) == {"real"} and all(v["round_trip"] for v in ds[split]["validation"])
