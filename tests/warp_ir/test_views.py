"""Chat views: one configuration per task beside ``data/``, loadable, length-limited with counts, owned."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

MAX_CHARS = 12_000


@pytest.fixture(scope="module")
def views_build(tmp_path_factory, test_tokenizer):
    """A 30-program build with chat views, a character limit and the test tokenizer."""
    from warp_ir.build import build
    from warp_ir.views import ViewOptions

    out = tmp_path_factory.mktemp("views") / "warp-ir-data"
    tok = str(test_tokenizer)
    return build(out, num_samples=30, seed=11, views=ViewOptions(("chat",), MAX_CHARS, None, tok), tokenizer=tok)


def _rows(folder: Path, prefix: str) -> list[dict]:
    return [r for p in sorted((folder / prefix).glob("*.parquet")) for r in pq.read_table(p).to_pylist()]


def test_each_task_is_a_configuration_with_counted_drops(views_build):
    from evaluation.tasks import PROMPT_VERSION, TASKS, messages

    out = views_build.out_dir
    info = json.loads((out / "build_info.json").read_text())["synthetic"]
    views = info["views"]
    assert views["prompt_version"] == PROMPT_VERSION and views["max_chars"] == MAX_CHARS
    # the card's rebuild command writes the same views
    assert info["command"].endswith(f" --views chat --tokenizer tokenizer.json --max-chars {MAX_CHARS}")
    data = {split: _rows(out, "data") for split in ("all",)}["all"]
    for task in TASKS.values():
        entry = views["tasks"][task.name]
        folder = out / "chat" / task.slug
        chats = [r for p in sorted(folder.glob("*.parquet")) for r in pq.read_table(p).to_pylist()]
        asked = [r for r in data if r[task.target]]  # a row without backward code has no backward question
        expected = [r for r in asked if len("".join(m["content"] for m in messages(task, r))) <= MAX_CHARS]
        assert [c["id"] for c in chats] == [r["id"] for r in expected]  # same rows, same order
        assert sum(entry["rows"].values()) == len(chats)
        assert entry["dropped"].get("too_many_chars", 0) == len(asked) - len(expected)
        assert entry["dropped"].get("missing_code", 0) == len(data) - len(asked)
        for chat in chats:
            assert chat["task"] == task.name and chat["prompt_version"] == PROMPT_VERSION
            assert chat["chars"] <= MAX_CHARS and chat["chars"] == sum(len(m["content"]) for m in chat["messages"])
            text = "".join(m["content"] for m in chat["messages"])
            assert chat["tokens"] == len(re.findall(r"\w+|[^\w\s]+", text))  # the test tokenizer's pieces
        # a split's files are numbered over those that hold rows; a split with none has none
        for split, n in entry["rows"].items():
            names = sorted(p.name for p in folder.glob(f"{split}-*.parquet"))
            assert len(names) <= len(list((out / "data").glob(f"{split}-*.parquet")))
            assert names == [f"{split}-{i:05d}-of-{len(names):05d}.parquet" for i in range(len(names))]
            assert (n > 0) == bool(names)
    # the long backward kernels are the ones left out
    assert sum(views["tasks"]["python→cuda_backward"]["dropped"].values()) > 0
    assert all(f in info["files"] for f in (p.relative_to(out).as_posix() for p in out.glob("chat/*/*.parquet")))


def test_load_dataset_reads_a_chat_configuration(views_build):
    import datasets

    out = views_build.out_dir
    card = (out / "README.md").read_text()
    assert "- config_name: chat-python-cpp-forward" in card and "path: chat/python-cpp-forward/train-" in card
    assert "### Chat views: one configuration per evaluation task" in card and "### Token lengths" in card
    ds = datasets.load_dataset(str(out), "chat-python-cpp-forward")
    assert set(ds) == set(views_build.rows)
    row = ds["train"][0]
    assert [m["role"] for m in row["messages"]] == ["system", "user", "assistant"]
    assert row["reference"] in row["messages"][2]["content"] and row["python_source"] in row["messages"][1]["content"]
    assert "wp::" in row["reference"] and row["task"] == "python→cpp_forward"
    default = datasets.load_dataset(str(out), split="train")  # the rows themselves stay the default
    assert "cpp_forward" in default.column_names


def test_datasets_cli_test_passes_with_views(views_build, tmp_path):
    cli = shutil.which("datasets-cli") or str(Path(sys.executable).parent / "datasets-cli")
    # its own cache: datasets caches a local folder by its name, and every test build is called warp-ir-data
    proc = subprocess.run([cli, "test", str(views_build.out_dir), "--cache_dir", str(tmp_path)], capture_output=True,
                          text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_token_percentiles_in_build_info_and_stats(views_build, test_tokenizer, capsys):
    from warp_ir.cli import main

    out = views_build.out_dir
    tokens = json.loads((out / "build_info.json").read_text())["synthetic"]["tokens"]
    assert tokens["tokenizer"] == "tokenizer.json"  # a local file is recorded by its name, not the user's path
    sources = _rows(out, "data")
    counts = sorted(len(re.findall(r"\w+|[^\w\s]+", r["cpp_forward"])) for r in sources)
    cpp = tokens["columns"]["cpp_forward"]
    assert cpp["rows"] == len(sources) and cpp["max"] == counts[-1]
    assert cpp["p50"] == counts[(len(counts) + 1) // 2 - 1]  # nearest rank
    assert main(["stats", str(out), "--tokenizer", str(test_tokenizer), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["tokens"] == tokens
    assert main(["stats", str(out), "--tokenizer", str(test_tokenizer)]) == 0
    assert f"cpp_forward    {len(sources):>6} " in capsys.readouterr().out


def test_views_command_rewrites_only_the_views(views_build, tmp_path, test_tokenizer, capsys):
    from warp_ir.cli import main

    folder = tmp_path / "copy"
    shutil.copytree(views_build.out_dir, folder)
    data_before = {p.name: p.read_bytes() for p in (folder / "data").glob("*.parquet")}
    mine = folder / "notes.txt"
    mine.write_text("mine")
    assert main(["views", str(folder), "--tokenizer", str(test_tokenizer), "--max-tokens", "3000"]) == 0
    printed = capsys.readouterr().out
    assert "chat-python-cuda-backward (python→cuda_backward):" in printed
    info = json.loads((folder / "build_info.json").read_text())["synthetic"]
    assert info["views"]["max_chars"] is None and info["views"]["max_tokens"] == 3000
    assert info["command"].endswith(" --views chat --tokenizer tokenizer.json --max-tokens 3000")
    assert info["command"].count("--views") == 1
    for entry in info["views"]["tasks"].values():
        assert "too_many_chars" not in entry["dropped"]
    chats = _rows(folder, "chat/python-cuda-backward")
    assert chats and max(c["tokens"] for c in chats) <= 3000
    dropped = info["views"]["tasks"]["python→cuda_backward"]["dropped"].get("too_many_tokens", 0)
    asked = [r for r in _rows(folder, "data") if r["cuda_backward"]]
    assert dropped == len(asked) - len(chats) > 0
    assert {p.name: p.read_bytes() for p in (folder / "data").glob("*.parquet")} == data_before
    assert mine.read_text() == "mine"
    assert "chats of more than 3000 tokens" in (folder / "README.md").read_text()


def test_a_rebuild_without_views_removes_them_and_foreign_files_block(views_build, tmp_path):
    from warp_ir.build import build
    from warp_ir.cli import main

    folder = tmp_path / "copy"
    shutil.copytree(views_build.out_dir, folder)
    foreign = folder / "chat" / "python-cpp-forward" / "train-00007-of-00009.parquet"
    foreign.write_bytes(b"not mine")
    assert main(["views", str(folder)]) == 2  # a Hub-named file warp-ir did not write
    foreign.unlink()
    build(folder, num_samples=30, seed=11)
    assert not list(folder.glob("chat/*/*.parquet"))
    card = (folder / "README.md").read_text()
    assert "chat-python-cpp-forward" not in card
    assert "views" not in json.loads((folder / "build_info.json").read_text())["synthetic"]


@pytest.mark.parametrize("argv, message", [
    (["views", "{tmp}/nothing"], "holds no synthetic warp-ir build"),
    (["views", "{tmp}", "--max-tokens", "10"], "--max-tokens counts tokens: it needs --tokenizer"),
    (["views", "{tmp}", "--tokenizer", "{tmp}/missing.json"], "tokenizer {tmp}/missing.json: no such file"),
    (["build", "--out", "{tmp}/o", "--max-chars", "10"], "--max-chars and --max-tokens limit the chat views"),
    (["build", "--out", "{tmp}/o", "--views", "html"], "the only view is chat"),
    (["build", "--out", "{tmp}/o", "--views", "chat", "--config", "real"], "chat views are written for the synthetic"),
    (["stats", "{tmp}", "--tokenizer", "{tmp}/t.json"], "tokenizer {tmp}/t.json: no such file"),
])
def test_bad_view_options_are_one_line(argv, message, tmp_path, capsys):
    from warp_ir.cli import main

    (tmp_path / "nothing").mkdir()
    assert main([a.replace("{tmp}", str(tmp_path)) for a in argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message.replace("{tmp}", str(tmp_path)) in err[0], err
    assert not (tmp_path / "o").exists()


def test_a_task_left_without_rows_is_no_configuration(views_build, tmp_path):
    """Every chat longer than 10 characters: no files, no configuration (an empty split would not load)."""
    import datasets

    from warp_ir.cli import main

    folder = tmp_path / "copy"
    shutil.copytree(views_build.out_dir, folder)
    assert main(["views", str(folder), "--max-chars", "10"]) == 0
    assert not list(folder.glob("chat/*/*.parquet"))
    info = json.loads((folder / "build_info.json").read_text())["synthetic"]
    from evaluation.tasks import TASKS

    rows = sum(views_build.rows.values())
    data = _rows(folder, "data")
    for name, entry in info["views"]["tasks"].items():
        without = sum(not r[TASKS[name].target] for r in data)  # no backward code: no question
        assert entry["dropped"] == {"too_many_chars": rows - without, **({"missing_code": without} if without else {})}
        assert not any(entry["rows"].values())
    card = (folder / "README.md").read_text()
    assert "config_name: chat-" not in card and "too many chars: " + str(rows) in card
    assert len(datasets.load_dataset(str(folder), split="train")) == views_build.rows["train"]
