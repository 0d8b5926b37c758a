"""Installed Warp packages found, described and mined, each in a child process of its own."""

from __future__ import annotations

import pytest

from generator.real.config import check_real_settings, held_out_packages, plan_real, real_jobs, real_table
from generator.real.jobs import FEM, MineJob, mine_isolated, source_bytes
from generator.real.packages import PackageError, canonical, package_info, resolve_packages, warp_dependents

TARGETS = ("cpu",)


def test_discovery_finds_what_depends_on_warp(site):
    found = warp_dependents()
    assert {"wirt-alpha", "wirt-beta", "wirt-gpl", "wirt-crash"} <= set(found)
    assert "wirt-unrelated" not in found and "warp-lang" not in found and "warp-ir-dataset" not in found
    assert found == sorted(found)
    assert resolve_packages(None)[0] == "warp-lang"
    assert resolve_packages(["Wirt_Alpha", "wirt-alpha", "warp-lang"]) == ["wirt-alpha", "warp-lang"]
    assert canonical("Warp_JSB") == "warp-jsb"


def test_uninstalled_package_is_one_line(site):
    with pytest.raises(PackageError) as err:
        resolve_packages(["warp-lang", "wirt-missing"])
    assert str(err.value) == ("package 'wirt-missing' is not installed: pip install wirt-missing "
                              "(or leave it out of --packages)")
    with pytest.raises(ValueError, match="test packages not among the packages mined: wirt-beta"):
        check_real_settings(["wirt-alpha"], ["wirt-beta"], (), 60)
    with pytest.raises(ValueError, match="not an SPDX license identifier: GPL 3"):
        check_real_settings(None, None, ("GPL 3",), 60)


def test_metadata(site):
    beta = package_info("wirt-beta")
    assert (beta.name, beta.version, beta.import_names) == ("wirt-beta", "1.0", ("wirt_beta",))
    assert (beta.license, beta.license_source) == ("Apache-2.0", "License")
    assert beta.repository == "https://github.com/example/wirt-beta"  # ".git" dropped
    assert package_info("wirt-nolicense").license is None
    warp = package_info("warp-lang")
    assert warp.license == "Apache-2.0" and warp.repository == "https://github.com/NVIDIA/warp"
    assert warp.license_file == "LICENSE.md"


def test_mined_in_a_child_with_provenance_and_license(site, tmp_path):
    mined = mine_isolated(MineJob("wirt-alpha", TARGETS), tmp_path)
    rep = mined.report
    assert rep["status"] == "mined" and rep["license"] == "MIT"
    assert rep["modules_found"] == 2 and rep["modules_scanned"] == 2  # the package and kernels.py, not its tests
    assert rep["kernels_found"] == 2 and rep["extracted"] == 2 and rep["extracted_fraction"] == 1.0
    rows = {r["kernel_name"]: r for r in mined.table.to_pylist()}
    scale = rows["scale"]
    assert "wp::adj_sin" in scale["cpp_backward"] and "def smooth(" in scale["python_source"]
    assert scale["cuda_forward"] is None  # only the targets asked for
    src = scale["source"]
    assert src["kind"] == "real" and src["package"] == "wirt-alpha" and src["license"] == "MIT"
    assert src["repository"] == "https://github.com/example/wirt-alpha" and src["path"] == "wirt_alpha/kernels.py"
    lines = (site / src["path"]).read_text().splitlines()[src["first_line"] - 1 : src["last_line"]]
    assert lines[0] == "@wp.kernel" and lines[1].startswith("def scale(")
    assert str(site) not in scale["cpp_forward"]  # paths in the code are relative to the package root
    # finished work is marked: the next build reuses it, verified
    again = mine_isolated(MineJob("wirt-alpha", TARGETS), tmp_path)
    assert again.reused and again.table.equals(mined.table)
    # a tampered result is not trusted: mined again
    data = tmp_path / "wirt-alpha.parquet"
    data.write_bytes(data.read_bytes()[:-10])
    third = mine_isolated(MineJob("wirt-alpha", TARGETS), tmp_path)
    assert not third.reused and third.table.equals(mined.table)


def test_licenses_decide_what_is_mined(site, tmp_path):
    gpl = mine_isolated(MineJob("wirt-gpl", TARGETS), tmp_path)
    assert gpl.table.num_rows == 0 and gpl.report["status"].startswith("skipped: license GPL-3.0-only not allowed")
    assert gpl.report["modules_found"] == 0  # not even imported
    allowed = mine_isolated(MineJob("wirt-gpl", TARGETS, allow_licenses=("GPL-3.0-only",)), tmp_path)
    assert allowed.table.num_rows == 1 and allowed.table.to_pylist()[0]["source"]["license"] == "GPL-3.0-only"
    none = mine_isolated(MineJob("wirt-nolicense", TARGETS), tmp_path)
    assert none.table.num_rows == 0 and none.report["status"] == "skipped: no license information"
    _, report = plan_real([gpl, none], tmp_path, None)
    assert report["not_mined"] == {"wirt-gpl": gpl.report["status"], "wirt-nolicense": none.report["status"]}
    assert report["rows"] == {"train": 0, "test": 0}


