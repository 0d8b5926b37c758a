"""Errors that tell bugs from mistakes: a user's mistake is one line and exit status 2; anything else is exit
status 1, one line naming it, its traceback in a crash log outside the output, and how to report it; ``--debug``
lets it escape.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import tempfile

import pyarrow as pa
import pytest

from common.errors import ConfigError, WarpIRError
from warp_ir.cli import main


@pytest.fixture
def crash_dir(tmp_path, monkeypatch):
    """The system's temporary folder, as ``tempfile`` sees it, for this test alone (crash logs go there)."""
    where = tmp_path / "system-tmp"
    where.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(where))
    return where


def _compile_rows(error: BaseException) -> None:
    """Where the simulated bug is raised: its name must be in the crash log's traceback."""
    raise error


def failing_build(monkeypatch, error: BaseException) -> None:
    """``warp_ir.build.build`` raising ``error`` from a function it calls."""
    def build(out, **kwargs):
        _compile_rows(error)

    monkeypatch.setattr("warp_ir.build.build", build)


def zero_division() -> ZeroDivisionError:
    try:
        1 / 0  # noqa: B018
    except ZeroDivisionError as exc:
        return exc
    raise AssertionError("unreachable")


BUGS = [
    (zero_division(), "warp-ir: error: ZeroDivisionError: division by zero"),
    (pa.ArrowInvalid("Parquet magic bytes not found in footer.\nEither the file is corrupted"),  # a ValueError
     "warp-ir: error: ArrowInvalid: Parquet magic bytes not found in footer."),
    (PermissionError(errno.EACCES, "Permission denied", "/var/lib/warp-ir/internal.lock"),  # an OSError
     "warp-ir: error: PermissionError: [Errno 13] Permission denied: '/var/lib/warp-ir/internal.lock'"),
    (KeyError("rows"), "warp-ir: error: KeyError: 'rows'"),
    (ValueError("operands could not be broadcast together with shapes (3,) (4,)"),
     "warp-ir: error: ValueError: operands could not be broadcast together with shapes (3,) (4,)"),
]


@pytest.mark.parametrize("error, line", BUGS, ids=lambda x: type(x).__name__ if isinstance(x, BaseException) else "")
def test_a_bug_exits_1_with_its_traceback_in_a_crash_log(tmp_path, crash_dir, capsys, monkeypatch, error, line):
    failing_build(monkeypatch, error)
    out = tmp_path / "out"
    assert main(["build", "--out", str(out), "--num-samples", "5"]) == 1
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert lines[0] == line, err
    assert "Traceback" not in err and len(lines) == 3
    (log,) = crash_dir.glob("warp-ir-crash-*.log")
    assert log.name.endswith(f"-{os.getpid()}.log")
    assert lines[1] == f"warp-ir: the full traceback is in {log}"
    assert "please open an issue on warp-ir's issue tracker with that file attached" in lines[2]
    assert "--debug" in lines[2]
    text = log.read_text()
    assert text.startswith("warp-ir ") and f"command: warp-ir build --out {out} --num-samples 5\n" in text
    assert "Traceback (most recent call last):" in text and "in _compile_rows" in text and "raise error" in text
    assert f"{type(error).__name__}: " in text.splitlines()[-1] or type(error).__name__ in text.splitlines()[-2]
    assert not out.exists()  # never written into the user's output
    assert not list(crash_dir.glob(".*.tmp"))  # written whole: no temporary file left


def test_debug_lets_a_bug_escape_with_no_crash_log(tmp_path, crash_dir, monkeypatch):
    failing_build(monkeypatch, zero_division())
    with pytest.raises(ZeroDivisionError, match="division by zero") as caught:
        main(["--debug", "build", "--out", str(tmp_path / "out")])
    assert any(entry.name == "_compile_rows" for entry in caught.traceback)
    assert not list(crash_dir.iterdir())


def test_debug_lets_a_mistake_escape_too(tmp_path, crash_dir, monkeypatch):
    failing_build(monkeypatch, ConfigError("unknown families: bogus"))
    with pytest.raises(ConfigError, match="unknown families: bogus"):
        main(["--debug", "build", "--out", str(tmp_path / "out")])


@pytest.mark.parametrize("argv, message", [
    (["build", "--out", "{tmp}/out"], "warp-ir: error: --rows-per-file: only for --engine ray"),
    (["stats", "{tmp}"], "warp-ir: error: no Parquet files under {tmp}/data"),
    (["views", "{tmp}/missing"], "warp-ir: error: {tmp}/missing is not a folder"),
])
def test_a_mistake_exits_2_in_one_line_with_no_crash_log(tmp_path, crash_dir, capsys, monkeypatch, argv, message):
    failing_build(monkeypatch, ConfigError("--rows-per-file: only for --engine ray"))
    assert main([a.replace("{tmp}", str(tmp_path)) for a in argv]) == 2
    err = capsys.readouterr().err
    assert err == message.replace("{tmp}", str(tmp_path)) + "\n"
    assert not list(crash_dir.iterdir())


