"""The warp-ir command line: extract on a user file, stats, and one-line errors for user mistakes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

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
    (["build", "--out", "{tmp}/o", "--rows-per-file", "100"], "--rows-per-file: only for --engine ray"),
    (["build", "--out", "{tmp}/o", "--engine", "ray", "--rows-per-file", "0"], "--rows-per-file: must be at least 1"),
    (["build", "--out", "memory://bucket/o"], "is a URL: only --engine ray writes there"),
    (["build", "--out", "file:///tmp/o", "--engine", "ray", "--views", "chat"], "without --views or --tokenizer"),
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
