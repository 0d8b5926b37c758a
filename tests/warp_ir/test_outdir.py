"""The output folder: who may write there, and a swap that a kill at any point leaves old or new, never mixed."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from warp_ir.lock import FolderLock, FolderLocked
from warp_ir.outdir import (
    OutputError,
    cache_dir,
    check_output,
    commit,
    make_cache,
    recover,
    staging_dir,
)
from warp_ir.swap import BACKUP_PREFIX


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


OLD = {"README.md": "old card", "data/train-00000-of-00002.parquet": "old a",
       "data/train-00001-of-00002.parquet": "old b", "data/test-00000-of-00001.parquet": "old t"}
NEW = {"README.md": "new card", "data/train-00000-of-00001.parquet": "new a",
       "data/test-00000-of-00001.parquet": "new t"}
USER = {"LICENSE": "mine", "data/notes.txt": "mine too"}


def make(tmp_path):
    out = tmp_path / "out"
    lay_out(out, OLD, USER)
    make_cache(out)
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


def test_a_journal_naming_other_files_is_refused(tmp_path):
    out = make(tmp_path)
    before = files(out)
    journal = {"version": 1, "new": ["README.md"], "old": ["../../etc/passwd", "LICENSE"]}
    (cache_dir(out) / "swap.json").write_text(json.dumps(journal))
    with pytest.raises(OutputError, match="cannot be trusted .not a swap journal"):
        recover(out)
    assert files(out) == before


def test_a_planted_journal_deletes_nothing(tmp_path):
    """A version-2 journal naming the build's own files as old, with made-up sizes and checksums."""
    out = make(tmp_path)
    before = files(out)
    old = {name: [3, "0" * 64] for name in ("README.md", *OLD)}
    (cache_dir(out) / "swap.json").write_text(json.dumps({"version": 2, "new": {}, "old": old, "backup": None,
                                                          "backed_up": {}}))
    with pytest.raises(OutputError, match="README.md changed since the build recorded it"):
        recover(out)
    assert files(out) == before


def test_a_stale_journal_of_another_build_deletes_nothing(tmp_path, monkeypatch):
    """The journal of a swap that was killed, then the folder rebuilt by hand: its files no longer match."""
    out = make(tmp_path)

    def killed(*args, **kwargs):
        raise Killed

    monkeypatch.setattr("warp_ir.outdir._apply", killed)
    with pytest.raises(Killed):
        commit(out, "synthetic", overwrite=False)
    monkeypatch.undo()
    (staging_dir(out) / "README.md").write_text("another build's card")  # staged file no longer the one recorded
    before = files(out)
    with pytest.raises(OutputError, match="README.md is not the file the build staged"):
        recover(out)
    assert files(out) == before


def test_the_working_folder_may_not_be_a_link(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "staging").mkdir(parents=True)
    (elsewhere / "staging" / "keep.txt").write_text("mine")
    out = tmp_path / "out"
    lay_out(out, OLD)
    cache_dir(out).symlink_to(elsewhere, target_is_directory=True)
    for call in (lambda: check_output(out, "synthetic", overwrite=False), lambda: make_cache(out),
                 lambda: recover(out)):
        with pytest.raises(OutputError, match="is a symbolic link"):
            call()
    assert (elsewhere / "staging" / "keep.txt").read_text() == "mine"


