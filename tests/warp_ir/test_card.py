"""The dataset card tells the truth about its folder: usage for the configurations present, intended use and
limitations, a citation, an example row read from the files, split sizes in the YAML header, small splits warned."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import datasets
import pyarrow.parquet as pq
import pytest
import yaml

from warp_ir.card import EXAMPLE_CODE_LINES, EXAMPLE_SOURCE_LINES, fence, render_card
from warp_ir.stats import split_files


def _header(text: str) -> dict:
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("\n---\n", 1)[0][4:])


def _usage(text: str) -> str:
    """The first fenced Python block: the usage snippet."""
    return re.search(r"```python\n(.*?)\n```", text, re.S).group(1)


def _first_row(folder: Path, prefix: str, split: str = "train") -> dict:
    return pq.read_table(split_files(folder, prefix)[split][0]).slice(0, 1).to_pylist()[0]


def _split_sizes(folder: Path, prefix: str) -> dict[str, tuple[int, int]]:
    """Split -> (rows, Arrow bytes) of the Parquet files, read whole."""
    return {split: (sum(pq.ParquetFile(p).metadata.num_rows for p in paths),
                    sum(pq.read_table(p).nbytes for p in paths))
            for split, paths in split_files(folder, prefix).items()}


def _check_sizes(info: dict, sizes: dict[str, tuple[int, int]]) -> None:
    """Rows exactly; bytes within 1% (or 1 KiB) of pyarrow's nbytes of the files as read (which count a few bytes a
    column more or less, depending on how the rows are spread over files and row groups)."""
    assert {s["name"]: s["num_examples"] for s in info["splits"]} == {k: n for k, (n, _) in sizes.items()}
    for s in info["splits"]:
        assert s["num_bytes"] == pytest.approx(sizes[s["name"]][1], rel=0.01, abs=1024)
    assert info["dataset_size"] == sum(s["num_bytes"] for s in info["splits"])


def test_usage_shows_only_the_configurations_present(small_build):
    text = (small_build.out_dir / "README.md").read_text()
    usage = _usage(text)
    assert 'load_dataset("org/warp-ir")' in usage  # the default configuration
    assert '"real"' not in usage and "chat-" not in usage  # a build without them does not offer them
    assert "Configurations in this folder: `synthetic` (train " in text


def test_intended_use_limitations_and_citation(small_build):
    text = (small_build.out_dir / "README.md").read_text()
    intended = text.index("\n## Intended use\n")
    limitations = text.index("\n## Limitations\n")
    assert intended < limitations
    lim = text[limitations:text.index("\n## ", limitations + 1)]
    assert "not written by people" in lim and "No real code" in lim  # synthetic only
    assert "**Validation of `synthetic`: `codegen`**" in lim and "not even the CUDA code to PTX" in lim
    assert "No GPU execution" in lim and f"Specific to Warp {small_build.stats['build']['warp_version']}" in lim
    assert "does not contain" in lim
    bib = re.search(r"```bibtex\n(@misc\{warp_ir,\n.*?\n\})\n```", text, re.S)
    assert bib, "no BibTeX block"
    entry = bib.group(1)
    version = small_build.stats["build"]["builder_version"]
    assert re.search(r"year\s*=\s*\{\d{4}\}", entry) and f"version      = {{{version}}}" in entry
    assert "title" in entry and "author       = {{warp-ir contributors}}" in entry
    assert r"howpublished = {\url{https://huggingface.co/datasets/org/warp-ir}}" in entry


def test_example_row_is_the_first_train_row(small_build):
    out = small_build.out_dir
    text = (out / "README.md").read_text()
    row = _first_row(out, "data")
    assert datasets.load_dataset(str(out), split="train")[0]["id"] == row["id"]  # what load_dataset gives first
    section = text[text.index("\n## Example row\n"):]
    section = section[:section.index("\n## ", 1)]
    for column in ("id", "family", "kernel_name"):
        assert f"`{column}` = `{row[column]}`" in section
    for column, lang, limit in (("python_source", "python", EXAMPLE_SOURCE_LINES),
                                ("cpp_forward", "cpp", EXAMPLE_CODE_LINES)):
        shown = "\n".join(row[column].splitlines()[:limit])
        block = re.search(rf"(`{{3,}}){lang}\n(.*?)\n\1\n", section, re.S)
        assert block and block.group(2) == shown, column
    n = len(row["cpp_forward"].splitlines())
    assert n > EXAMPLE_CODE_LINES and f"`cpp_forward` (first {EXAMPLE_CODE_LINES} of {n} lines)" in section


def test_fence_is_longer_than_any_backtick_run(small_build, tmp_path):
    import pyarrow as pa

    assert fence("a = 1") == "```"
    assert fence("x = '```'  # ````") == "`````"
    # an example whose code holds a fence cannot end the card's code block early
    source = 'import warp as wp\n"""\n```\nnot the end\n````\n"""\n'
    (tmp_path / "data").mkdir()
    pq.write_table(pa.table({"id": ["x"], "family": ["f"], "kernel_name": ["k"], "python_source": [source],
                             "cpp_forward": ["// ```cpp"]}), tmp_path / "data" / "train-00000-of-00001.parquet")
    text = render_card({"synthetic": small_build.stats}, [], folders=[tmp_path])
    section = text[text.index("\n## Example row\n"):]
    block = re.search(r"\n(`{3,})python\n(.*?)\n\1\n", section, re.S)
    assert block.group(1) == "`````" and block.group(2) == source.rstrip("\n")
    assert "\n````cpp\n// ```cpp\n````\n" in section


