"""The warp-ir command line: extract on a user file, stats, and one-line errors for user mistakes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from common.errors import ConfigError
from warp_ir.cli import main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "warp_ir.cli", *args], capture_output=True, text=True,
                          timeout=300, check=False)


def test_extract_user_file(tmp_path):
    out = tmp_path / "k.jsonl"
    proc = run_cli("extract", str(FIXTURES / "prototype_kernels.py"), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    by_name = {r["kernel_name"]: r for r in rows}
    assert len(rows) == 9
    assert "wp::adj_sin(" in by_name["trig_kernel"]["cuda_backward"]
    assert "wp::atomic_add(" in by_name["atomic_kernel"]["cpp_forward"]


def test_extract_module_name_to_stdout(capsys):
    assert main(["extract", "tests.fixtures.prototype_kernels", "--targets", "cpu"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 9 and all(r["cuda_forward"] is None and r["cpp_forward"] for r in rows)


@pytest.mark.parametrize("args, message", [
    (["extract", "does/not/exist.py"], "no such file: does/not/exist.py"),
    (["extract", "json"], "no Warp kernels found in json"),
    (["extract", "no_such_module_xyz"], "cannot import no_such_module_xyz"),
    (["build", "--out", "{tmp}/o", "--families", "arithmetic,bogus"], "unknown families: bogus"),
    (["build", "--out", "{tmp}/o", "--num-samples", "0"], "must be at least 1"),
    (["build", "--out", "{tmp}/o", "--targets", "cpu,metal"], "targets must be among"),
    (["build", "--out", "{tmp}/o", "--config", "real", "--packages", "warp-lang,no-such-warp-pkg"],
     "package 'no-such-warp-pkg' is not installed: pip install no-such-warp-pkg (or leave it out of --packages)"),
    (["build", "--out", "{tmp}/o", "--config", "real", "--test-packages", "no-such-warp-pkg"],
     "package 'no-such-warp-pkg' is not installed"),
    (["build", "--out", "{tmp}/o", "--config", "real", "--allow-license", "GPL 3"], "not an SPDX license identifier"),
    (["build", "--out", "{tmp}/o", "--config", "real", "--package-timeout", "0"], "must be a number of seconds"),
    (["build", "--out", "{tmp}/o", "--packages", "warp-lang", "--allow-license", "MPL-2.0"],
     "--packages, --allow-license: only for --config real"),
    (["build", "--out", "{tmp}/o", "--fem-rows"], "--fem-rows: only for --config real"),
    (["build", "--out", "{tmp}/o", "--rows-per-file", "100"], "--rows-per-file: only for --engine ray"),
    (["build", "--out", "{tmp}/o", "--engine", "ray", "--rows-per-file", "0"], "--rows-per-file: must be at least 1"),
    (["build", "--out", "memory://bucket/o"], "is a URL: only --engine ray writes there"),
    (["build", "--out", "file:///tmp/o", "--engine", "ray", "--views", "chat"],
     "without --views, --tokenizer or --baseline-rows"),
    (["stats", "{tmp}"], "no Parquet files"),
    (["publish", "{tmp}", "--repo", "org/x"], "not a warp-ir build"),
    (["check-templates", "--families", "bogus"], "unknown families: bogus"),
])
def test_user_mistakes_are_one_line_errors(tmp_path, args, message):
    proc = run_cli(*[a.replace("{tmp}", str(tmp_path)) for a in args])
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip() and not ln.startswith("Warp")]
    assert message in proc.stderr and len([ln for ln in lines if "error" in ln]) == 1


def test_extract_syntax_error_is_one_line(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import warp as wp\ndef oops(:\n")
    proc = run_cli("extract", str(bad))
    assert proc.returncode == 2 and "SyntaxError" in proc.stderr and "Traceback" not in proc.stderr


def test_stats_command(small_build, capsys):
    assert main(["stats", str(small_build.out_dir), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["total_rows"] == sum(small_build.rows.values())
    assert 0 < stats["builtin_coverage"]["fraction"] <= 1
    assert "sin" not in stats["builtin_coverage"]["never_used"] or "trigonometry" not in stats["families"]
    assert main(["stats", str(small_build.out_dir)]) == 0
    assert "builtin coverage:" in capsys.readouterr().out


# issue 23, case D: big and busy builds said out loud -------------------------------------------------------------

LONG = "9" * 5001  # Python's int() refuses more than 4,300 digits, with a message of its own


@pytest.mark.parametrize("args, message", [
    (["--num-samples", "10000000000"], "argument --num-samples: must be at most 1,000,000,000 (a plan of more would "
                                       "hold over 1 TB in memory), got '10000000000'"),
    (["--num-samples", str(10**23)], "argument --num-samples: must be at most 1,000,000,000"),
    (["--num-samples", LONG], "must be at most 1,000,000,000 (a plan of more would hold over 1 TB in memory), "
                              "got a 5,001-digit number"),
    (["--seed", LONG], "argument --seed: must be a whole number of at most 20 digits, got a 5,001-digit number"),
    (["--seed", "-" + LONG], "argument --seed: must be a whole number of at most 20 digits, got a 5,001-digit number"),
    (["--seed", "x" + LONG], "argument --seed: must be a whole number, got 'x99999999999999999999999999999'... "
                             "(5,002 characters)"),
    (["--num-proc", LONG], "argument --num-proc: must be a whole number of at most 20 digits"),
    (["--shard-size", "-" + "9" * 30], "argument --shard-size: must be a whole number of at most 20 digits"),
    (["--num-proc", "0"], "argument --num-proc: must be at least 1, got '0'"),
    (["--split-ratios", "1," * 3000], "got '1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,'... (6,000 characters)"),
    (["--twin-threshold", LONG], "must be a number from 0.5 to 1, got a 5,001-digit number"),
    (["--config", "x" * 5000], "invalid choice: 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'... (5,000 characters)"),
])
def test_long_numbers_are_never_echoed_whole(tmp_path, capsys, args, message):
    assert main(["build", "--out", str(tmp_path / "o"), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.splitlines()) == 1 and len(err) < 300, err
    assert "4300" not in err and "int_max_str_digits" not in err


@pytest.fixture
def fake_build(monkeypatch):
    """``warp_ir.build.build`` that records what it was asked and stops there (a one-line error, a mistake)."""
    asked: dict = {}

    def build(out, **kwargs):
        asked.update(kwargs)
        raise ConfigError("stopped by the test")

    monkeypatch.setattr("warp_ir.build.build", build)
    return asked


def test_num_proc_above_the_cores_is_capped_with_a_warning(tmp_path, capsys, monkeypatch, fake_build):
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1})
    assert main(["build", "--out", str(tmp_path / "o"), "--num-proc", "64", "--num-samples", "20"]) == 2
    err = capsys.readouterr().err
    assert fake_build["num_proc"] == 2
    assert "warp-ir: warning: --num-proc 64 is more than the 2 CPU core(s) this process may use: using 2" in err
    assert main(["build", "--out", str(tmp_path / "o"), "--num-proc", "2"]) == 2
    assert fake_build["num_proc"] == 2 and "warning" not in capsys.readouterr().err


def test_a_build_that_would_plan_for_days_says_so_first(tmp_path, capsys, fake_build):
    assert main(["build", "--out", str(tmp_path / "o"), "--num-samples", "100000000"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == ("warp-ir: warning: at about 200 programs/s, planning 100,000,000 programs alone would take "
                      "about 5.8 days and hold about 100 GB in memory, before any is compiled (Ctrl-C stops it)")
    assert fake_build["num_samples"] == 100_000_000
    assert main(["build", "--out", str(tmp_path / "o"), "--num-samples", "1000000"]) == 2  # 1.4 hours: no warning
    assert "warning" not in capsys.readouterr().err


def test_planning_progress_is_shown_without_verbose(tmp_path):
    proc = run_cli("build", "--out", str(tmp_path / "o"), "--num-samples", "5", "--families", "arithmetic")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert "planning: drawing 5 programs from 1 family" in lines
    assert any(re.fullmatch(r"planned 5 of 5 programs in \d+\.\d s \(\d+ drawn\)", ln) for ln in lines), lines
    assert any(re.fullmatch(r"compiled 5 of 5 programs in \d+\.\d s \(5 rows, 0 rejected\)", ln) for ln in lines)
    assert not any("INFO" in ln for ln in lines)  # only the progress lines: the rest stays at WARNING
    assert "Generating" not in proc.stderr and "\r" not in proc.stderr  # no datasets bar in a pipe
    assert proc.stdout.startswith(f"wrote {tmp_path / 'o'} (synthetic): ")  # the last line: rows, time, path
    quiet = run_cli("--quiet", "build", "--out", str(tmp_path / "q"), "--num-samples", "5", "--families", "arithmetic")
    assert quiet.returncode == 0, quiet.stderr
    assert not any(ln.startswith(("planning", "planned", "compil")) for ln in quiet.stderr.splitlines()), quiet.stderr
    assert quiet.stdout.startswith(f"wrote {tmp_path / 'q'} (synthetic): train ")


def test_nothing_renderable_is_a_one_line_error_naming_the_template(tmp_path):
    """Issue 23, case B: was "cannot reshape array of size 0 into shape (0,newaxis,6)"."""
    root = tmp_path / "templates"
    (root / "broken").mkdir(parents=True)
    (root / "broken" / "syntax.py.j2").write_text("{#- warp-ir\nfamily: broken\n-#}\nimport warp as wp\n{% if %}\n")
    proc = subprocess.run([sys.executable, "-m", "warp_ir.cli", "build", "--out", str(tmp_path / "o"),
                           "--families", "broken", "--num-samples", "5"], capture_output=True, text=True,
                          timeout=300, check=False, env={**os.environ, "WARP_IR_TEMPLATES": str(root)})
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if "error" in ln]
    assert len(errors) == 1 and errors[0].startswith("warp-ir: error: no program could be rendered"), proc.stderr
    assert "broken/syntax: Jinja syntax error" in errors[0] and "reshape" not in proc.stderr


def test_unseen_templates_are_checked_in_one_line(tmp_path, capsys):
    """An unknown template, or one outside the families built, is a one-line error (exit 2), not a traceback."""
    assert main(["build", "--out", str(tmp_path / "o"), "--unseen-templates", "noise/nope"]) == 2
    err = capsys.readouterr().err
    assert "unknown templates for the unseen split: noise/nope" in err and len(err.splitlines()) == 1, err
    assert main(["build", "--out", str(tmp_path / "o"), "--families", "noise",
                 "--unseen-templates", "physics/sph"]) == 2
    err = capsys.readouterr().err
    assert "outside the selected families: physics/sph" in err and len(err.splitlines()) == 1, err
    assert main(["build", "--out", str(tmp_path / "o"), "--unseen-templates", ","]) == 2
    assert "needs template names" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_unseen_templates_reach_the_build(tmp_path, fake_build):
    assert main(["build", "--out", str(tmp_path / "o"), "--unseen-templates", "none"]) == 2
    assert fake_build["unseen_templates"] == ()
    assert main(["build", "--out", str(tmp_path / "o"), "--unseen-templates", "noise/curl,physics/sph"]) == 2
    assert fake_build["unseen_templates"] == ("noise/curl", "physics/sph")