def test_a_full_disk_is_the_users_to_fix(tmp_path, crash_dir, capsys, monkeypatch):
    failing_build(monkeypatch, OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "out" / "x.parquet")))
    assert main(["build", "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == (f"warp-ir: error: No space left on device: {tmp_path / 'out' / 'x.parquet'}"
                                       " (free some space)\n")
    assert not list(crash_dir.iterdir())


def test_what_datasets_wrapped_is_the_line(tmp_path, crash_dir, capsys, monkeypatch):
    """datasets wraps what a shard raised in a DatasetGenerationError: the line (and the status) is the cause's."""
    from datasets.exceptions import DatasetGenerationError

    from common.forked import ChildFailed
    from warp_ir.outdir import OutputError

    def wrapped(cause: BaseException) -> DatasetGenerationError:
        try:
            raise DatasetGenerationError("An error occurred while generating the dataset") from cause
        except DatasetGenerationError as exc:
            return exc

    died = ChildFailed("the process compiling shard train-00000 exited with status 0 without handing back its result")
    failing_build(monkeypatch, wrapped(died))
    assert main(["build", "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"warp-ir: error: {died}"  # warp-ir's own failure says it in its message: no type name
    (log,) = crash_dir.glob("warp-ir-crash-*.log")
    assert "ChildFailed: the process compiling shard train-00000" in log.read_text()
    assert "DatasetGenerationError: An error occurred" in log.read_text()

    failing_build(monkeypatch, wrapped(OutputError("cannot write to /x: permission denied")))
    assert main(["build", "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == "warp-ir: error: cannot write to /x: permission denied\n"


def test_a_crash_log_that_cannot_be_written_leaves_the_traceback_on_stderr(tmp_path, capsys, monkeypatch):
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    monkeypatch.setattr(tempfile, "tempdir", str(not_a_folder))
    failing_build(monkeypatch, zero_division())
    assert main(["build", "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("warp-ir: error: ZeroDivisionError: division by zero\n")
    assert "Traceback (most recent call last):" in err and "in _compile_rows" in err
    assert "with the traceback above attached" in err


def test_a_bug_in_a_real_process_exits_1(tmp_path):
    """The console script's exit status, and the crash log under $TMPDIR."""
    crash = tmp_path / "tmp"
    crash.mkdir()
    code = ("import sys, warp_ir.build as b\n"
            "def build(out, **kwargs): return {}['rows']\n"
            "b.build = build\n"
            "from warp_ir.cli import main\n"
            f"sys.exit(main(['build', '--out', {str(tmp_path / 'out')!r}]))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False,
                          env={**os.environ, "TMPDIR": str(crash)})
    assert proc.returncode == 1, proc.stderr
    assert "warp-ir: error: KeyError: 'rows'" in proc.stderr and "Traceback" not in proc.stderr
    (log,) = crash.glob("warp-ir-crash-*.log")
    assert str(log) in proc.stderr and "KeyError: 'rows'" in log.read_text()


# the error classes: mistakes are WarpIRErrors; those that were ValueErrors stay ValueErrors --------------------

MISTAKES = [
    ("common.errors", "ConfigError", True),
    ("warp_ir.cli_types", "UsageError", False),
    ("warp_ir.outdir", "OutputError", True),
    ("warp_ir.stats", "StatsError", True),
    ("warp_ir.tokens", "TokenizerError", True),
    ("warp_ir.evaluate", "EvalError", True),
    ("warp_ir.lock", "FolderLocked", False),
    ("warp_ir.publish", "PublishError", False),
    ("evaluation.predictions", "PredictionsError", True),
    ("extraction.extract", "ExtractionError", False),
    ("extraction.loader", "LoadError", False),
    ("extraction.child", "ChildError", False),
    ("generator.programs.templates", "TemplateError", True),
    ("generator.planning.plan", "NothingToPlan", True),
    ("generator.real.packages", "PackageError", True),
]
FAILURES = [  # not the user's: exit status 1 and a crash log
    ("common.forked", "ChildFailed"), ("generator.codegen.shard", "TemplatesChanged"),
    ("warp_ir.ray_engine.driver", "RayTaskFailed"),
]


@pytest.mark.parametrize("module, name, value_error", MISTAKES)
def test_mistakes_are_warp_ir_errors(module, name, value_error):
    import importlib

    cls = getattr(importlib.import_module(module), name)
    assert issubclass(cls, WarpIRError)
    assert issubclass(cls, ValueError) == value_error


@pytest.mark.parametrize("module, name", FAILURES)
def test_failures_are_not(module, name):
    import importlib

    assert not issubclass(getattr(importlib.import_module(module), name), WarpIRError)


def test_settings_checked_in_library_code_are_config_errors():
    from generator.real.config import check_real_settings
    from warp_ir.views import ViewOptions

    with pytest.raises(ConfigError, match="--max-tokens counts tokens: it needs --tokenizer"):
        ViewOptions(("chat",), None, 100, None)
    with pytest.raises(ConfigError, match="unknown view 'json'"):
        ViewOptions(("json",))
    with pytest.raises(ConfigError, match="not an SPDX license identifier: GPL 3"):
        check_real_settings(None, None, ["GPL 3"], 10.0)
    with pytest.raises(ConfigError, match="positive number of seconds"):
        check_real_settings(None, None, [], 0)


def test_eval_results_that_cannot_be_written_are_one_line(tmp_path):
    from warp_ir.evaluate import EvalError, write_results

    (tmp_path / "file").write_text("")
    with pytest.raises(EvalError, match=r"^cannot write .*/file/results\.jsonl: (File exists|Not a directory)$"):
        write_results(tmp_path / "file" / "results.jsonl", [])  # its folder is a file