def test_yaml_header_has_split_sizes_that_datasets_checks(small_build, tmp_path):
    out = small_build.out_dir
    header = _header((out / "README.md").read_text())
    (info,) = header["dataset_info"]
    assert info["config_name"] == "synthetic"
    sizes = _split_sizes(out, "data")
    _check_sizes(info, sizes)
    assert [s["name"] for s in info["splits"]] == list(small_build.rows)
    assert {s["name"]: s["num_examples"] for s in info["splits"]} == small_build.rows
    names = [f["name"] for f in info["features"]]
    assert names == pq.read_schema(split_files(out, "data")["train"][0]).names
    # datasets reads it and records the same sizes when it prepares the splits
    ds = datasets.load_dataset(str(out), cache_dir=str(tmp_path / "ok"))
    _check_sizes(info, {s: (d.info.splits[s].num_examples, d.info.splits[s].num_bytes) for s, d in ds.items()})
    # a card that lies about a split's size is caught when the dataset is loaded
    bad = tmp_path / "bad"
    shutil.copytree(out, bad)
    card = (bad / "README.md").read_text()
    n = small_build.rows["validation"]
    (entry,) = [s for s in info["splits"] if s["name"] == "validation"]
    lie = card.replace(f"  - name: validation\n    num_bytes: {entry['num_bytes']}\n    num_examples: {n}\n",
                       f"  - name: validation\n    num_bytes: {entry['num_bytes']}\n    num_examples: {n + 1}\n")
    assert lie != card
    (bad / "README.md").write_text(lie)
    with pytest.raises(datasets.exceptions.NonMatchingSplitsSizesError):
        datasets.load_dataset(str(bad), cache_dir=str(tmp_path / "bad-cache"))


def test_split_sizes_do_not_depend_on_the_file_layout(small_build, tmp_path):
    """The number of files per split follows the number of processes: the card's sizes must not."""
    out = small_build.out_dir
    (train,) = split_files(out, "data")["train"]
    table = pq.read_table(train)
    shutil.copytree(out, tmp_path / "two")
    (tmp_path / "two" / "data" / train.name).unlink()
    half = table.num_rows // 2
    for i, part in enumerate((table.slice(0, half), table.slice(half))):
        pq.write_table(part, tmp_path / "two" / "data" / f"train-{i:05d}-of-00002.parquet", row_group_size=7)
    one = render_card({"synthetic": small_build.stats}, [], folders=[out])
    two = render_card({"synthetic": small_build.stats}, [], folders=[tmp_path / "two"])
    assert _header(one)["dataset_info"] == _header(two)["dataset_info"] and one == two


def test_small_splits_are_warned(small_build):
    text = (small_build.out_dir / "README.md").read_text()
    warnings = [line for line in text.splitlines() if line.startswith("> **Warning**")]
    assert len(warnings) == 1  # one configuration
    for split, n in small_build.rows.items():
        assert (f"the `{split}` split has {n} row" in warnings[0]) == (n < 100)
    assert "too few to train or compare models on" in warnings[0]


def test_card_without_local_files_has_no_sizes_or_example(small_build):
    """A build written to a URL renders its card from statistics alone: no split sizes, no example row."""
    text = render_card({"synthetic": small_build.stats}, [])
    assert "dataset_info" not in _header(text) and "## Example row" not in text
    assert "## Limitations" in text and "@misc{warp_ir," in text


