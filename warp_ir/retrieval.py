"""The retrieval baseline of a built folder, for its card: how much of each held-out split copying train solves.

For every split but ``train``, the first ``rows`` rows (in id order: ids are content hashes, so this is a fixed,
unbiased sample) are answered, for every task, with the reference of their nearest train row, names substituted
(:mod:`evaluation.baselines`), and scored like a model's answers (:mod:`evaluation.harness`, input seed 0, so the
card is the same for the same build). The answers are this build's own rows: they run in the answer box without
namespaces (``isolation="process"``), which works on every machine.
"""

from __future__ import annotations

import logging
import os
from collections import defaultdict
from pathlib import Path
from typing import Any

from evaluation.baselines import nearest_train, retrieval_problems
from evaluation.harness import RUNGS, Problem
from evaluation.tasks import TASKS
from warp_ir.evaluate import score_problems
from warp_ir.stats import CONFIG_PREFIX, iter_rows, split_files
from warp_ir.views import SOURCE_COLUMNS

logger = logging.getLogger(__name__)

DEFAULT_ROWS = 20  # held-out rows a split, answered for each task (warp-ir build --baseline-rows)
ROWS_ENV = "WARP_IR_BASELINE_ROWS"  # overrides DEFAULT_ROWS as the command line's default (the test suite sets 0)


def default_rows() -> int:
    """``--baseline-rows``' default: :data:`ROWS_ENV` when it holds a whole number, else :data:`DEFAULT_ROWS`."""
    value = os.environ.get(ROWS_ENV, "")
    return int(value) if value.isdigit() else DEFAULT_ROWS


def _rows_with_ids(paths: list[Path], ids: set[str]) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in iter_rows(paths, SOURCE_COLUMNS) if r["id"] in ids}


def retrieval_baseline(folder: Path, config: str, rows: int, num_proc: int = 1) -> dict[str, Any]:
    """The card's ``baseline`` figures: per task and held-out split, the answers scored and the share reaching each
    rung (``None`` where a rung was not scored: CUDA code without a GPU); ``{}`` when there is nothing to answer.

    Args:
        folder: The built (staged) folder.
        config: ``synthetic`` or ``real``.
        rows: Held-out rows a split (0: none).
        num_proc: Processes scoring at once.
    """
    files = split_files(folder, CONFIG_PREFIX[config])
    held_splits = [s for s in files if s != "train"]
    if rows <= 0 or "train" not in files or not held_splits:
        return {}
    train = list(iter_rows(files["train"], ["id", "python_source"]))  # programs only: the code comes for matches
    held: list[tuple[str, dict[str, Any]]] = []
    for split in held_splits:
        wanted = {r["id"] for r in sorted(iter_rows(files[split], ["id"]), key=lambda r: r["id"])[:rows]}
        held += [(split, r) for r in sorted(_rows_with_ids(files[split], wanted).values(), key=lambda r: r["id"])]
    pairs: dict[str, list[tuple[dict[str, Any], str]]] = defaultdict(list)
    for (split, row), (near, _) in zip(held, nearest_train(train, [r for _, r in held])):
        pairs[split].append((row, near["id"]))
    nearest = _rows_with_ids(files["train"], {i for ps in pairs.values() for _, i in ps})
    problems: list[Problem] = []
    split_of: dict[int, str] = {}
    for split, ps in pairs.items():
        for p in retrieval_problems([(row, nearest[i]) for row, i in ps], list(TASKS.values())):
            problems.append(Problem(len(problems) + 1, p.row, p.task, p.texts))
            split_of[len(problems)] = split
    if not problems:
        return {}
    logger.info("retrieval baseline: %d answers over %d held-out splits", len(problems), len(pairs))
    samples = score_problems(problems, num_proc, seed=0, isolation="process", label="retrieval baseline")
    cells: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for s in samples:
        cells[(s.task, split_of[s.line])].append(s)
    figures: dict[str, dict[str, Any]] = {}
    for (task, split), members in sorted(cells.items()):
        entry: dict[str, Any] = {"answers": len(members)}
        for rung in RUNGS:
            scored = [getattr(s, rung) for s in members if getattr(s, rung) is not None]
            entry[rung] = round(sum(bool(v) for v in scored) / len(scored), 4) if scored else None
        figures.setdefault(task, {})[split] = entry
    return {"rows_per_split": rows, "seed": 0, "tasks": figures}
