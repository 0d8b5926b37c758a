"""Answers that solve nothing by understanding: what a model could score by copying.

* :func:`retrieval_problems`: the retrieval baseline. Each held-out row is answered with the reference of its
  nearest train row (estimated Jaccard of the planner's token MinHash, :mod:`generator.planning.minhash`), with
  the held-out row's names put in place of the train row's (kernel, module hash, file name, arguments by
  position), and scored like any model. Its rates say how much of a held-out split copying train solves: a
  model's rates mean something only above them.
* :func:`copy_comments_answer`: the program Warp's source-line comments spell out in generated code (``// out[i]
  = a[i] * k   <L 12>``): what a model asked to decompile CUDA could copy from the prompt while those comments were
  in it (prompts before ``warp-ir-prompts-3``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from evaluation.harness import Problem
from evaluation.tasks import Task, entry_point, file_name, messages
from generator.planning.minhash import signature

_COMMENT = re.compile(r"^[ \t]*// (.*?)\s*<L (\d+)>[ \t]*$", re.MULTILINE)


def copy_comments_answer(code: str, kernel_name: str) -> str:
    """The Python program in Warp's source-line comments of generated ``code`` (``""`` when it has none).

    Statements come in line order; a ``def`` starts a function (``@wp.kernel`` for the row's kernel, else
    ``@wp.func``) and what follows is its body, one level in (the comments keep no indentation: deeper blocks
    are lost).
    """
    lines: dict[int, str] = {}
    for m in _COMMENT.finditer(code):
        lines.setdefault(int(m[2]), m[1].strip())
    if not lines:
        return ""
    out = ["import warp as wp", ""]
    for _, text in sorted(lines.items()):
        if text.startswith("def "):
            name = text[4:].split("(", 1)[0].strip()
            out += ["", "@wp.kernel" if name == kernel_name else "@wp.func", text]
        else:
            out.append("    " + text)
    return "\n".join(out) + "\n"


def nearest_train(train: Sequence[dict[str, Any]], held: Sequence[dict[str, Any]]
                  ) -> list[tuple[dict[str, Any], float]]:
    """For each held-out row, the train row whose program is most alike (and that estimated Jaccard); ties go to
    the first train row in id order."""
    if not train:
        return []
    ordered = sorted(train, key=lambda r: r["id"])
    sigs = np.stack([signature(r["python_source"]) for r in ordered])
    out = []
    for row in held:
        similarity = (sigs == signature(row["python_source"])[None, :]).mean(axis=1)
        best = int(np.argmax(similarity))
        out.append((ordered[best], float(similarity[best])))
    return out


def _keeping_prefix(text: str, group: bool = True) -> Callable[[re.Match[str]], str]:
    """A replacement giving ``text`` after the match's first group (or ``text`` alone)."""
    return lambda m: (m[1] if group else "") + text


def _arguments_renamed(answer: str, task: Task, source_row: dict[str, Any], target_row: dict[str, Any]) -> str:
    """``answer`` with the target row's argument names in place of the source row's, position by position (when
    both kernels take as many): as words, and in generated code as ``var_<name>``, ``adj_<name>`` and fields
    (``->name``), never as a member or a namespace's name (``wp::length``, ``p.length``)."""
    old = [a["name"] for a in source_row.get("arguments") or []]
    new = [a["name"] for a in target_row.get("arguments") or []]
    if len(old) != len(new) or old == new:
        return answer
    prefix = r"(?<![\w.])" if task.decompile else r"(?<![\w:.])"
    for k, name in enumerate(old):  # through placeholders: one kernel's names may be the other's, swapped
        mark = f"\x00{k}\x00"
        answer = re.sub(rf"{prefix}((?:var_|adj_)?){re.escape(name)}\b", _keeping_prefix(mark), answer)
        if not task.decompile:
            answer = re.sub(rf"->{re.escape(name)}\b", _keeping_prefix("->" + mark, group=False), answer)
    for k, name in enumerate(new):
        answer = answer.replace(f"\x00{k}\x00", name)
    return answer


def _renamed(answer: str, task: Task, source_row: dict[str, Any], target_row: dict[str, Any]) -> str:
    """``answer`` (``source_row``'s reference for ``task``) with ``target_row``'s names in place of its own: the
    kernel's, its module hash, its file name, its arguments'."""
    answer = _arguments_renamed(answer, task, source_row, target_row)
    if task.decompile:
        return re.sub(rf"\bdef {re.escape(source_row['kernel_name'])}\(", f"def {target_row['kernel_name']}(", answer)
    ours = entry_point(answer, task.device, task.backward)
    theirs = entry_point(target_row.get(task.target) or "", task.device, task.backward)
    if ours is None or theirs is None:
        return answer
    answer = answer.replace(f"{ours[1]}_{ours[2]}", f"{theirs[1]}_{theirs[2]}")
    ours_file, theirs_file = file_name(answer), file_name(target_row.get(task.target) or "")
    if ours_file and theirs_file:
        answer = answer.replace(f"// {ours_file}:", f"// {theirs_file}:")
    return answer


def retrieval_problems(pairs: Sequence[tuple[dict[str, Any], dict[str, Any]]], tasks: Sequence[Task]
                       ) -> list[Problem]:
    """One problem per ``(held-out row, its nearest train row)`` pair and task the held-out row has a question
    for, answered by the train row's reference with the names substituted (see the module docstring). Lines count
    from 1, task by task."""
    problems: list[Problem] = []
    for task in tasks:
        for row, near in pairs:
            reference = near.get(task.target) or ""
            if messages(task, row) is None or not reference.strip():
                continue
            answer = _renamed(reference, task, near, row)
            problems.append(Problem(len(problems) + 1, row, task, (f"```{task.language}\n{answer}\n```",)))
    return problems
