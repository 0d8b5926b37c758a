"""Chat views of a build: one configuration per evaluation task, beside ``data/``.

``chat/<task-slug>/<split>-XXXXX-of-YYYYY.parquet`` holds, for each row of that split of ``data/``
(in order), the row's chat for that task (:func:`evaluation.tasks.messages`: system, user, and the
reference as the assistant's answer) and the columns an evaluation needs: one file per file of
``data/`` that leaves chats, numbered over those (a split left without chats has no file, and is
not listed: ``datasets`` cannot load an empty split). The card lists each task as the
configuration ``chat-<task-slug>`` (``load_dataset(DIR, "chat-python-cpp-forward")``).

Rows longer than ``max_chars`` characters (all messages together), or ``max_tokens`` tokens with a
tokenizer, are left out and counted per task and reason; a row without the code a task needs
(an empty column) is counted too. Nothing is dropped silently.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from common.errors import ConfigError
from evaluation.tasks import PROMPT_VERSION, TASKS, Task, messages
from warp_ir.outdir import VIEWS_DIR
from warp_ir.stats import CONFIG_PREFIX, iter_rows, split_files
from warp_ir.tokens import count_tokens, tokenizer_name
from warp_ir.writer import hub_file

logger = logging.getLogger(__name__)

VIEW_KINDS = ("chat",)
CONFIG_PREFIX_CHAT = "chat-"
WRITE_BATCH = 512  # source rows turned into chats at once (their five chats hold every code column twice)
# what a chat row carries besides its messages: what `warp-ir eval` needs to score a prediction for it
EVAL_COLUMNS = ("python_source", "kernel_name", "arguments", "launch_dim", "family", "complexity", "warp_version")
# the source-row columns the chats of every task (and their scoring, warp_ir.evaluate) read
SOURCE_COLUMNS = sorted({"id", "helper_functions", *EVAL_COLUMNS, *(t.given for t in TASKS.values()),
                         *(t.target for t in TASKS.values())})
SCHEMA = pa.schema([
    ("id", pa.string()), ("task", pa.string()), ("prompt_version", pa.string()),
    ("messages", pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))),
    ("reference", pa.string()), ("python_source", pa.string()), ("kernel_name", pa.string()),
    ("arguments", pa.list_(pa.struct([("name", pa.string()), ("type", pa.string())]))),
    ("launch_dim", pa.int32()), ("family", pa.string()), ("complexity", pa.int32()), ("warp_version", pa.string()),
    ("chars", pa.int64()), ("tokens", pa.int64()),
])


@dataclass(frozen=True, slots=True)
class ViewOptions:
    """What views to write and how long their rows may be.

    Attributes:
        kinds: View kinds (only ``chat`` today).
        max_chars: Leave out chats of more characters than this (all messages together).
        max_tokens: Leave out chats of more tokens than this (needs ``tokenizer``).
        tokenizer: Tokenizer name as given (a Hub name or a local ``tokenizer.json``).
    """

    kinds: tuple[str, ...] = ("chat",)
    max_chars: int | None = None
    max_tokens: int | None = None
    tokenizer: str | None = None

    def __post_init__(self) -> None:
        unknown = [k for k in self.kinds if k not in VIEW_KINDS]
        if unknown:
            raise ConfigError(f"unknown view {unknown[0]!r} (known: {', '.join(VIEW_KINDS)})")
        for name in ("max_chars", "max_tokens"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ConfigError(f"{name} must be a whole number of at least 1, got {value!r}")
        if self.max_tokens is not None and not self.tokenizer:
            raise ConfigError("--max-tokens counts tokens: it needs --tokenizer")


def config_name(task: Task) -> str:
    """The configuration name of a task's chat view (``chat-python-cpp-forward``)."""
    return f"{CONFIG_PREFIX_CHAT}{task.slug}"


def _chat_row(task: Task, row: dict[str, Any]) -> dict[str, Any] | None:
    chat = messages(task, row)
    if chat is None:
        return None
    out = {"id": row["id"], "task": task.name, "prompt_version": PROMPT_VERSION, "messages": chat,
           "reference": row[task.target], "chars": sum(len(m["content"]) for m in chat), "tokens": None}
    out.update({c: row.get(c) for c in EVAL_COLUMNS})
    return out


