"""Mining the kernels of the real Warp code shipped in warp-lang: content, provenance, counts."""

from __future__ import annotations

import re

import pytest

from extraction.warp_objects import INTERNAL_PACKAGE as SRC
from generator.real.groups import launch_block_dims
from generator.real.mine import mine_real
from generator.real.sources import PACKAGES, enumerate_modules, package_root, runs_at_import

SPH = "warp.examples.core.example_sph"
SUBSET = [SPH, f"{SRC}.fem.geometry.hexmesh", f"{SRC}.sparse", "warp.examples.tile.example_tile_fft"]


@pytest.fixture(scope="module")
def mined():
    return mine_real(packages=("warp-lang",), modules=SUBSET)


def _check_counts(rep: dict) -> None:
    assert rep["modules_scanned"] + rep["modules_failed_count"] == rep["modules_found"]
    assert rep["modules_failed_count"] == len(rep["modules_failed"])
    assert rep["to_extract"] == rep["kernels_found"] - rep["generic"] + rep["overloads"]
    assert rep["generic_no_overload"] == len(rep["generic_no_overload_kernels"]) <= rep["generic"]
    assert rep["extracted"] + rep["failed_count"] + rep["non_permissive"] + rep["same_source"] == rep["to_extract"]
    assert rep["failed_count"] == sum(rep["failed"].values())
    assert rep["records"] + rep["duplicates"] + rep["too_large"] == rep["extracted"]


def test_subset_has_real_generated_code(mined):
    pairs, report = mined
    by_name = {(p.module, r.kernel_name): r for r, p in pairs}
    sph = by_name[(SPH, "compute_density")]
    assert "wp::hash_grid_query" in sph.cpp_forward and "wp::hash_grid_query" in sph.cuda_forward
    assert "def compute_density(" in sph.python_source and "def density_kernel(" in sph.python_source
    assert "density_kernel" in sph.helper_functions
    assert sph.family == "real" and sph.template == "warp-lang" and len(sph.id) == 16
    # generated from the row's own text: Warp's comments name the row's file, never the package's or this machine's
    assert "// program_" in sph.cpp_forward and "example_sph.py" not in sph.cpp_forward
    assert sph.python_source.startswith("import warp as wp\n") and sph.validation.round_trip is None  # checked later
    assert all(str(package_root(PACKAGES["warp-lang"])) not in (r.cpp_forward + r.cuda_forward) for r, _ in pairs)
    # a kernel defined in a class body is mined and its source dedented
    hexmesh = [r for r, p in pairs if p.qualname.startswith("Hexmesh.")]
    assert hexmesh and all(re.search(r"^@wp\.kernel.*\ndef \w+\(", r.python_source, re.MULTILINE) for r in hexmesh)
    # sparse kernels live in "unique" Warp modules; generic ones give one record per overload
    assert any(p.module == f"{SRC}.sparse" for _, p in pairs)
    # tile_fft needs the block_dim the example launches it with
    fft = by_name[("warp.examples.tile.example_tile_fft", "fft_tiled")]
    assert "tile_fft" in fft.cpp_forward
    assert report["packages"]["warp-lang"]["extracted_with_launch_block_dim"] >= 1


def test_provenance(mined):
    pairs, _ = mined
    root = package_root(PACKAGES["warp-lang"])
    for rec, prov in pairs:
        assert prov.package == "warp-lang" and prov.package_version and prov.license == "Apache-2.0"
        assert prov.repository == "https://github.com/NVIDIA/warp" and prov.license_file == "LICENSE.md"
        assert prov.first_line < prov.last_line
        path = root / prov.path
        assert path.is_file() and prov.path.startswith("warp/")
        lines = path.read_text().splitlines()[prov.first_line - 1 : prov.last_line]
        assert any(f"def {prov.qualname.rsplit('.', 1)[-1]}(" in ln for ln in lines)
        assert rec.module_name == prov.module
    (sph,) = [p for r, p in pairs if r.kernel_name == "compute_density"]
    assert sph.path == "warp/examples/core/example_sph.py" and sph.warp_module == SPH


def test_report_counts_add_up(mined):
    pairs, report = mined
    rep = report["packages"]["warp-lang"]
    _check_counts(rep)
    assert rep["modules_found"] == len(enumerate_modules(PACKAGES["warp-lang"], SUBSET))
    assert rep["failed_count"] == 0 and rep["extracted"] > 20
    assert report["totals"]["records"] == len(pairs)
    assert len({(r.id, p.module, p.qualname) for r, p in pairs}) == len(pairs)


def test_order_is_stable_and_duplicates_dropped():
    a, ra = mine_real(packages=("warp-lang",), modules=[SPH])
    b, _ = mine_real(packages=("warp-lang",), modules=[SPH])
    assert [r.id for r, _ in a] == [r.id for r, _ in b]
    assert [p.first_line for _, p in a] == sorted(p.first_line for _, p in a)
    # kick and drift in example_sph are the same program up to names: one is kept
    names = [r.kernel_name for r, _ in a]
    assert ("kick" in names) != ("drift" in names)
    assert ra["packages"]["warp-lang"]["duplicates"] == 1


def test_enumeration_excludes_tests_and_guards_scripts():
    names = [n for n, _ in enumerate_modules(PACKAGES["warp-lang"])]
    assert names == sorted(names)
    assert SPH in names and f"{SRC}.fem.geometry.hexmesh" in names
    assert not any(n.startswith("warp.tests") for n in names)
    import ast

    guarded = ast.parse("import warp as wp\n@wp.kernel\ndef k():\n    pass\nif __name__ == '__main__':\n    run()\n")
    unguarded = ast.parse("import warp as wp\nwp.set_module_options({})\nX = wp.constant(1)\n"
                          "for d in wp.get_devices():\n    pass\n")
    assert not runs_at_import(guarded) and runs_at_import(unguarded)
    assert not runs_at_import(ast.parse("import warp as wp\nwp.init()\nN = 3\n"))


def test_launch_block_dims_reads_the_launch():
    import warp.examples.tile.example_tile_fft as m

    assert launch_block_dims(m.fft_tiled) == [m.BLOCK_DIM]


@pytest.mark.slow
def test_full_mining_extracts_nearly_everything():
    pairs, report = mine_real()
    rep = report["packages"]["warp-lang"]
    _check_counts(rep)
    assert rep["modules_found"] > 150 and rep["kernels_found"] > 250
    assert rep["extracted"] >= 0.97 * (rep["to_extract"] - rep["non_permissive"])
    assert len(pairs) == report["totals"]["records"]


def test_rows_with_too_much_code_are_dropped_and_named(monkeypatch):
    import generator.real.mine as mine

    full, _ = mine_real(packages=("warp-lang",), modules=[SPH], targets=("cpu",))
    limit = sorted(len(r.cpp_backward) for r, _ in full)[len(full) // 2]
    monkeypatch.setattr(mine, "MAX_CODE_CHARS", limit)
    kept, report = mine_real(packages=("warp-lang",), modules=[SPH], targets=("cpu",))
    rep = report["packages"]["warp-lang"]
    _check_counts(rep)
    assert rep["too_large"] == len(rep["too_large_kernels"]) > 0
    assert all(max(len(r.cpp_forward), len(r.cpp_backward)) <= limit for r, _ in kept)
    assert {r.kernel_name for r, _ in kept} < {r.kernel_name for r, _ in full}
    assert all(k.startswith(f"{SPH}:") for k in rep["too_large_kernels"])
