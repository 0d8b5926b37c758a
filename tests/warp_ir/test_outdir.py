"""The output folder: who may write there, and a swap that a kill at any point leaves old or new, never mixed."""

from __future__ import annotations

import json
import os

import pytest

from warp_ir.outdir import OutputError, cache_dir, check_output, commit, recover, staging_dir


class Killed(BaseException):
    """Stands for SIGKILL at one point of the swap."""


def files(folder):
    """Every file under ``folder`` except warp-ir's own working files, with its content."""
    return {p.relative_to(folder).as_posix(): p.read_text() for p in sorted(folder.rglob("*"))
            if p.is_file() and ".warp-ir-cache" not in p.parts}


def lay_out(folder, build_files, extra=None):
    """Write a folder as a warp-ir build that wrote ``build_files`` (name -> content), plus ``extra`` files."""
    info = {"synthetic": {"builder_version": "0.2.0", "files": sorted(n for n in build_files if "/" in n)}}
    for name, text in {**build_files, **(extra or {})}.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    (folder / "build_info.json").write_text(json.dumps(info))


OLD = {"README.md": "old card", "data/train-00000-of-00002.parquet": "old a", "data/train-00001-of-00002.parquet": "old b",
       "data/test-00000-of-00001.parquet": "old t"}
NEW = {"README.md": "new card", "data/train-00000-of-00001.parquet": "new a", "data/test-00000-of-00001.parquet": "new t"}
USER = {"LICENSE": "mine", "data/notes.txt": "mine too"}


def make(tmp_path):
    out = tmp_path / "out"
    lay_out(out, OLD, USER)
    staged = staging_dir(out)
    lay_out(staged, NEW)
    (staged / "build_info.json").write_text(json.dumps({"synthetic": {"builder_version": "0.2.0", "files": sorted(
        n for n in NEW if "/" in n), "new": True}}))
    return out


def test_commit_replaces_only_what_the_old_build_wrote(tmp_path):
    out = make(tmp_path)
    expected_new = {**NEW, **USER, "build_info.json": (staging_dir(out) / "build_info.json").read_text()}
    commit(out, "synthetic", overwrite=False)
    assert files(out) == expected_new  # old train-0000x-of-00002 gone, user files untouched
    assert not staging_dir(out).exists() and not (cache_dir(out) / "swap.json").exists()


def test_a_kill_at_any_point_of_the_swap_leaves_old_or_new(tmp_path, monkeypatch):
    reference = make(tmp_path / "ref")
    old_files = files(reference)
    new_build_info = (staging_dir(reference) / "build_info.json").read_text()
    new_files = {**NEW, **USER, "build_info.json": new_build_info}
    real_replace = os.replace
    outcomes = set()
    for kill_at in range(12):
        out = make(tmp_path / f"k{kill_at}")
        calls = []

        def replace(src, dst, calls=calls, kill_at=kill_at):
            if len(calls) == kill_at:
                raise Killed
            calls.append(dst)
            real_replace(src, dst)

        monkeypatch.setattr(os, "replace", replace)
        try:
            commit(out, "synthetic", overwrite=False)
            killed = False
        except Killed:
            killed = True
        finally:
            monkeypatch.setattr(os, "replace", real_replace)
        recover(out)  # what the next warp-ir command on the folder does first
        after = files(out)
        assert after in (old_files, new_files), (kill_at, after)
        outcomes.add(("old" if after == old_files else "new", killed))
    assert outcomes == {("old", True), ("new", True), ("new", False)}


def test_a_journal_naming_other_files_is_ignored(tmp_path):
    out = make(tmp_path)
    before = files(out)
    (cache_dir(out) / "swap.json").write_text(json.dumps({"version": 1, "new": ["README.md"], "old": ["../../etc/passwd",
                                                                                                        "LICENSE"]}))
    assert recover(out) is False
    assert files(out) == before and not (cache_dir(out) / "swap.json").exists()


def test_foreign_folder_needs_overwrite(tmp_path):
    out = tmp_path / "project"
    out.mkdir()
    (out / "README.md").write_text("my project")
    with pytest.raises(OutputError, match="not empty and not a warp-ir build"):
        check_output(out, "synthetic", overwrite=False)
    check_output(out, "synthetic", overwrite=True)
    check_output(tmp_path / "new", "synthetic", overwrite=False)  # missing: fine


def test_unrecorded_data_file_in_a_build_folder_is_refused(tmp_path):
    out = tmp_path / "out"
    lay_out(out, OLD)
    (out / "data" / "validation-00000-of-00001.parquet").write_text("someone else's")
    with pytest.raises(OutputError, match="validation-00000-of-00001.parquet was not written by the warp-ir build"):
        check_output(out, "synthetic", overwrite=False)


def test_a_file_named_as_output_folder_is_refused(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(OutputError, match="is a file, not a folder"):
        check_output(tmp_path / "f", "synthetic", overwrite=False)