@pytest.mark.parametrize("package, timeout_s, memory_mb, status", [
    ("wirt-crash", 60, 4096, "failed: the child was killed by signal 6"),
    ("wirt-hang", 3, 4096, "killed: still mining after 3 s"),
    ("wirt-hog", 60, 1024, "killed: used more than 1024 MiB of memory"),
])
def test_a_bad_package_costs_only_itself(site, tmp_path, package, timeout_s, memory_mb, status):
    mined = mine_isolated(MineJob(package, TARGETS), tmp_path, timeout_s=timeout_s, memory_mb=memory_mb)
    assert mined.table is None and mined.report["status"].startswith(status)
    assert mined.report["version"] == "1.0" and mined.report["license"] == "MIT"
    assert not (tmp_path / f"{package}.json").exists()  # nothing marked finished: a rerun tries again
    fine = mine_isolated(MineJob("wirt-alpha", TARGETS), tmp_path)
    assert fine.table.num_rows == 2


def test_splits_by_package_and_duplicates_across_packages(site, tmp_path):
    jobs = real_jobs(["wirt-beta", "wirt-alpha"], TARGETS, include_fem=False)
    mined = [mine_isolated(j, tmp_path) for j in jobs]
    assert mined[0].report["import_failure_reasons"] == {"ModuleNotFoundError: No module named 'torch_is_not_here'": 1}
    shards, report = plan_real(mined, tmp_path, ["wirt-beta"])
    assert report["splits"] == {"train": ["wirt-alpha"], "test": ["wirt-beta"]}
    beta = report["packages"]["wirt-beta"]
    # `stretch` is `scale` renamed: it is kept in train (alpha) and dropped from test, counted
    assert beta["extracted"] == 2 and beta["duplicates"] == 1 and beta["duplicate_of"] == {"wirt-alpha": 1}
    assert report["rows"] == {"train": 2, "test": 1} and report["licenses"] == {"Apache-2.0": 1, "MIT": 2}
    test_rows = real_table(shards["test"][0]).to_pylist()
    assert [r["kernel_name"] for r in test_rows] == ["square"]
    assert report["totals"]["records"] == 3 and report["not_mined"] == {}
    assert held_out_packages(["warp-lang", "mujoco-warp"], None) == ["mujoco-warp"]
    assert held_out_packages(["warp-lang", "mink-warp", "newton", "nvalchemi-toolkit-ops"], None) == [
        "mink-warp", "nvalchemi-toolkit-ops"]


def test_an_interrupted_build_leaves_no_child_running(site, tmp_path):
    import threading
    import time

    import psutil

    stop = threading.Event()
    threading.Timer(2.0, stop.set).start()
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        mine_isolated(MineJob("wirt-hang", TARGETS), tmp_path, timeout_s=60, stop=stop)
    assert time.monotonic() - start < 10
    assert {p.pid for p in psutil.Process().children(recursive=True)} <= before


def test_row_batches_bound_rows_and_bytes():
    from extraction import KernelRecord, rows_table
    from generator.real.config import row_batches

    sizes = [10, 10, 500, 10, 2000, 10]
    table = rows_table([KernelRecord(kernel_name=f"k{i}", python_source="x" * n).to_row() for i, n in enumerate(sizes)])
    batches = row_batches(table, max_rows=2, max_bytes=1000)
    assert [b.num_rows for b in batches] == [2, 2, 1, 1]  # 10+10 | 500+10 | 2000 alone (one row over the limit) | 10
    assert sum(b.num_rows for b in batches) == table.num_rows
    assert [r["kernel_name"] for b in batches for r in b.to_pylist()] == [f"k{i}" for i in range(6)]


