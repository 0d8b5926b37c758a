"""Token counts with a Hugging Face tokenizer (the optional ``tokens`` extra: ``pip install warp-ir-dataset[tokens]``).

A tokenizer is named by a local ``tokenizer.json`` (or a folder holding one), or by a Hub
repository (``Qwen/Qwen2.5-Coder-7B``), fetched by ``tokenizers`` on a machine with network.
Counts are of the text alone (no special tokens added), so they do not depend on a chat template.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from common.errors import WarpIRError, first_line
from generator.codegen.rowstats import CODE_COLUMNS
from warp_ir.stats import CONFIG_PREFIX, iter_rows, split_files

logger = logging.getLogger(__name__)

PERCENTILES = (50, 90, 95, 99)
ENCODE_BATCH = 256  # texts encoded at once (``encode_batch`` spreads a batch over its own threads)


class TokenizerError(WarpIRError, ValueError):
    """A tokenizer cannot be loaded (a one-line reason)."""


def load_tokenizer(name: str) -> Any:
    """A ``tokenizers.Tokenizer`` from a ``tokenizer.json``, a folder holding one, or a Hub repository name.

    Raises:
        TokenizerError: ``tokenizers`` is not installed, or the tokenizer cannot be loaded.
    """
    try:
        from tokenizers import Tokenizer  # noqa: PLC0415 - an optional extra
    except ImportError:
        raise TokenizerError("counting tokens needs the tokenizers package: pip install 'warp-ir-dataset[tokens]'") \
            from None
    path = Path(name)
    if path.is_dir():
        path = path / "tokenizer.json"
    try:
        if path.is_file():
            return Tokenizer.from_file(str(path))
        if path.suffix == ".json" or name.startswith((".", "/")):
            raise TokenizerError(f"tokenizer {name}: no such file")
        return Tokenizer.from_pretrained(name)
    except TokenizerError:
        raise
    except Exception as exc:  # tokenizers raises plain Exceptions (parse errors, network)
        raise TokenizerError(f"cannot load tokenizer {name}: {first_line(exc)}") from None


def tokenizer_name(name: str) -> str:
    """How a tokenizer is recorded: a Hub name as given, a local file by its file name only (no user paths)."""
    path = Path(name)
    return path.name if path.exists() else name


def count_tokens(tokenizer: Any, texts: Sequence[str]) -> list[int]:
    """Tokens of each of ``texts`` (no special tokens)."""
    out: list[int] = []
    for i in range(0, len(texts), ENCODE_BATCH):
        out += [len(e.ids) for e in tokenizer.encode_batch(list(texts[i:i + ENCODE_BATCH]), add_special_tokens=False)]
    return out


def percentiles(counts: Iterable[int]) -> dict[str, int]:
    """``p50``, ``p90``, ``p95``, ``p99``, ``max`` and ``rows`` of ``counts`` (nearest-rank, so whole tokens)."""
    values = np.sort(np.fromiter(counts, dtype=np.int64))
    if not len(values):
        return {"rows": 0}
    out = {f"p{p}": int(values[max(0, int(np.ceil(p / 100 * len(values))) - 1)]) for p in PERCENTILES}
    out.update(max=int(values[-1]), rows=int(len(values)))
    return out


def token_lengths(folder: Path, tokenizer: Any, name: str, config: str = "synthetic") -> dict[str, Any]:
    """Percentiles of the token counts of each code column of one configuration's rows (empty cells skipped).

    Args:
        folder: A built folder.
        tokenizer: A loaded tokenizer.
        name: How the tokenizer is recorded (:func:`tokenizer_name`).
        config: ``synthetic`` or ``real``.
    """
    paths = [p for ps in split_files(folder, CONFIG_PREFIX[config]).values() for p in ps]
    counts: dict[str, list[int]] = {c: [] for c in CODE_COLUMNS}
    batch: dict[str, list[str]] = {c: [] for c in CODE_COLUMNS}
    for row in iter_rows(paths, list(CODE_COLUMNS)):
        for column in CODE_COLUMNS:
            if row.get(column):
                batch[column].append(row[column])
                if len(batch[column]) >= ENCODE_BATCH:
                    counts[column] += count_tokens(tokenizer, batch[column])
                    batch[column] = []
    for column, texts in batch.items():
        counts[column] += count_tokens(tokenizer, texts)
    return {"tokenizer": name, "columns": {c: percentiles(v) for c, v in counts.items()}}


def format_tokens(tokens: dict[str, Any]) -> str:
    """Human-readable token percentiles (what ``warp-ir stats --tokenizer`` prints)."""
    out = [f"tokens ({tokens['tokenizer']}): column  rows  p50  p90  p95  p99  max"]
    for column, t in tokens["columns"].items():
        if t.get("rows"):
            out.append(f"  {column:<14} {t['rows']:>6} " + " ".join(f"{t[k]:>6}" for k in ("p50", "p90", "p95", "p99",
                                                                                          "max")))
    return "\n".join(out)