def write_chat_views(folder: Path, dest: Path, options: ViewOptions, tokenizer: Any = None,
                     config: str = "synthetic") -> tuple[list[str], dict[str, Any]]:
    """Write the chat view of every task for the rows of ``folder`` into ``dest`` (a build's staging folder).

    Args:
        folder: A built folder (its ``data/`` files are read).
        dest: Where ``chat/`` is written.
        options: Length limits.
        tokenizer: A loaded tokenizer (:func:`warp_ir.tokens.load_tokenizer`) when ``options.tokenizer`` is set.
        config: The configuration whose rows are viewed.

    Returns:
        The written files (relative to ``dest``) and the report ``build_info.json`` keeps under ``views``.
    """
    files = split_files(folder, CONFIG_PREFIX[config])
    written: list[str] = []
    report: dict[str, Any] = {
        "kinds": list(options.kinds), "prompt_version": PROMPT_VERSION, "max_chars": options.max_chars,
        "max_tokens": options.max_tokens, "tokenizer": tokenizer_name(options.tokenizer) if options.tokenizer else None,
        "tasks": {task.name: {"config": config_name(task), "rows": {}, "dropped": {}} for task in TASKS.values()},
    }
    for split, paths in files.items():
        parts: dict[Task, list[Path]] = {task: [] for task in TASKS.values()}  # non-empty files, in order
        for k, path in enumerate(paths):
            writers = {task: _Writer(dest / VIEWS_DIR / task.slug / f".{split}-{k:05d}.parquet.tmp")
                       for task in TASKS.values()}
            try:
                batch: list[dict[str, Any]] = []
                for row in iter_rows([path], SOURCE_COLUMNS):
                    batch.append(row)
                    if len(batch) >= WRITE_BATCH:
                        _write_batch(batch, writers, options, tokenizer, report, split)
                        batch = []
                _write_batch(batch, writers, options, tokenizer, report, split)
            finally:
                for task, writer in writers.items():
                    if writer.close():
                        parts[task].append(writer.path)
        for tmps in parts.values():  # Hub names, numbered over the files that hold rows (an empty split: none)
            for i, tmp in enumerate(tmps):
                final = hub_file(tmp.parent, split, i, len(tmps))
                os.replace(tmp, final)
                written.append(final.relative_to(dest).as_posix())
    for entry in report["tasks"].values():
        entry["dropped"] = dict(sorted(entry["dropped"].items()))
    logger.info("chat views: %d file(s)", len(written))
    return sorted(written), report


class _Writer:
    """A Parquet file of chats, created when its first rows come (a file would hold rows or not exist)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._writer: pq.ParquetWriter | None = None

    def write(self, table: pa.Table) -> None:
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = pq.ParquetWriter(self.path, SCHEMA)
        self._writer.write_table(table)

    def close(self) -> bool:
        """Finish the file; whether there is one."""
        if self._writer is None:
            return False
        self._writer.close()
        self._writer = None
        return True


def _write_batch(rows: list[dict[str, Any]], writers: dict[Task, _Writer], options: ViewOptions,
                 tokenizer: Any, report: dict[str, Any], split: str) -> None:
    """Append each task's chats of ``rows`` to its file, counting the rows kept and left out into ``report``."""
    for task, writer in writers.items():
        chats = []
        for row in rows:
            chat = _chat_row(task, row)
            if chat is None:
                _drop(report, task, "missing_code")
            elif options.max_chars is not None and chat["chars"] > options.max_chars:
                _drop(report, task, "too_many_chars")
            else:
                chats.append(chat)
        if tokenizer is not None and chats:
            texts = ["".join(m["content"] for m in c["messages"]) for c in chats]
            for chat, n in zip(chats, count_tokens(tokenizer, texts)):
                chat["tokens"] = n
            if options.max_tokens is not None:
                for _ in range(sum(c["tokens"] > options.max_tokens for c in chats)):
                    _drop(report, task, "too_many_tokens")
                chats = [c for c in chats if c["tokens"] <= options.max_tokens]
        kept = report["tasks"][task.name]["rows"]
        kept[split] = kept.get(split, 0) + len(chats)
        if chats:
            writer.write(pa.Table.from_pylist(chats, schema=SCHEMA))


def _drop(report: dict[str, Any], task: Task, reason: str) -> None:
    dropped = report["tasks"][task.name]["dropped"]
    dropped[reason] = dropped.get(reason, 0) + 1
