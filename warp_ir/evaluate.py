"""``warp-ir eval``: score a model's predictions against a built folder.

:func:`evaluate` reads the rows of one split of one configuration, reads the predictions file
(:mod:`evaluation.predictions`: every bad line is reported with its number and skipped), scores
every prediction on the ladder (:mod:`evaluation.harness`) in ``num_proc`` processes, and returns
the :class:`evaluation.report.Report`; with ``out`` it also writes one JSON line per prediction.
The inputs' seed is fresh each run unless given (it is in the report and every result line); the same
predictions, data, seed and versions give the same results file, byte for byte.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import tempfile
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from common.atomic import write_atomic
from common.errors import WarpIRError
from common.progress import Progress
from evaluation.box import AnswerBox, IsolationUnavailable
from evaluation.compiling import warm_headers
from evaluation.harness import Problem, Sample, score
from evaluation.predictions import PredictionsError, read_predictions
from evaluation.report import Report
from evaluation.tasks import Task, messages
from extraction import _warp, init_quiet, kernel_cache
from extraction.environ import drop_secrets_from_process
from warp_ir.outdir import read_build_info
from warp_ir.stats import CONFIG_PREFIX, StatsError, iter_rows, split_files
from warp_ir.views import SOURCE_COLUMNS

logger = logging.getLogger(__name__)

DEFAULT_KS: tuple[int, ...] = (1, 5, 10)


class EvalError(WarpIRError, ValueError):
    """The evaluation cannot run (a one-line reason): no such folder, split or configuration, an unusable file."""


def _rows(data: Path, config: str, split: str) -> dict[str, dict[str, Any]]:
    if config not in CONFIG_PREFIX:
        raise EvalError(f"unknown configuration {config!r} (known: {', '.join(CONFIG_PREFIX)})")
    files = split_files(data, CONFIG_PREFIX[config])
    if not files:
        raise EvalError(f"{data} holds no {config} rows ({CONFIG_PREFIX[config]}/*.parquet): is it a warp-ir build?")
    if split not in files:
        raise EvalError(f"{data} has no {split!r} split in its {config} configuration (it has: {', '.join(files)})")
    try:
        return {row["id"]: row for row in iter_rows(files[split], SOURCE_COLUMNS)}
    except StatsError as exc:
        raise EvalError(str(exc)) from None


def _score_part(problems: list[Problem], workdir: str, seed: int, pch_dir: str, cache: str, isolation: str,
                bar: Progress | None = None) -> list[Sample]:
    with kernel_cache(cache):
        return score(problems, workdir, seed, pch_dir=pch_dir, bar=bar, isolation=isolation)


def fresh_seed() -> int:
    """A seed no one can know before the run (an answer cannot hold tables of the outputs for it)."""
    return secrets.randbelow(2**31)


def evaluate(predictions: Path, data: Path, config: str = "synthetic", split: str = "test",
             ks: Sequence[int] = DEFAULT_KS, num_proc: int = 1, out: Path | None = None, seed: int | None = None,
             isolation: str = "namespaces") -> Report:
    """Score a predictions file against the rows of a built folder.

    Args:
        predictions: A JSON-lines file: ``{"id", "task", "predictions": [...]}`` per line.
        data: A folder ``warp-ir build`` wrote.
        config: Its configuration (``synthetic`` or ``real``).
        split: The split the predictions answer.
        ks: The ``k`` of pass@k.
        num_proc: Processes scoring at once.
        out: Write one JSON line per prediction here (a new file; written whole or not at all).
        seed: Seed of the launch inputs (default: :func:`fresh_seed`); the report and every result record it.
        isolation: How answers are boxed (:mod:`evaluation.box`).

    Raises:
        EvalError: The data or the predictions file cannot be used at all, or the answers' box cannot be made.
    """
    seed = fresh_seed() if seed is None else seed
    if not data.is_dir():
        raise EvalError(f"--data {data} is not a folder")
    info = (read_build_info(data) or {}).get(config) or {}
    builder_version = info.get("builder_version") or ""
    rows = _rows(data, config, split)

    def known(row_id: str, task: Task) -> bool:
        row = rows.get(row_id)
        return row is not None and messages(task, row) is not None

    try:
        read = read_predictions(predictions, known, builder_version)
    except PredictionsError as exc:
        raise EvalError(str(exc)) from None
    problems = [Problem(item.line, rows[item.id], item.task, item.texts) for item in read.items]
    init_quiet()
    cuda = _warp.cuda_available()
    samples = score_problems(problems, num_proc, seed, isolation)
    report = Report(samples, tuple(ks), lines=read.lines, skipped=read.skipped, cuda_executed=cuda,
                    info={"data": str(data), "config": config, "split": split, "builder_version": builder_version,
                          "warp_version": _warp.warp_version(), "seed": seed})
    if out is not None:
        write_results(out, samples)
    return report


def score_problems(problems: Sequence[Problem], num_proc: int, seed: int, isolation: str,
                   label: str = "scoring") -> list[Sample]:
    """Score ``problems`` in ``num_proc`` processes (each with its answer box); samples ordered by line and sample.

    Raises:
        EvalError: The answers' box cannot be made with ``isolation`` (checked before any work).
    """
    predicted = sum(len(p.texts) for p in problems)
    with tempfile.TemporaryDirectory(prefix="warp-ir-eval-") as tmp, \
            Progress(predicted, label, "prediction", done="scored", heartbeat=True) as bar:
        pch, cache = os.path.join(tmp, "pch"), os.path.join(tmp, "kernels")
        bar.update(0, note="precompiling Warp's headers")
        warm_headers(pch)
        try:  # a box is made before any work: where the isolation cannot be had, the run stops here, in one line
            with AnswerBox(os.path.join(tmp, "box-check"), isolation) as box:
                box.start()
        except IsolationUnavailable as exc:
            raise EvalError(str(exc)) from None
        parts = [list(problems[i::num_proc]) for i in range(num_proc) if problems[i::num_proc]]
        if len(parts) <= 1:
            samples = _score_part(list(problems), os.path.join(tmp, "work-0"), seed, pch, cache, isolation, bar)
        else:
            # the scorers' workers drop the secrets of the environment (their children, which run the answers, too)
            with ProcessPoolExecutor(len(parts), mp_context=get_context("fork"),
                                     initializer=drop_secrets_from_process) as pool:
                futures = [pool.submit(_score_part, part, os.path.join(tmp, f"work-{i}"), seed, pch, cache,
                                       isolation)
                           for i, part in enumerate(parts)]
                for future in as_completed(futures):  # a part's predictions counted when it is scored
                    bar.update(sum(len(p.texts) for p in parts[futures.index(future)]))
                samples = [s for f in futures for s in f.result()]
    return sorted(samples, key=lambda s: (s.line, s.sample))


def write_results(path: Path, samples: Sequence[Sample]) -> None:
    """Write one JSON line per sample to ``path`` through a temporary file and a rename.

    Raises:
        EvalError: ``path`` cannot be written (no such folder, no permission, a full disk).
    """
    lines = (json.dumps(s.to_json(), ensure_ascii=False, sort_keys=True) + "\n" for s in samples)
    try:
        write_atomic(path, "".join(lines).encode("utf-8"))
    except OSError as exc:
        raise EvalError(f"cannot write {path}: {exc.strerror or exc}") from exc


__all__ = ["DEFAULT_KS", "EvalError", "evaluate", "write_results"]
