"""The local engine's compilation progress: programs compiled of those planned, read from the shards' count files."""

from __future__ import annotations

import json
import re

import datasets
import pytest

import generator.codegen.watch as watch_module
from generator.codegen.watch import watch_shards


@pytest.fixture()
def shown(monkeypatch, progress_lines):
    """The progress logger's INFO lines, collected, in plain lines (not a terminal)."""
    monkeypatch.setattr(watch_module, "POLL_S", 0.01)
    return progress_lines(False)


def counts(rows: int, rejected: dict[str, int]) -> str:
    return json.dumps({"rows": rows, "by_family": {"arithmetic": rows}, "rejected": rejected, "examples": {}})


def test_compiled_programs_are_counted_from_the_count_files(tmp_path, shown):
    assert not datasets.utils.are_progress_bars_disabled()
    with watch_shards(tmp_path):
        assert datasets.utils.are_progress_bars_disabled()  # no "Generating train split" bar beside ours
        (tmp_path / "plan.json").write_text(json.dumps({"kept": 250, "planned": {"train": 200, "test": 50}}))
        (tmp_path / "train-00000.json").write_text(counts(98, {"arithmetic: timeout": 2}))
        (tmp_path / "train-00001.json").write_text(counts(100, {}))
        (tmp_path / "test-00000.json").write_text(counts(50, {}))
    assert not datasets.utils.are_progress_bars_disabled()  # as they were
    assert re.fullmatch(r"compiled 250 of 250 programs in \d+\.\d s \(248 rows, 2 rejected\)", shown[-1]), shown


def test_nothing_is_shown_before_a_plan_nor_after_a_failure(tmp_path, shown):
    with watch_shards(tmp_path):  # the real configuration: no plan.json, no count files
        pass
    with pytest.raises(RuntimeError), watch_shards(tmp_path / "failed"):
        (tmp_path / "failed").mkdir()
        (tmp_path / "failed" / "plan.json").write_text(json.dumps({"kept": 10}))
        (tmp_path / "failed" / "train-00000.json").write_text(counts(5, {}))
        raise RuntimeError("a shard failed")
    assert not any(ln.startswith("compiled") for ln in shown), shown
