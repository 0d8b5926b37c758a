"""warp-ir used carelessly, as a real user would: each numbered item of the safety issue, reproduced.

1 two builds into one folder; 2 a folder holding other files, ``--out ''``; 3 damaged, foreign,
tampered or planted resume files; 4 a template with a Jinja syntax error; 5 ``--split-ratios nan``;
6 tracebacks instead of one-line errors; 7 ``extract`` of a target that hangs; 8 a template that
renders invalid Python; 9 a kill between the data and the card, a failed config check leaving a
cache; 10 small ones. Then a fuzz-style run of bad command lines through the CLI in-process.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from generator.programs.templates import TEMPLATES_DIR
from warp_ir.build import build
from warp_ir.cli import main
from warp_ir.lock import LOCK_NAME, FolderLock
from warp_ir.stats import split_files

ARGS = {"num_samples": 40, "seed": 3, "shard_size": 10}
CLI_ARGS = ["--num-samples", "40", "--seed", "3", "--shard-size", "10"]


def cli(*args: str, env: dict | None = None, cwd: Path | None = None,
        timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "warp_ir.cli", *args], capture_output=True, text=True, check=False,
                          timeout=timeout, env={**os.environ, **(env or {})}, cwd=cwd)


def error_lines(stderr: str) -> list[str]:
    return [ln for ln in stderr.splitlines() if ln.strip() and not ln.startswith("Warp")]


def assert_one_line_error(proc: subprocess.CompletedProcess, message: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = error_lines(proc.stderr)
    assert len(lines) == 1 and message in lines[0], proc.stderr


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def rows(folder: Path) -> dict[str, list[dict]]:
    return {split: [r for p in paths for r in pq.read_table(p).to_pylist()]
            for split, paths in split_files(folder).items()}


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """An uninterrupted build of ARGS."""
    out = tmp_path_factory.mktemp("safety") / "reference"
    build(out, **ARGS)
    return out


# 1. two builds into one folder ------------------------------------------------------------------

def test_second_build_into_a_locked_folder_fails_at_once_naming_the_holder(reference, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(reference, out)
    before = snapshot(out)
    with FolderLock(out):
        proc = cli("build", "--out", str(out), *CLI_ARGS)
    assert_one_line_error(proc, f"another warp-ir build (pid {os.getpid()}) is using {out}")
    assert snapshot(out) == before


def test_two_builds_at_once_one_wins_and_its_card_matches_its_data(tmp_path):
    out = tmp_path / "out"
    first = subprocess.Popen([sys.executable, "-m", "warp_ir.cli", "build", "--out", str(out), "--num-samples", "300"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not (out / LOCK_NAME).exists() and time.time() < deadline and first.poll() is None:
        time.sleep(0.02)
    second = cli("build", "--out", str(out), "--num-samples", "30")
    assert first.wait(timeout=300) == 0
    assert_one_line_error(second, f"(pid {first.pid})")
    info = json.loads((out / "build_info.json").read_text())["synthetic"]
    assert info["config"]["num_samples"] == 300
    total = sum(len(r) for r in rows(out).values())
    assert total > 250 and f"| rows | {total} |" in (out / "README.md").read_text()
    assert not (out / LOCK_NAME).exists()


def test_stale_lock_of_a_killed_build_is_recovered(reference, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / LOCK_NAME).write_text("999999 build\n")  # left by a killed build: the file, not the lock
    build(out, **ARGS)
    assert rows(out) == rows(reference) and not (out / LOCK_NAME).exists()


# 2. folders holding other files ------------------------------------------------------------------

def test_folder_with_other_files_is_refused_untouched(tmp_path):
    project = tmp_path / "myproject"
    (project / "data").mkdir(parents=True)
    (project / "README.md").write_text("# my project\n")
    (project / "data" / "train-mine.parquet").write_bytes(b"my data")
    before = snapshot(project)
    proc = cli("build", "--out", str(project), "--num-samples", "5")
    assert_one_line_error(proc, "is not empty and not a warp-ir build (it holds README.md, data)")
    assert snapshot(project) == before


def test_empty_out_is_refused_and_the_current_folder_untouched(tmp_path):
    (tmp_path / "README.md").write_text("# cwd readme\n")
    before = snapshot(tmp_path)
    proc = cli("build", "--out", "", "--num-samples", "5", cwd=tmp_path)
    assert_one_line_error(proc, "argument --out: needs a folder name")
    assert snapshot(tmp_path) == before


def test_overwrite_replaces_only_what_a_build_writes(reference, tmp_path):
    project = tmp_path / "myproject"
    (project / "data").mkdir(parents=True)
    (project / "README.md").write_text("# my project\n")
    (project / "notes.txt").write_text("keep me")
    (project / "data" / "mine.csv").write_text("a,b\n")
    build(project, overwrite=True, **ARGS)
    assert (project / "notes.txt").read_text() == "keep me" and (project / "data" / "mine.csv").read_text() == "a,b\n"
    assert (project / "README.md").read_bytes() == (reference / "README.md").read_bytes()
    assert rows(project) == rows(reference)


def test_rebuild_removes_the_old_builds_files_and_nothing_else(reference, tmp_path):
    out = tmp_path / "out"
    build(out, num_proc=2, **ARGS)  # two files per split
    assert len(split_files(out)["train"]) == 2
    (out / "LICENSE").write_text("mine")
    build(out, **ARGS)  # one file per split: the old build's second file goes, the user's file stays
    assert snapshot(out) == {**snapshot(reference), "LICENSE": b"mine"}


def test_a_users_parquet_beside_the_build_is_kept_and_not_loaded(reference, tmp_path):
    import datasets

    out = tmp_path / "out"
    shutil.copytree(reference, out)
    mine = out / "data" / "train-mine.parquet"
    shutil.copy(split_files(out)["train"][0], mine)  # rows of the right schema: they would load if the card let them
    build(out, **ARGS)
    assert mine.read_bytes() == split_files(reference)["train"][0].read_bytes()
    loaded = datasets.load_dataset(str(out), split="train")
    assert loaded.num_rows == len(rows(reference)["train"])  # the card's data_files name only the build's files
    assert rows(out) == rows(reference)  # and warp-ir's own readers (stats, card) skip it too


# 3. resume files -------------------------------------------------------------------------------

def test_damaged_foreign_tampered_and_planted_resume_files(reference, tmp_path, caplog):
    out = tmp_path / "out"
    build(out, keep_cache=True, **ARGS)
    shards = next((out / ".warp-ir-cache" / "shards").iterdir())
    train = sorted(shards.glob("train-*.parquet"))
    assert len(train) >= 4
    train[0].write_bytes(train[0].read_bytes()[:1000])  # truncated
    train[1].write_bytes(b"garbage" * 50)  # garbage
    shutil.copy(train[3], train[2])  # a valid shard copied over another, with its manifest
    shutil.copy(train[3].with_suffix(".json"), train[2].with_suffix(".json"))
    marker = tmp_path / "code-ran"
    planted = f"cos\nsystem\n(S'touch {marker}'\ntR.".encode()  # a pickle that runs a command when loaded
    (shards / "train-00003.pkl").write_bytes(planted)
    (shards / "train-00003.parquet").write_bytes(planted)
    with caplog.at_level(logging.WARNING, logger="generator.codegen.resume"):
        build(out, keep_cache=True, **ARGS)
    for damaged in train:
        assert f"discarding saved shard {damaged}" in caplog.text
    assert not marker.exists()
    assert rows(out) == rows(reference)
    assert (out / "README.md").read_bytes() == (reference / "README.md").read_bytes()


# 4 and 8. broken templates ---------------------------------------------------------------------

BROKEN = {
    "jinja_syntax": "{#- warp-ir\nfamily: broken\n-#}\nimport warp as wp\n{% if %}\n",
    "bad_header": "{#- warp-ir\nfamily: [unclosed\n-#}\nimport warp as wp\n",
    "invalid_python": ("{#- warp-ir\nfamily: broken\n-#}\nimport warp as wp\n\n@wp.kernel\n"
                       "def {{ rng.kernel_name() }}(a: wp.array(dtype=float):\n"
                       "    a[wp.tid()] = {{ rng.uniform(1, 9) }}\n"),
}


@pytest.fixture(scope="module")
def broken_templates(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("templates") / "templates"
    shutil.copytree(TEMPLATES_DIR, root)
    (root / "broken").mkdir()
    for name, text in BROKEN.items():
        (root / "broken" / f"{name}.py.j2").write_text(text)
    return {"WARP_IR_TEMPLATES": str(root)}


def test_broken_template_does_not_affect_builds_without_its_family(broken_templates, tmp_path):
    proc = cli("build", "--out", str(tmp_path / "o"), "--families", "arithmetic", "--num-samples", "20",
               env=broken_templates)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "0 rejected" in proc.stdout
    known = cli("build", "--out", str(tmp_path / "o2"), "--families", "bogus", env=broken_templates)
    assert_one_line_error(known, "broken")  # the broken templates were there, with their family


def test_broken_templates_are_rejections_grouped_by_reason(broken_templates, tmp_path):
    out = tmp_path / "o"
    proc = cli("build", "--out", str(out), "--families", "arithmetic,broken", "--num-samples", "30",
               env=broken_templates)
    assert proc.returncode == 0, proc.stderr
    info = json.loads((out / "build_info.json").read_text())["synthetic"]
    rejected = info["rejected"]
    by_template = {t: sum(n for r, n in rejected.items() if f"broken/{t}:" in r) for t in BROKEN}
    assert all(n > 1 for n in by_template.values()), rejected  # every draw of each broken template, grouped
    assert len([r for r in rejected if "broken/" in r]) == 3  # one reason per template, no per-program hash
    assert any("renders invalid Python: SyntaxError" in r for r in rejected)
    assert any("Jinja syntax error" in r for r in rejected) and any("bad template header" in r for r in rejected)
    # not hidden among duplicates: each broken template gets about 1/6 of the draws (2 families, 3 templates)
    assert by_template["invalid_python"] > info["plan"]["draws"] / 12
    assert all("program_" not in r for r in rejected)
    card = (out / "README.md").read_text()
    assert "renders invalid Python" in card


def test_check_templates_reports_broken_templates(broken_templates):
    proc = cli("check-templates", "--families", "broken", "-n", "3", env=broken_templates)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert all(f"FAIL broken/{name}" in proc.stdout for name in BROKEN)
    assert "Jinja syntax error" in proc.stdout and "bad template header" in proc.stdout
    assert "3 x SyntaxError" in proc.stdout and "program_" not in proc.stdout  # grouped, no per-program file name


# 5, 6, 7, 10: one-line errors -------------------------------------------------------------------

@pytest.fixture
def places(tmp_path) -> dict[str, str]:
    (tmp_path / "file.txt").write_text("x")
    (tmp_path / "dir").mkdir()
    (tmp_path / "exits.py").write_text("import sys\nsys.exit(0)\n")
    (tmp_path / "hangs.py").write_text("import warp as wp\nwhile True:\n    pass\n")
    corrupt = tmp_path / "corrupt"
    (corrupt / "data").mkdir(parents=True)
    (corrupt / "data" / "train-00000-of-00001.parquet").write_bytes(b"PAR1 not really")
    return {"tmp": str(tmp_path), "file": str(tmp_path / "file.txt"), "dir": str(tmp_path / "dir"),
            "exits": str(tmp_path / "exits.py"), "hangs": str(tmp_path / "hangs.py"), "corrupt": str(corrupt)}


@pytest.mark.parametrize("args, message", [
    (["build", "--out", "{tmp}/o", "--split-ratios", "nan,0,0"], "must be three non-negative numbers that sum to 1"),
    (["build", "--out", "{file}", "--num-samples", "5"], "is a file, not a folder"),
    (["build", "--out", "/proc/warp-ir-test/out", "--num-samples", "5"], "cannot create /proc/warp-ir-test/out"),
    (["build", "--out", "{file}/sub", "--num-samples", "5"], "Not a directory"),
    (["extract", "{exits}", "--out", "{dir}"], "is a directory: name a .jsonl file"),
    (["extract", "{exits}"], "called sys.exit(0) while being imported"),
    (["extract", "{hangs}", "--timeout", "3"], "did not finish importing within 3 s"),
    (["stats", "{corrupt}"], "cannot read"),
    (["build", "--out", "{tmp}/o", "--families", ""], "argument --families: needs at least one name"),
    (["build", "--out", "{tmp}/o", "--address", "auto"], "--address names a Ray cluster: it needs --engine ray"),
    (["extract", "{dir}"], "is a directory: pass a .py file or an importable module name"),
    (["build", "--out", "{tmp}/o", "--num-samples", "many"], "argument --num-samples: must be a whole number"),
])
def test_one_line_errors(places, args, message):
    proc = cli(*[a.format(**places) for a in args], timeout=120)
    assert_one_line_error(proc, message.format(**places))
    assert "_positive" not in proc.stderr


def test_publish_without_network_is_one_line(reference):
    proc = cli("publish", str(reference), "--repo", "org/x",
               env={"HF_TOKEN": "hf_fake", "HF_ENDPOINT": "http://127.0.0.1:9", "HF_HUB_OFFLINE": "0"})
    assert_one_line_error(proc, "cannot reach http://127.0.0.1:9")


def test_library_config_rejects_nan_ratios():
    from warp_ir_dataset import WarpIRConfig

    with pytest.raises(ValueError, match="split ratios must be non-negative and sum to 1"):
        WarpIRConfig(split_ratios={"train": float("nan"), "validation": 0.0, "test": 0.0})


# 9. kills and failed checks leave the folder as it was ----------------------------------------------

def test_kill_before_the_swap_leaves_the_old_build_whole(reference, tmp_path, monkeypatch):
    out = tmp_path / "out"
    shutil.copytree(reference, out)
    before = snapshot(out)

    class Killed(BaseException):
        pass

    def killed(*args, **kwargs):
        raise Killed

    monkeypatch.setattr("warp_ir.build.commit", killed)  # new data, info and card staged; killed before the swap
    with pytest.raises(Killed):
        build(out, **{**ARGS, "seed": 4})
    assert {k: v for k, v in snapshot(out).items() if not k.startswith(".warp-ir-cache")} == before
    monkeypatch.undo()
    build(out, **{**ARGS, "seed": 4})
    assert json.loads((out / "build_info.json").read_text())["synthetic"]["config"]["seed"] == 4
    assert rows(out) != rows(reference)


def test_failed_config_check_writes_nothing(tmp_path):
    proc = cli("build", "--out", str(tmp_path / "new"), "--families", "arithmetic,bogus")
    assert_one_line_error(proc, "unknown families: bogus")
    assert not (tmp_path / "new").exists()


# fuzz: bad command lines in-process -------------------------------------------------------------

BAD_COMMAND_LINES = [
    [], ["frobnicate"], ["-v"], ["build"], ["build", "--out"], ["build", "--out", "{tmp}/o", "--bogus"],
    ["build", "--out", "{tmp}/o", "--num-samples", "0"], ["build", "--out", "{tmp}/o", "--num-samples", "-5"],
    ["build", "--out", "{tmp}/o", "--num-samples", "1.5"], ["build", "--out", "{tmp}/o", "--seed", "abc"],
    ["build", "--out", "{tmp}/o", "--families", ",,,"], ["build", "--out", "{tmp}/o", "--families", "bogus"],
    ["build", "--out", "{tmp}/o", "--targets", ""], ["build", "--out", "{tmp}/o", "--targets", "metal"],
    ["build", "--out", "{tmp}/o", "--validate", "everything"], ["build", "--out", "{tmp}/o", "--num-proc", "0"],
    ["build", "--out", "{tmp}/o", "--shard-size", "x"], ["build", "--out", "{tmp}/o", "--split-ratios", "1,1,1"],
    ["build", "--out", "{tmp}/o", "--split-ratios", "-1,1,1"], ["build", "--out", "{tmp}/o", "--split-ratios", "a,b,c"],
    ["build", "--out", "{tmp}/o", "--split-ratios", "0.5,0.5"],
    ["build", "--out", "{tmp}/o", "--split-ratios", "inf,0,0"],
    ["build", "--out", "{tmp}/o", "--split-ratios", "nan,0,0"], ["build", "--out", "{tmp}/o", "--config", "nope"],
    ["build", "--out", "{tmp}/o", "--engine", "spark"], ["build", "--out", "{tmp}/o", "--address", "auto"],
    ["build", "--out", "{tmp}/o", "--config", "real", "--engine", "ray"],
    ["build", "--out", "{tmp}/o", "--config", "real", "--packages", "no-such-warp-pkg"],
    ["build", "--out", "{tmp}/o", "--config", "real", "--allow-license", "not a license"],
    ["build", "--out", "{tmp}/o", "--packages", ""], ["build", "--out", ""], ["build", "--out", "{file}"],
    ["build", "--out", "/proc/warp-ir-test/o"], ["build", "--out", "{foreign}"], ["extract"],
    ["extract", "does/not/exist.py"], ["extract", "{dir}"], ["extract", "{file}", "--targets", "metal"],
    ["extract", "{file}", "--timeout", "-1"], ["extract", "{file}", "--timeout", "abc"],
    ["extract", "{file}", "--out", "{dir}"], ["stats"], ["stats", "{tmp}/missing"], ["stats", "{dir}"],
    ["stats", "{corrupt}"], ["stats", "{tmp}", "--config", "bogus"], ["publish", "{tmp}"],
    ["publish", "{tmp}", "--repo", "not a repo"], ["publish", "{dir}", "--repo", "org/x"],
    ["check-templates", "-n", "0"], ["check-templates", "--families", "bogus"], ["check-templates", "--families", ""],
]


def test_fuzz_bad_command_lines_never_print_a_traceback(places, capfd):
    foreign = Path(places["tmp"]) / "foreign"
    foreign.mkdir()
    (foreign / "README.md").write_text("mine")
    places = {**places, "foreign": str(foreign)}
    assert len(BAD_COMMAND_LINES) >= 40
    for argv in BAD_COMMAND_LINES:
        status = main([a.format(**places) for a in argv])
        out, err = capfd.readouterr()
        assert status == 2, (argv, err)
        assert "Traceback" not in err + out, (argv, err)
        lines = error_lines(err)
        assert len(lines) == 1 and "error" in lines[0], (argv, err)
    assert not (Path(places["tmp"]) / "o").exists() and snapshot(foreign) == {"README.md": b"mine"}
