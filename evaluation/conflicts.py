"""One question, one answer: rows whose model input is the same for a task but whose references differ.

A task's model input is its prompt (:func:`evaluation.tasks.messages`: the system and user messages).
Two rows that give a model the same input and expect different answers make a task that cannot be
done from what is shown, and a scorer that compares an answer with one of several references.
:class:`InputConflicts` counts them over any number of rows (every split of a build together),
keeping two SHA-256 digests per row and task.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from evaluation.tasks import TASKS, messages

EXAMPLES = 3  # ids of conflicting rows kept per task


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


@dataclass
class InputConflicts:
    """Model inputs and their references, per task, for rows added one at a time."""

    references: dict[str, dict[bytes, dict[bytes, str]]] = field(
        default_factory=lambda: {name: {} for name in TASKS})  # task -> input -> reference -> first row id

    def add(self, row: dict[str, Any]) -> None:
        """Count one row (a dataset row: ``id``, the code columns, ``arguments``, ...) for every task."""
        for name, task in TASKS.items():
            chat = messages(task, row)
            if chat is None:  # the row lacks what the task needs
                continue
            given = _digest(chat[0]["content"] + "\0" + chat[1]["content"])
            answers = self.references[name].setdefault(given, {})
            answers.setdefault(_digest(chat[2]["content"]), str(row.get("id", "")))

    def add_all(self, rows: Iterable[dict[str, Any]]) -> InputConflicts:
        """:meth:`add` every row; returns ``self``."""
        for row in rows:
            self.add(row)
        return self

    def summary(self) -> dict[str, dict[str, Any]]:
        """Per task: ``inputs`` (distinct model inputs), ``conflicting_inputs`` (with two or more different
        references), ``conflicting_rows`` (their rows, one per distinct reference) and ``examples`` (row ids)."""
        out = {}
        for name, by_input in self.references.items():
            bad = [answers for answers in by_input.values() if len(answers) > 1]
            out[name] = {"inputs": len(by_input), "conflicting_inputs": len(bad),
                         "conflicting_rows": sum(len(a) for a in bad),
                         "examples": [sorted(a.values()) for a in bad[:EXAMPLES]]}
        return out


# what :func:`evaluation.tasks.messages` reads from a row, for reading only these columns back
ROW_COLUMNS = ("id", "kernel_name", "python_source", "cpp_forward", "cpp_backward", "cuda_forward", "cuda_backward",
               "arguments", "helper_functions", "launch_dim", "warp_version")
