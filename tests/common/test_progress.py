"""What a person sees of long work: a bar on a terminal, plain lines elsewhere, nothing when quiet."""

from __future__ import annotations

import io
import logging
import re
import time

import pytest

import common.progress as progress_module
from common.progress import LOGGER, Progress, allow_bars, duration


class Terminal(io.StringIO):
    """A stream that says it is a terminal, as standard error does in a person's shell."""

    def isatty(self) -> bool:
        return True


@pytest.fixture()
def shown(monkeypatch, progress_lines):
    """The progress logger's INFO lines, collected (as ``warp-ir`` shows them), with bars allowed."""
    return progress_lines(True)


def test_not_a_terminal_gets_plain_lines_with_counts(shown):
    stream = io.StringIO()
    with Progress(200, "planning", "program", done="planned", every_s=0.0, stream=stream) as bar:
        for drawn in (60, 120, 180, 240):
            bar.update(50, note=f"{drawn} drawn")
    assert bar.mode == "lines" and stream.getvalue() == ""  # no carriage return, no bar: log lines only
    assert [re.sub(r"\d+\.\d s", "T", ln) for ln in shown] == [
        "planning: 50 of 200 programs (25%, T); 60 drawn",
        "planning: 100 of 200 programs (50%, T); 120 drawn",
        "planning: 150 of 200 programs (75%, T); 180 drawn",
        "planning: 200 of 200 programs (100%, T); 240 drawn",
        "planned 200 of 200 programs in T (240 drawn)",
    ]


def test_plain_lines_come_every_few_seconds_not_every_update(shown, monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(progress_module.time, "monotonic", lambda: now[0])
    bar = Progress(1000, "compiling", "program", done="compiled", every_s=10.0, stream=io.StringIO())
    for _ in range(30):  # 30 updates, one a second
        now[0] += 1.0
        bar.update(10)
    bar.close()
    assert shown == [
        "compiling: 100 of 1,000 programs (10%, 10.0 s)",
        "compiling: 200 of 1,000 programs (20%, 20.0 s)",
        "compiling: 300 of 1,000 programs (30%, 30.0 s)",
        "compiled 300 of 1,000 programs in 30.0 s",
    ]


def test_a_terminal_gets_a_tqdm_bar_and_no_log_line(shown):
    stream = Terminal()
    with Progress(200, "planning", "program", done="planned", stream=stream) as bar:
        bar.update(150, note="160 drawn")
        bar.update(50, note="210 drawn")
    assert bar.mode == "bar" and shown == []
    last = stream.getvalue().rstrip().split("\r")[-1]  # the bar as it is left on the screen
    assert last.startswith("planning: 100%|") and "| 200/200 [" in last and "programs/s, 210 drawn]" in last


def test_no_bar_under_verbose_logging(shown):
    allow_bars(False)
    try:
        stream = Terminal()
        with Progress(3, "mining", "package", done="mined", every_s=0.0, stream=stream) as bar:
            bar.update(3)
    finally:
        allow_bars(True)
    assert bar.mode == "lines" and stream.getvalue() == ""
    assert re.fullmatch(r"mined 3 of 3 packages in \d+\.\d s", shown[-1]), shown


@pytest.mark.parametrize("stream", [io.StringIO(), Terminal()])
def test_quiet_shows_nothing(shown, stream):
    logging.getLogger(LOGGER).setLevel(logging.WARNING)  # warp-ir --quiet; a library without logging set up
    with Progress(10, "scoring", "prediction", done="scored", every_s=0.0, heartbeat=True, stream=stream) as bar:
        bar.update(10, note="forward-cpp: run predictions done")
    assert bar.mode == "off" and bar.count == 10
    assert stream.getvalue() == "" and shown == []


def test_a_heartbeat_says_what_is_running_while_nothing_is_counted(shown, monkeypatch):
    monkeypatch.setattr(progress_module, "HEARTBEAT_S", 0.01)
    bar = Progress(2, "mining", "package", done="mined", every_s=0.05, heartbeat=True, stream=io.StringIO())
    bar.update(0, note="now mujoco-warp")
    deadline = time.monotonic() + 5
    while not shown and time.monotonic() < deadline:
        time.sleep(0.01)
    bar.close(failed=True)  # interrupted: no last line
    assert shown and all(re.fullmatch(r"mining: 0 of 2 packages \(0%, \d+\.\d s\); now mujoco-warp", ln)
                         for ln in shown), shown
    assert not any(ln.startswith("mined") for ln in shown)


def test_unknown_total_and_long_durations(shown):
    with Progress(None, "compiling", "file", every_s=0.0, stream=io.StringIO()) as bar:
        bar.update(7)
    assert re.fullmatch(r"compiling: 7 files \(\d+\.\d s\)", shown[0]) and shown[-1].startswith("compiling 7 files in ")
    assert [duration(s) for s in (4.24, 185, 7620)] == ["4.2 s", "3 min 05 s", "2 h 07 min"]