def test_backward_code_wherever_warp_can_make_it(site, tmp_path):
    """A package that switches the adjoint off (module option, decorator) gets backward code where Warp can make it;
    the row says so, its text no longer switches it off, and a kernel Warp cannot differentiate is counted by why."""
    mined = mine_isolated(MineJob("wirt-noadj", TARGETS), tmp_path)
    rep = mined.report
    rows = {r["kernel_name"]: r for r in mined.table.to_pylist()}
    assert set(rows) == {"damp", "squash", "scale_x"}, rep
    for name, adjoint in (("damp", "wp::adj_exp"), ("squash", "wp::adj_tanh")):
        row = rows[name]
        assert adjoint in row["cpp_backward"] and "_cpu_kernel_backward" in row["cpp_backward"]
        assert row["source"]["backward_as_shipped"] is False and row["differentiable"] is True
        assert "enable_backward" not in row["python_source"]
    assert '\n@wp.kernel(module="unique")\ndef squash(' in rows["squash"]["python_source"]
    # what Warp cannot differentiate keeps its forward code, its own text, and is counted by why
    scale_x = rows["scale_x"]
    assert scale_x["cpp_backward"] in ("", None) and "_cpu_kernel_forward" in scale_x["cpp_forward"]
    assert "\n@wp.kernel(enable_backward=False)\ndef scale_x(" in scale_x["python_source"]
    # its whole program says so for the module too (the package set it with wp.set_module_options)
    assert "wp.set_module_options({'enable_backward': False})" in scale_x["python_source"]
    assert all(r["validation"]["round_trip"] for r in rows.values())
    assert scale_x["source"]["backward_as_shipped"] is False
    assert rep["backward_added"] == 2 and rep["backward_missing"] == 1
    [(reason, n)] = rep["backward_impossible"].items()
    assert n == 1 and "composite slot augmented assignments" in reason and "scale_x" not in reason
    # a package that keeps the adjoint on is as it was
    alpha = {r["kernel_name"]: r for r in mine_isolated(MineJob("wirt-alpha", TARGETS), tmp_path).table.to_pylist()}
    assert alpha["scale"]["source"]["backward_as_shipped"] is True


def test_every_row_is_its_kernels_whole_program(site, tmp_path):
    """Constants, an enum, a vector type, a struct and helpers of another module (by name and through the module),
    a factory's captured value and a generic kernel's overloads all end up in the row's own text, whose code
    the row holds (line comments count the row's lines) and whose round trip passes."""
    mined = mine_isolated(MineJob("wirt-whole", ("cpu", "cuda")), tmp_path)
    rows = {(r["kernel_name"], r["arguments"][-1]["type"]): r for r in mined.table.to_pylist()}
    assert mined.report["not_whole_count"] == 0 and mined.report["round_trip_dropped_count"] == 0, \
        (mined.report["not_whole"], mined.report["round_trip_dropped"])
    volume = rows[("volume", "array(ndim=1, dtype=float32)")]
    src = volume["python_source"]
    for piece in ("import warp as wp", "EPS = 1e-06", "vec5 = wp.types.vector(length=5, dtype=wp.float32)",
                  "class Kind(enum.IntEnum):", "@wp.struct\nclass Shape:", "def safe_inv(x: float):",
                  "class shapes:  # what the code reads of wirt_whole.shapes\n    safe_inv = safe_inv"):
        assert piece in src, piece
    assert src.index("def safe_inv") < src.index("class shapes") < src.index("def volume")
    assert {d["name"] for d in volume["source"]["definitions"]} == {"Kind", "Shape", "safe_inv"}
    assert all(d["path"] == "wirt_whole/shapes.py" and d["first_line"] > 0 for d in volume["source"]["definitions"])
    # the code is generated from the row's own text: its line comments name the row's file and count its lines
    lines = src.splitlines()
    for line in volume["cpp_forward"].splitlines():
        if line.strip().startswith("// program_") and ":" in line:
            number = int(line.rsplit(":", 1)[1])
            assert lines[number - 1].lstrip().startswith(("def ", "@")), line
    assert "wirt_whole/" not in volume["cpp_forward"] + volume["cuda_backward"]
    scale = next(r for (name, _), r in rows.items() if name == "scale")
    assert "factor = 2.0" in scale["python_source"] and scale["python_source"].count("@wp.kernel") == 1
    overloads = [r for (name, _), r in rows.items() if name == "axpy"]
    assert len(overloads) == 2 and len({r["python_source"] for r in overloads}) == 2
    f32 = next(r for r in overloads if r["arguments"][2]["type"] == "float32")
    assert 'wp.overload(axpy, {"x": wp.array(dtype=wp.float32, ndim=1), "y": wp.array(dtype=wp.float32, ndim=1), ' \
           '"a": wp.float32})' in f32["python_source"]
    assert all(r["validation"]["round_trip"] is True for r in rows.values())


def test_largest_packages_are_mined_first(site):
    whole, alpha = source_bytes(MineJob("wirt-whole", TARGETS)), source_bytes(MineJob("wirt-alpha", TARGETS))
    assert whole > alpha > 0  # two modules of definitions against one small one; its tests folder not counted
    assert alpha == len((site / "wirt_alpha" / "kernels.py").read_bytes())
    assert source_bytes(MineJob(FEM, TARGETS)) == 0
