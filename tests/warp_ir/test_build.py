"""A small build in the Hub layout: load_dataset round trip, datasets-cli test, card, stats."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import datasets
import pyarrow.parquet as pq
import pytest
import warp as wp
import yaml

from warp_ir.stats import split_files


def test_layout(small_build):
    out = small_build.out_dir
    files = sorted(p.relative_to(out).as_posix() for p in (out / "data").glob("*.parquet"))
    assert files and all(re.fullmatch(r"data/(train|validation|test|test_unseen)-\d{5}-of-\d{5}\.parquet", f)
                         for f in files)
    # the default held-out templates form test_unseen, and only they
    unseen = {r["template"] for r in pq.read_table(out / "data" / "test_unseen-00000-of-00001.parquet").to_pylist()}
    assert unseen and unseen <= set(json.loads((out / "build_info.json").read_text())["synthetic"]["config"]
                                  ["unseen_templates"])
    assert (out / "README.md").is_file() and (out / "build_info.json").is_file()
    assert not (out / ".warp-ir-cache").exists()


def test_load_dataset_round_trip(small_build):
    ds = datasets.load_dataset(str(small_build.out_dir))
    assert set(ds) == set(small_build.rows) and {k: len(v) for k, v in ds.items()} == small_build.rows
    for row in ds["train"]:
        assert "import warp as wp" in row["python_source"]
        assert row["cpp_forward"] and "_cpu_kernel_forward(" in row["cpp_forward"]
        assert row["cuda_forward"] and "_cuda_kernel_forward(" in row["cuda_forward"]
        if row["differentiable"]:
            assert "_cpu_kernel_backward(" in row["cpp_backward"]
            assert "_cuda_kernel_backward(" in row["cuda_backward"]
        assert row["warp_version"] == wp.__version__
        assert row["validation"]["level"] == "codegen"
        assert f"def {row['kernel_name']}(" in row["python_source"]
        assert json.loads(row["params"]) is not None


def test_card(small_build):
    text = (small_build.out_dir / "README.md").read_text()
    header = yaml.safe_load(text.split("---")[1])
    assert header["license"] == "apache-2.0" and header["size_categories"] == ["n<1K"]
    (config,) = header["configs"]
    assert config["config_name"] == "synthetic" and config["default"] is True
    assert {d["split"] for d in config["data_files"]} == set(small_build.rows)
    total = sum(small_build.rows.values())
    assert f"| rows | {total} |" in text
    for family, n in small_build.stats["families"].items():
        assert re.search(rf"\| {family} \| {n} \|", text)
    for column in ("python_source", "cpp_forward", "cuda_backward", "validation", "content_hash"):
        assert f"| `{column}` |" in text
    assert "builtin coverage" in text.lower()


def test_card_figures_and_diversity(small_build):
    from generator.planning.similarity import BIN_LABELS
    from warp_ir.stats import diversity

    out = small_build.out_dir
    text = (out / "README.md").read_text()
    info = json.loads((out / "build_info.json").read_text())["synthetic"]
    assert set(info["figures"]) == {"families", "lengths", "coverage", "similarity"}
    for rel in info["figures"].values():
        assert (out / rel).read_bytes()[:4] == b"\x89PNG" and rel in info["files"]
        assert f"]({rel})" in text  # the card shows it
    built = info["diversity"]
    assert built["total_rows"] == sum(small_build.rows.values())
    assert built["rows_with_cross_split_twin"] == 0 and built["rows_with_twin"] == 0  # fuzzy dedup is on
    assert "### Structural diversity" in text and f"| rows with a near-twin | 0 of {built['total_rows']} " in text
    hist = built["max_similarity_histogram"]
    positions = [text.index(f"| {label} | {hist[label]} |") for label in BIN_LABELS]
    assert positions == sorted(positions)  # shown in bin order, though build_info.json sorts its keys
    # `warp-ir stats --diversity` computes the same figures with datasketch
    assert diversity(out, processes=1) == built


def test_statistics_gathered_by_workers_match_the_parquet(small_build):
    from warp_ir.stats import compute_stats

    read_back = compute_stats(small_build.out_dir)  # one pass over the written files
    one_answer = read_back.pop("one_answer")  # only `warp-ir stats` reads every prompt back
    assert small_build.stats == read_back  # the build merged what its workers counted, shard by shard
    assert all(c["conflicting_inputs"] == 0 for c in one_answer.values())
    assert read_back["round_trip"] == {"passed": read_back["total_rows"]}
    assert read_back["total_rows"] == sum(small_build.rows.values())
    assert sum(read_back["families"].values()) == read_back["total_rows"]
    assert dict(read_back["builtin_coverage"]["most_used"])["tid"] == read_back["total_rows"]


def test_a_large_split_spans_several_files(tmp_path, monkeypatch):
    import warp_ir.build as build_module
    import warp_ir.local_engine

    # a new file after every shard (~68 rows, > 200 KB)
    monkeypatch.setattr(warp_ir.local_engine, "MAX_SHARD_SIZE", "200KB")
    result = build_module.build(tmp_path / "d", num_samples=150, seed=2, command="x")
    files = sorted((tmp_path / "d" / "data").glob("train-*.parquet"))
    assert [f.name for f in files] == ["train-00000-of-00002.parquet", "train-00001-of-00002.parquet"]
    counts = [pq.ParquetFile(f).metadata.num_rows for f in files]
    assert sum(counts) == result.rows["train"] and min(counts) > 0
    assert datasets.load_dataset(str(tmp_path / "d"), split="train").num_rows == result.rows["train"]


def test_datasets_cli_test(small_build, tmp_path):
    cli = shutil.which("datasets-cli") or str(Path(sys.executable).parent / "datasets-cli")
    # its own cache: datasets caches a local folder by its name, and every test build is called warp-ir-data
    proc = subprocess.run([cli, "test", str(small_build.out_dir), "--cache_dir", str(tmp_path)], capture_output=True,
                          text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Test successful" in proc.stdout + proc.stderr


def test_parquet_rows_are_sorted_by_shard(small_build):
    ids = [r for p in sorted((small_build.out_dir / "data").glob("train-*.parquet"))
           for r in pq.read_table(p, columns=["id"]).column("id").to_pylist()]
    assert len(ids) == len(set(ids)) == small_build.rows["train"]


def test_no_near_duplicate_across_splits_in_written_parquet(small_build):
    """Recompute the normalised hash of every written program: each hash lives in exactly one split."""
    from generator.planning.shingles import normalized_hash

    where: dict[str, set[str]] = {}
    for path in (small_build.out_dir / "data").glob("*.parquet"):
        split = path.name.split("-", 1)[0]
        for src in pq.read_table(path, columns=["python_source"]).column("python_source").to_pylist():
            where.setdefault(normalized_hash(src), set()).add(split)
    assert where and all(len(splits) == 1 for splits in where.values())
    # and no near-duplicates at all, within or across splits
    assert len(where) == sum(small_build.rows.values())


def test_real_config_beside_synthetic(small_build, site, tmp_path):
    """`--config real` mines installed packages into real/{train,test}-*.parquet next to data/, held out by package."""
    from warp_ir.build import build

    out = tmp_path / "both"
    shutil.copytree(small_build.out_dir, out)
    result = build(out, config_name="real", packages=("wirt-alpha", "wirt-beta", "wirt-crash", "wirt-gpl"),
                   test_packages=("wirt-beta",), targets=("cpu",), include_fem=False)
    assert result.rows == {"train": 2, "test": 1}
    assert sorted(p.name for p in (out / "real").iterdir()) == ["test-00000-of-00001.parquet",
                                                                 "train-00000-of-00001.parquet"]
    assert any((out / "data").glob("*.parquet"))  # the synthetic build is kept
    header = yaml.safe_load((out / "README.md").read_text().split("---")[1])
    assert [c["config_name"] for c in header["configs"]] == ["synthetic", "real"]
    real = datasets.load_dataset(str(out), "real")
    assert set(real) == {"train", "test"}
    assert {r["package"] for r in real["train"]["source"]} == {"wirt-alpha"}
    (test_row,) = real["test"]
    assert test_row["kernel_name"] == "square" and test_row["source"]["license"] == "Apache-2.0"
    assert test_row["source"]["repository"] == "https://github.com/example/wirt-beta"
    info = json.loads((out / "build_info.json").read_text())["real"]
    assert info["command"] == ("warp-ir build --config real --out warp-ir-data --packages "
                               "wirt-alpha,wirt-beta,wirt-crash,wirt-gpl --test-packages wirt-beta --targets cpu")
    rep = info["real_report"]
    assert rep["splits"] == {"train": ["wirt-alpha"], "test": ["wirt-beta"]}
    assert rep["packages"]["wirt-beta"]["duplicate_of"] == {"wirt-alpha": 1}
    # a package that crashes the interpreter, and one whose license is not allowed: the build goes on
    assert rep["not_mined"]["wirt-gpl"] == "skipped: license GPL-3.0-only not allowed (--allow-license)"
    assert rep["not_mined"]["wirt-crash"] == "failed: the child was killed by signal 6"
    card = (out / "README.md").read_text()
    assert "## Real configuration" in card and "| wirt-beta | 1.0 | Apache-2.0 | test |" in card
    assert "Not mined: wirt-crash (failed: the child was killed by signal 6)" in card

    # a synthetic build beside it takes the real statistics and program keys from the record: no real row is read
    from warp_ir import card as card_module
    from warp_ir import stats as stats_module

    def no_reading(*_args, **_kwargs):
        raise AssertionError("the rows of the other configuration were read")

    recorded = json.loads((out / "build_info.json").read_text())["real"]
    assert set(recorded["program_keys"].values()) == {"square", *(r["kernel_name"] for r in real["train"])}
    assert recorded["summary"]["rows"] == {"train": 2, "test": 1}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(card_module, "compute_stats", no_reading)
        patch.setattr(stats_module, "program_keys", no_reading)
        build(out, num_samples=6, seed=3, targets=("cpu",))
    again = (out / "README.md").read_text()
    assert again.split("## Real configuration")[1].split("\n## ")[0] == card.split("## Real configuration")[1].split(
        "\n## ")[0]
    assert "Real programs that also appear (after normalisation) in the synthetic data: 0." in again


def test_synthesized_family_builds_end_to_end(tmp_path):
    """`--families synthesized`: programs from the type-directed synthesizer, through the whole build."""
    from generator.programs.flow.program import SHAPES
    from warp_ir.build import build

    result = build(tmp_path / "s", num_samples=24, seed=5, families=("synthesized",))
    assert sum(result.rows.values()) == 24 and not result.rejected
    rows = [r for paths in split_files(tmp_path / "s").values() for p in paths for r in pq.read_table(p).to_pylist()]
    templates = {r["template"] for r in rows}
    assert {r["family"] for r in rows} == {"synthesized"} and len(templates) > 3
    assert all(t == "synthesized/registry" or t.split("/")[1] in SHAPES for t in templates), templates
    assert all("@wp.kernel" in r["python_source"] and "_cpu_kernel_forward" in r["cpp_forward"] for r in rows)
    assert len({r["complexity"] for r in rows}) > 1
    info = json.loads((tmp_path / "s" / "build_info.json").read_text())["synthetic"]
    assert "--families synthesized" in info["command"]
    assert "Rows by source: 0 rendered from Jinja templates, 24\n" in (tmp_path / "s" / "README.md").read_text()


def test_warps_kernel_cache_is_given_back_after_a_build(tmp_path):
    """A build compiles into its own cache folder and removes it; Warp must not go on writing there afterwards."""
    import warp as wp

    from extraction import init_quiet, loaded_source
    from warp_ir.build import build

    init_quiet()
    before = wp.config.kernel_cache_dir
    out = tmp_path / "out"
    build(out, num_samples=3, seed=5, families=["arithmetic"])
    assert wp.config.kernel_cache_dir == before
    source = "import warp as wp\n\n@wp.kernel\ndef k(a: wp.array(dtype=float)):\n    a[wp.tid()] = 2.0\n"
    with loaded_source(source, "warp_ir_test_cache_given_back") as module:
        wp.launch(module.k, dim=1, inputs=[wp.zeros(1, dtype=float, device="cpu")], device="cpu")
    assert not (out / ".warp-ir-cache").exists()