def test_card_of_a_real_only_build(site, tmp_path):
    """A folder holding only the real configuration: its usage names it, its example row is real code."""
    from warp_ir.build import build

    out = tmp_path / "real-only"
    result = build(out, config_name="real", packages=("wirt-alpha", "wirt-beta"), test_packages=("wirt-beta",),
                   targets=("cpu",), include_fem=False)
    text = (out / "README.md").read_text()
    usage = _usage(text)
    assert 'load_dataset("org/warp-ir", "real")' in usage and 'load_dataset("org/warp-ir")' not in usage
    row = _first_row(out, "real")
    assert "in the `real` configuration" in text and f"`kernel_name` = `{row['kernel_name']}`" in text
    (info,) = _header(text)["dataset_info"]
    assert info["config_name"] == "real"
    _check_sizes(info, _split_sizes(out, "real"))
    assert {s["name"]: s["num_examples"] for s in info["splits"]} == result.rows
    assert "**Real code.**" in text and "**Validation of `real`" in text and "**Synthetic programs.**" not in text
    assert datasets.load_dataset(str(out), "real", cache_dir=str(tmp_path / "cache"))["test"].num_rows == 1


def test_chat_usage_and_sizes_only_with_views(small_build, tmp_path):
    from warp_ir.build import add_views
    from warp_ir.views import ViewOptions

    folder = tmp_path / "views"
    shutil.copytree(small_build.out_dir, folder)
    add_views(folder, ViewOptions(("chat",), 12_000))
    text = (folder / "README.md").read_text()
    header = _header(text)
    chat = [c["config_name"] for c in header["configs"] if c["config_name"].startswith("chat-")]
    assert chat
    assert f'load_dataset("org/warp-ir", "{chat[0]}", split=' in _usage(text)
    infos = {i["config_name"]: i for i in header["dataset_info"]}
    assert list(infos) == [c["config_name"] for c in header["configs"]]
    for config in header["configs"]:
        prefix = config["data_files"][0]["path"].rsplit("/", 1)[0]
        _check_sizes(infos[config["config_name"]], _split_sizes(folder, prefix))
    ds = datasets.load_dataset(str(folder), chat[0], cache_dir=str(tmp_path / "cache"))
    assert {s: d.num_rows for s, d in ds.items()} == {s["name"]: s["num_examples"] for s in infos[chat[0]]["splits"]}


def test_realism_section_and_both_leak_measures(small_build):
    """Issue 26: the card says how the programs read, per source, beside real code's figures, which split measures
    what, and held-out leakage by both structural measures."""
    from generator.realism.features import FEATURES

    text = (small_build.out_dir / "README.md").read_text()
    section = text[text.index("### How the programs read"):]
    table = section[:section.index("Features, as a percentage of rows")]
    for label in ("rows with a dead local", "rows with a degenerate operation", "arbitrary constants per line",
                  "median call depth", "median longest line"):
        assert label in table, label
    assert "| templates (" in table and "| real code (" in table  # real code's column from the reference
    features = section[section.index("Features, as a percentage of rows"):]
    assert sum(f"| `{f.name}`" in features for f in FEATURES) == len(FEATURES) >= 40
    assert re.search(r"\| `early_return` \*? ?\| \d+\.\d", features)  # a value, not a blank
    assert "percentage points from real code on average" in features
    assert "**Which split measures what.**" in text and "`test_unseen`" in text
    assert "syntax-tree paths, names and constants stripped" in text


def test_the_card_shows_the_retrieval_baseline_per_task_and_held_out_split(small_build):
    """Each held-out row answered by its nearest train row's code (names substituted) and scored."""
    import json

    from evaluation.tasks import TASKS

    info = json.loads((small_build.out_dir / "build_info.json").read_text(encoding="utf-8"))
    baseline = info["synthetic"]["baseline"]
    assert baseline["rows_per_split"] == 2 and baseline["seed"] == 0
    held = [s for s in small_build.rows if s != "train"]
    assert set(baseline["tasks"]) == set(TASKS)
    for task, splits in baseline["tasks"].items():
        assert set(splits) <= set(held) and splits
        for f in splits.values():
            assert 1 <= f["answers"] <= 2 and 0.0 <= f["exact"] <= f["normalized"] <= 1.0
            assert (f["correct"] is None) == task.startswith("python→cuda")  # no GPU here: CUDA up to compiles
    text = (small_build.out_dir / "README.md").read_text(encoding="utf-8")
    assert "### Retrieval baseline: what copying train solves" in text
    table = text.split("### Retrieval baseline", 1)[1].split("\n\n", 3)[2]
    lines = [ln for ln in table.splitlines() if ln.startswith("| python") or ln.startswith("| cuda")]
    assert len(lines) == sum(len(s) for s in baseline["tasks"].values())
