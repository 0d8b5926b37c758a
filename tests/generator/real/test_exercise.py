"""A package's examples run in its mining child: the kernels their factory calls make are mined too."""

from __future__ import annotations

import warp as wp

from extraction import _warp
from generator.real.jobs import MineJob, mine_isolated
from generator.real.mine import factory_of

TARGETS = ("cpu",)


def test_kernels_made_by_the_packages_examples_are_mined(site, tmp_path, monkeypatch):
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    mined = mine_isolated(MineJob("wirt-factory", TARGETS), tmp_path / "out")
    rep = mined.report
    assert rep["status"] == "mined"
    assert rep["scripts_run_count"] == 1 and rep["scripts_failed"] == {
        # it killed the first child: the package was mined again without it
        "wirt_factory.examples.example_crash": "not run: it stopped an earlier mining child (a crash or its memory)",
        "wirt_factory.examples.example_fails": "RuntimeError: this example requires a CUDA device"}
    assert not (tmp_path / "out" / "wirt-factory.script").exists()
    rows = {r["kernel_name"]: r for r in mined.table.to_pylist()}
    assert set(rows) == {"gain", "offset", "clear"}  # importing the package made only `clear`
    gain, offset = rows["gain"], rows["offset"]
    assert gain["source"]["factory"] == "make_gain" and offset["source"]["factory"] == "make_offset"
    assert gain["source"]["instantiated_by"] == "wirt_factory.examples.example_gain"
    assert offset["source"]["instantiated_by"] == "wirt_factory.examples.example_fails"  # made before it failed
    assert rep["factory_rows"] == 3 and rep["script_rows"] == 2
    clear = rows["clear"]
    assert clear["source"]["factory"] == "make_clear" and clear["source"]["instantiated_by"] == ""
    # its decorator read the factory's `backward`: written with the kernel's options instead (backward on)
    assert "@wp.kernel\ndef clear(" in clear["python_source"] and "backward)" not in clear["python_source"]
    # the enum it reads names itself in an annotation: the program postpones annotations, as its module did
    assert clear["python_source"].startswith("from __future__ import annotations\n")
    assert "class Mode(enum.IntEnum):" in clear["python_source"] and clear["validation"]["round_trip"]
    assert "wp::adj_" in clear["cpp_backward"]
    # the value the factory captured is in the row's text, and the code multiplies by it
    assert "g = 3.0" in gain["python_source"] and "def gain(" in gain["python_source"]
    assert "wp::mul" in gain["cpp_forward"] and "wp::adj_mul" in gain["cpp_backward"]
    assert gain["validation"]["round_trip"] and offset["validation"]["round_trip"]
    # the example's file went to a temporary folder, not where the build runs
    assert list(here.iterdir()) == []


def test_no_launches_runs_nothing_and_restores_warp():
    calls = []

    @wp.kernel
    def touch(a: wp.array(dtype=float)):
        a[wp.tid()] = 1.0

    launch, mode = wp.launch, wp.config.mode
    a = wp.zeros(3, dtype=float, device="cpu")
    with _warp.no_launches():
        wp.config.mode = "debug"
        calls.append(wp.launch(touch, dim=3, inputs=[a], device="cpu", record_cmd=True))
    assert a.numpy().tolist() == [0.0, 0.0, 0.0]
    assert calls[0].set_param_at_index(1, a) is calls[0]  # what a recorded launch is asked to do does nothing
    assert wp.launch is launch and wp.config.mode == mode


def test_factory_of():
    assert factory_of("make_gain.<locals>.gain") == "make_gain"
    assert factory_of("Solver.build.<locals>.make.<locals>.k") == "Solver.build.<locals>.make"
    assert factory_of("Solver.kernel") == "" and factory_of("kernel") == ""
