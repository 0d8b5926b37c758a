"""Reading a predictions file: one JSON object a line, every bad line reported with its number.

A line holds ``id`` (a row id), ``task`` (a task name or slug, :data:`evaluation.tasks.TASKS`) and
``predictions`` (a list of strings, or one string: a model's answers, fenced or not). Optional:
``prompt_version`` and ``builder_version``; when given they must be this dataset's (a prediction
made from other prompts, or for another version of the rows, is not scored against these).

A line that cannot be used is skipped and reported (``line 7: unknown id 'abc'``); the rest are
scored. A file that cannot be read, or has no usable line, is a :class:`PredictionsError`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from common.errors import WarpIRError
from evaluation.tasks import PROMPT_VERSION, Task, task_named

MAX_SHOWN = 200  # characters of a bad value shown in a message


class PredictionsError(WarpIRError, ValueError):
    """The predictions file cannot be used at all (a one-line reason)."""


@dataclass(frozen=True, slots=True)
class Prediction:
    """The predictions of one line.

    Attributes:
        line: Its line number (from 1).
        id: The row it answers.
        task: The task it answers.
        texts: The model's answers, in the file's order.
    """

    line: int
    id: str
    task: Task
    texts: tuple[str, ...]


@dataclass(slots=True)
class Predictions:
    """The usable lines of a file, and why the others were skipped."""

    items: list[Prediction] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)
    lines: int = 0


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN] + "..."


def read_predictions(path: Path, known: Callable[[str, Task], bool], builder_version: str) -> Predictions:
    """Read ``path``; ``known(id, task)`` says whether the data holds row ``id`` for ``task``.

    Raises:
        PredictionsError: The file cannot be read, or none of its lines can be scored.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise PredictionsError(f"cannot read {path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise PredictionsError(f"cannot read {path}: {exc.strerror or exc}") from None
    out = Predictions()
    seen: dict[tuple[str, str], int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        out.lines += 1
        item = _parse(line, number, known, builder_version, seen)
        if isinstance(item, str):
            out.skipped.append((number, item))
        else:
            out.items.append(item)
    if not out.items:
        if not out.lines:
            raise PredictionsError(f"{path} holds no predictions")
        first = out.skipped[0]
        raise PredictionsError(f"{path}: none of its {out.lines} line(s) can be scored "
                               f"(line {first[0]}: {first[1]})")
    return out


def _parse(line: str, number: int, known: Callable[[str, Task], bool], builder_version: str,
           seen: dict[tuple[str, str], int]) -> Prediction | str:
    """One line as a :class:`Prediction`, or why it cannot be scored."""
    try:
        obj = json.loads(line)
    except ValueError as exc:
        return f"not JSON: {exc}"
    if not isinstance(obj, dict):
        return f"not a JSON object: {_short(obj)}"
    missing = [k for k in ("id", "task", "predictions") if k not in obj]
    if missing:
        return f"missing field {missing[0]!r}"
    row_id, task_name, texts = obj["id"], obj["task"], obj["predictions"]
    if not isinstance(row_id, str):
        return f"id must be a string, got {_short(row_id)}"
    if not isinstance(task_name, str):
        return f"task must be a string, got {_short(task_name)}"
    try:
        task = task_named(task_name)
    except KeyError as exc:
        return str(exc.args[0])
    if isinstance(texts, str):
        texts = [texts]
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        return "predictions must be a string or a non-empty list of strings"
    for key, ours in (("prompt_version", PROMPT_VERSION), ("builder_version", builder_version)):
        if key in obj and obj[key] != ours:
            return f"{key} {_short(obj[key])} is not this dataset's {ours!r}"
    if not known(row_id, task):
        return f"unknown id {_short(row_id)} for {task.name} in this data"
    first = seen.setdefault((row_id, task.name), number)
    if first != number:
        return f"a second line for id {row_id!r} and {task.name} (the first is line {first})"
    return Prediction(number, row_id, task, tuple(texts))