def test_a_link_inside_the_working_folder_is_refused(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "out"
    lay_out(out, OLD)
    make_cache(out)
    (cache_dir(out) / "staging").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(OutputError, match="staging is a symbolic link inside warp-ir's working folder"):
        check_output(out, "synthetic", overwrite=False)


def test_a_working_folder_warp_ir_did_not_make_is_refused(tmp_path):
    out = tmp_path / "out"
    lay_out(out, OLD)
    cache_dir(out).mkdir()
    (cache_dir(out) / "notes.txt").write_text("mine")
    with pytest.raises(OutputError, match="was not made by this warp-ir"):
        make_cache(out)
    assert (cache_dir(out) / "notes.txt").read_text() == "mine"


def test_a_linked_lock_file_is_refused(tmp_path):
    target = tmp_path / "precious.txt"
    target.write_text("do not truncate")
    out = tmp_path / "out"
    out.mkdir()
    (out / ".warp-ir.lock").symlink_to(target)
    with pytest.raises(FolderLocked, match="is a symbolic link"):
        FolderLock(out).acquire()
    assert target.read_text() == "do not truncate"


def test_overwrite_moves_replaced_user_files_to_a_backup(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    mine = {"README.md": "my readme", "figures/synthetic-families.png": "my figure", "notes.txt": "my notes"}
    for name, text in mine.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_text(text)
    make_cache(out)
    new = {"README.md": "card", "figures/synthetic-families.png": "png", "data/train-00000-of-00001.parquet": "rows"}
    lay_out(staging_dir(out), new)
    with pytest.raises(OutputError, match="pass --overwrite"):
        commit(out, "synthetic", overwrite=False)
    backup = commit(out, "synthetic", overwrite=True)
    assert backup is not None and backup.parent == out and backup.name.startswith(BACKUP_PREFIX)
    assert (backup / "README.md").read_text() == "my readme"
    assert (backup / "figures/synthetic-families.png").read_text() == "my figure"
    assert (out / "README.md").read_text() == "card" and (out / "notes.txt").read_text() == "my notes"
    assert not (backup / "notes.txt").exists()


def test_a_project_checkout_is_refused_even_with_overwrite(tmp_path):
    for marker in (".git", "pyproject.toml"):
        out = tmp_path / marker.strip(".")
        out.mkdir()
        (out / "README.md").write_text("my project")
        (out / marker).mkdir() if marker == ".git" else (out / marker).write_text("[project]\n")
        with pytest.raises(OutputError, match="looks like a project checkout"):
            check_output(out, "synthetic", overwrite=True)
    built = tmp_path / "built"
    lay_out(built, OLD)
    (built / ".git").mkdir()  # a warp-ir build kept in git: still a warp-ir build
    check_output(built, "synthetic", overwrite=False)


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


# the cases end to end, through the command line -------------------------------------------------------

def _tree(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_build_refuses_a_linked_working_folder(small_build, tmp_path, capsys):
    from warp_ir.cli import main

    out = tmp_path / "out"
    shutil.copytree(small_build.out_dir, out)
    elsewhere = tmp_path / "elsewhere"
    for name in ("staging/a.txt", "stats/synthetic/b.json", "keep.txt"):
        (elsewhere / name).parent.mkdir(parents=True, exist_ok=True)
        (elsewhere / name).write_text(name)
    before, built = _tree(elsewhere), _tree(out)
    cache_dir(out).symlink_to(elsewhere, target_is_directory=True)
    status = main(["build", "--out", str(out), "--num-samples", "5", "--seed", "1"])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and "is a symbolic link" in err
    assert _tree(elsewhere) == before  # nothing written there, nothing deleted there
    assert {k: v for k, v in _tree(out).items() if not k.startswith(".warp-ir-cache")} == built


def test_read_only_stats_never_deletes_the_build(small_build, tmp_path, capsys):
    """A journal planted in (or left stale in) the working folder naming the card and data files as old."""
    from warp_ir.cli import main

    out = tmp_path / "out"
    shutil.copytree(small_build.out_dir, out)
    make_cache(out)
    before = _tree(out)
    data = sorted(p.relative_to(out).as_posix() for p in out.glob("data/*.parquet"))
    for journal in ({"version": 1, "new": [], "old": ["README.md", *data]},
                    {"version": 2, "new": {}, "old": {n: [1, "0" * 64] for n in ["README.md", *data]},
                     "backup": None, "backed_up": {}}):
        (cache_dir(out) / "swap.json").write_text(json.dumps(journal))
        assert main(["stats", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "cannot be trusted" in err
        assert {k: v for k, v in _tree(out).items() if not k.endswith("swap.json")} == before


def test_overwrite_names_its_backup(small_build, tmp_path, capsys):
    from warp_ir.cli import main

    out = tmp_path / "home"
    out.mkdir()
    (out / "figures").mkdir()
    (out / "figures" / "synthetic-families.png").write_bytes(b"my own figure")
    (out / "README.md").write_text("my readme")
    (out / ".bashrc").write_text("alias x=y")
    assert main(["build", "--out", str(out), "--num-samples", "5", "--seed", "1"]) == 2  # not a build: refused
    capsys.readouterr()
    assert main(["build", "--out", str(out), "--num-samples", "5", "--seed", "1", "--overwrite"]) == 0
    printed = capsys.readouterr().out
    (backup,) = out.glob(BACKUP_PREFIX + "*")
    assert f"moved to {backup}" in printed
    assert (backup / "figures" / "synthetic-families.png").read_bytes() == b"my own figure"
    assert (backup / "README.md").read_text() == "my readme"
    assert (out / ".bashrc").read_text() == "alias x=y" and (out / "README.md").read_text() != "my readme"


def test_build_refuses_a_project_checkout(tmp_path, capsys):
    from warp_ir.cli import main

    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text("[project]\nname = 'mine'\n")
    (project / "README.md").write_text("my project")
    assert main(["build", "--out", str(project), "--num-samples", "5", "--overwrite"]) == 2
    assert "looks like a project checkout" in capsys.readouterr().err
    assert sorted(p.name for p in project.iterdir()) == ["README.md", "pyproject.toml"]
