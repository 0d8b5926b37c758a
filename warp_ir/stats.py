"""Statistics of a built dataset folder: rows, lengths, builtin coverage, rejections, validation."""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from common.errors import WarpIRError, first_line
from evaluation.conflicts import ROW_COLUMNS, InputConflicts
from generator.codegen.rowstats import (
    CONFIG_PREFIX,
    STATS_COLUMNS,
    RowStats,
    builtin_groups,
    builtin_name_set,
    split_rank,
)

BUILD_INFO = "build_info.json"

logger = logging.getLogger(__name__)
DIVERSITY_ROWS_PER_PROCESS = 5000  # diversity() starts a process for signatures per this many rows (up to one a CPU)


class StatsError(WarpIRError, ValueError):
    """A file of a built folder cannot be read; the message is one line naming the file."""


HUB_FILE_RE = re.compile(r"^(?P<split>[A-Za-z]\w*)-\d{5}-of-\d{5}\.parquet$")  # what warp_ir.writer.hub_file names


def split_files(folder: Path, prefix: str = "data") -> dict[str, list[Path]]:
    """Parquet files of each split under ``folder/prefix`` (``<split>-XXXXX-of-YYYYY.parquet``).

    Other files there (a user's own ``train-mine.parquet``) are not part of the build, and the
    card's ``data_files`` patterns do not load them either.
    """
    files: dict[str, list[Path]] = {}
    for path in sorted((folder / prefix).glob("*.parquet")):
        match = HUB_FILE_RE.match(path.name)
        if match:
            files.setdefault(match["split"], []).append(path)
    return dict(sorted(files.items(), key=lambda kv: split_rank(kv[0])))


def build_info(folder: Path) -> dict[str, Any]:
    """``build_info.json`` of a built folder: config name -> what its last build recorded (``{}`` when absent).

    Raises:
        StatsError: The file is not a JSON object.
    """
    path = folder / BUILD_INFO
    if not path.exists():
        return {}
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StatsError(f"{path} is not valid JSON: {first_line(exc)}") from None
    except OSError as exc:  # a folder by that name, no permission, ...
        raise StatsError(f"cannot read {path}: {first_line(exc)}") from None
    if not isinstance(info, dict):
        raise StatsError(f"{path} is not valid JSON: expected an object, got {type(info).__name__}")
    return info


@contextmanager
def _reading(path: Path) -> Iterator[None]:
    """Turn pyarrow's (or the OS's) failure to read the Parquet file ``path`` into a one-line :class:`StatsError`."""
    try:
        yield
    except (pa.ArrowException, OSError) as exc:  # ArrowInvalid: not Parquet / truncated; OSError: I/O, permissions
        raise StatsError(f"cannot read {path}: {first_line(exc)}") from None


def iter_rows(paths: list[Path], columns: list[str], batch_size: int = 512) -> Iterator[dict[str, Any]]:
    """Rows of some Parquet files, a batch at a time (a build's code columns do not fit in memory at once)."""
    for path in paths:
        with _reading(path):
            pf = pq.ParquetFile(path)
            wanted = [c for c in columns if c in pf.schema_arrow.names]
            batches = pf.iter_batches(batch_size=batch_size, columns=wanted)
        while True:
            with _reading(path):  # a file can also break part-way (a corrupt page)
                batch = next(batches, None)
                rows = batch.to_pylist() if batch is not None else None
            if rows is None:
                break
            yield from rows


# what a configuration's record holds for the builds of the other configurations, not for its own card
RECORD_ONLY = ("summary", "program_keys")


def record_for_card(entry: dict[str, Any]) -> dict[str, Any]:
    """A configuration's ``build_info.json`` entry as its card shows it (without :data:`RECORD_ONLY`)."""
    return {key: value for key, value in entry.items() if key not in RECORD_ONLY}


def compute_stats(folder: Path, config: str = "synthetic", builtin_names: list[str] | None = None) -> dict[str, Any]:
    """Statistics of one configuration of the dataset written under ``folder``, read from its Parquet files.

    Args:
        folder: A folder written by ``warp-ir build``.
        config: ``synthetic`` (``data/``) or ``real`` (``real/``).
        builtin_names: Warp's user-facing builtins (default: read from the installed Warp).

    Raises:
        StatsError: ``folder`` holds no Parquet files for ``config``, or one of them or ``build_info.json``
            cannot be read.
    """
    files = split_files(folder, CONFIG_PREFIX[config])
    if not files:
        raise StatsError(f"no Parquet files under {folder / CONFIG_PREFIX[config]}")
    info = record_for_card(build_info(folder).get(config, {}))  # before the long pass: a broken file fails fast
    names = set(builtin_names) if builtin_names is not None else builtin_name_set()
    conflicts = InputConflicts()  # per task, model inputs rows share with different references, every split
    stats = files_row_stats(files, names, conflicts)
    out = stats.summary(config, names, info, list(files), builtin_groups() if builtin_names is None else None)
    out["one_answer"] = conflicts.summary()
    return out


def files_row_stats(files: dict[str, list[Path]], names: set[str],
                    conflicts: InputConflicts | None = None) -> RowStats:
    """The :class:`RowStats` of the rows of ``files`` (split -> its Parquet files in row order), read back;
    with ``conflicts``, the same pass adds every row to it too.

    Raises:
        StatsError: A file cannot be read.
    """
    stats = RowStats()
    columns = list(dict.fromkeys([*STATS_COLUMNS, *(ROW_COLUMNS if conflicts is not None else ())]))
    for split, paths in files.items():
        for row in iter_rows(paths, columns):
            stats.add(split, row, names)
            if conflicts is not None:
                conflicts.add(row)
    return stats


def program_keys(folder: Path, config: str) -> Iterator[tuple[str, str]]:
    """``(program key, kernel name)`` of every program of one configuration, read a file at a time."""
    from generator.planning.shingles import program_key  # noqa: PLC0415

    for paths in split_files(folder, CONFIG_PREFIX[config]).values():
        for path in paths:
            with _reading(path):
                rows = pq.read_table(path, columns=["python_source", "kernel_name"]).to_pylist()
            for row in rows:
                yield program_key(row["python_source"] or ""), row["kernel_name"]


def real_in_synthetic(synthetic_folder: Path, real_folder: Path | None = None) -> list[str]:
    """Kernels of the ``real`` configuration whose normalised program also appears in ``synthetic``, read from
    the rows (a build takes them from what it recorded instead: :func:`warp_ir.build_record.real_overlap`).

    Only the real programs' keys are held (a few thousand); the synthetic ones stream past.

    Args:
        synthetic_folder: Folder holding ``data/``.
        real_folder: Folder holding ``real/`` (default: the same folder).
    """
    real_folder = real_folder or synthetic_folder
    if not split_files(synthetic_folder, "data") or not split_files(real_folder, "real"):
        return []
    real = dict(program_keys(real_folder, "real"))
    return in_real(real, (key for key, _ in program_keys(synthetic_folder, "synthetic")))


def in_real(real: dict[str, str], synthetic: Iterable[str]) -> list[str]:
    """The kernels of ``real`` (program key -> kernel) whose key is among the ``synthetic`` keys, sorted."""
    return sorted({real[key] for key in synthetic if key in real})


def diversity(folder: Path, config: str = "synthetic", threshold: float | None = None,
              processes: int | None = None, use_datasketch: bool = True,
              known: tuple[np.ndarray, np.ndarray] | None = None) -> dict[str, Any]:
    """Near-twins among the programs of one configuration: MinHash over normalised 5-token shingles.

    Reads ``python_source`` of every row (a batch at a time) and keeps only its signature
    (512 bytes a row); see :mod:`generator.planning.similarity`. ``warp-ir stats --diversity`` computes
    it with datasketch; a build computes the same values with NumPy for its card (and
    ``build_info.json``).

    Args:
        folder: A folder written by ``warp-ir build``.
        config: ``synthetic`` (``data/``) or ``real`` (``real/``).
        threshold: Estimated Jaccard at or above which two rows are near-twins (default 0.85).
        processes: Processes computing signatures (default: one per CPU, up to 8, for
            :data:`DIVERSITY_ROWS_PER_PROCESS` rows or more each; else 1).
        use_datasketch: Compute the MinHash signatures with ``datasketch.MinHash`` (same values).
        known: Row ids (``int(id, 16)``) and their signatures, computed already (a build passes its plan's):
            when every row's id is among them only the ``id`` column is read, else signatures are computed.

    Returns:
        :meth:`generator.planning.similarity.DiversityReport.to_json` of the rows, in split order.

    Raises:
        StatsError: ``folder`` holds no Parquet files for ``config``, or one cannot be read.
    """
    files = split_files(folder, CONFIG_PREFIX[config])
    if not files:
        raise StatsError(f"no Parquet files under {folder / CONFIG_PREFIX[config]}")
    return files_diversity(files, threshold, processes, use_datasketch, known)


def files_diversity(files: dict[str, list[Path]], threshold: float | None = None, processes: int | None = None,
                    use_datasketch: bool = True, known: tuple[np.ndarray, np.ndarray] | None = None) -> dict[str, Any]:
    """:func:`diversity` of the rows of ``files`` (split -> its Parquet files in row order, splits in split order).

    Raises:
        StatsError: A file cannot be read.
    """
    from generator.planning import astpaths, minhash, similarity  # noqa: PLC0415

    splits: list[str] = []
    threshold = similarity.DEFAULT_TWIN_THRESHOLD if threshold is None else threshold
    if known is not None:
        matrix = _known_signatures(files, known, splits)
        if matrix is not None:
            return similarity.two_measures(matrix, splits, threshold)
        splits.clear()
    if processes is None:
        rows = 0
        for path in (p for paths in files.values() for p in paths):
            with _reading(path):
                rows += pq.ParquetFile(path).metadata.num_rows
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        processes = max(1, min(cpus, 8, rows // DIVERSITY_ROWS_PER_PROCESS))

    def sources() -> Iterator[str]:
        for split, paths in files.items():
            for row in iter_rows(paths, ["python_source"]):
                splits.append(split)
                yield row["python_source"] or ""

    started = time.perf_counter()
    matrix = minhash.signatures(sources(), processes=processes, use_datasketch=use_datasketch)
    tree = astpaths.signatures([row["python_source"] or "" for paths in files.values()
                                for row in iter_rows(paths, ["python_source"])])
    logger.info("signatures of %d rows in %.1fs (%d process(es))", len(matrix), time.perf_counter() - started,
                processes)
    return similarity.two_measures(np.hstack([matrix, tree]), splits, threshold)


def _known_signatures(files: dict[str, list[Path]], known: tuple[np.ndarray, np.ndarray],
                      splits: list[str]) -> np.ndarray | None:
    """The signatures of the rows of ``files`` (in order) from ``known``, filling ``splits``.

    Returns ``None`` if one is missing.
    """
    wanted = []
    try:
        for split, paths in files.items():
            for row in iter_rows(paths, ["id"]):
                splits.append(split)
                wanted.append(int(row["id"], 16))
    except (TypeError, ValueError, OverflowError):  # not a synthetic row id
        return None
    return signatures_for_ids(np.array(wanted, dtype=np.uint64), known)


def signatures_for_ids(wanted_ids: np.ndarray, known: tuple[np.ndarray, np.ndarray]) -> np.ndarray | None:
    """The signatures of the rows ``wanted_ids`` (``uint64``, in order) from ``known`` (row ids and their
    signatures); ``None`` when one of them is not there."""
    ids, sigs = known
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    at = np.minimum(np.searchsorted(sorted_ids, wanted_ids), max(0, len(sorted_ids) - 1))
    if not len(sorted_ids) or not np.array_equal(sorted_ids[at], wanted_ids):
        logger.info("some rows are not in the plan's signatures: computing them from the sources")
        return None
    return sigs[order[at]]


def format_diversity(div: dict[str, Any]) -> str:
    """Human-readable summary of :func:`diversity` output (what ``warp-ir stats --diversity`` prints)."""
    total, held = div["total_rows"], div["heldout_rows"]
    measures = div.get("measures") or {}
    out = [f"diversity (MinHash of normalised {div['params']['shingle']}-token shingles, "
           f"near-twin: estimated Jaccard >= {div['threshold']}):",
           f"  rows with a near-twin: {div['rows_with_twin']} of {total} ({div['rows_with_twin_fraction']:.1%})",
           f"  held-out rows with a train near-twin: {div['heldout_with_train_twin']} of {held}"
           + (f" ({div['heldout_with_train_twin_fraction']:.1%})" if held else ""),
           f"  rows with a near-twin in another split: {div['rows_with_cross_split_twin']}"]
    for name, label in (("tokens", "token shingles"), ("syntax_tree", "syntax-tree paths")):
        m = measures.get(name)
        if m:
            out.append(f"  {label} at estimated Jaccard >= {m['threshold']}: rows with a near-twin "
                       f"{m['rows_with_twin']} ({m['rows_with_twin_fraction']:.1%}), held-out rows with a train "
                       f"near-twin {m['heldout_with_train_twin']} of {m['heldout_rows']} "
                       f"({m['heldout_with_train_twin_fraction']:.2%})")
    out.append("  highest similarity to another row:")
    width = max(len(label) for label in div["max_similarity_histogram"])
    out += [f"    {label:<{width}} {n:>7}  {n / total if total else 0:6.1%}"
            for label, n in div["max_similarity_histogram"].items()]
    return "\n".join(out)


_REALISM_LINES = (("rows with a dead local", "dead_local_rows", "{:.1%}"),
                  ("rows with a degenerate operation", "degenerate_rows", "{:.1%}"),
                  ("arbitrary constants per line", "arbitrary_constants_per_line", "{:.3f}"),
                  ("median call depth", "median_call_depth", "{:.0f}"),
                  ("median longest line", "median_longest_line", "{:.0f}"),
                  ("median lines", "median_lines", "{:.0f}"),
                  ("median cpp_backward chars", "median_cpp_backward", "{:,.0f}"))


def format_realism(realism: dict[str, Any]) -> list[str]:
    """The realism section of ``warp-ir stats``: per source, and the features beside real code's."""
    sources = dict(realism.get("sources") or {})
    if not sources:
        return []
    reference = realism.get("real_reference")
    if reference and "real" not in sources:
        sources["real (reference)"] = reference["summary"]
    names = list(sources)
    out = ["how the programs read (per source: " + ", ".join(f"{n} {sources[n]['rows']} rows" for n in names) + "):"]
    for label, key, fmt in _REALISM_LINES:
        out.append(f"  {label:<34}" + "".join(f"{fmt.format(sources[n][key]):>18}" for n in names))
    build = realism.get("build_features") or {}
    columns = names + (["whole build"] if build else [])
    out.append(f"features, % of rows ({' / '.join(columns)}; * an idiom of real Warp code):")
    for f in realism.get("features") or []:
        values = [sources[n]["features"].get(f["name"], 0.0) for n in names]
        if build:
            values.append(build.get(f["name"], 0.0))
        out.append(f"  {f['name'] + (' *' if f['idiom'] else ''):<24}" + "".join(f"{100 * v:>8.1f}" for v in values))
    if realism.get("gap"):
        out.append(f"  the whole build is {realism['gap']['mean_gap_pp']} percentage points from real code on average "
                   f"(at most {realism['gap']['max_gap_pp']}); idioms below half their real frequency: "
                   + (", ".join(realism.get("idioms_below_half") or []) or "none"))
    return out


def format_stats(stats: dict[str, Any]) -> str:
    """Human-readable summary of :func:`compute_stats` output (what ``warp-ir stats`` prints)."""
    out = [f"rows: {stats['total_rows']}  " + "  ".join(f"{k}={v}" for k, v in stats["rows"].items())]
    out.append(f"families ({len(stats['families'])}):")
    out += [f"  {f:<22} {n}" for f, n in stats["families"].items()]
    out.append("complexity: " + "  ".join(f"{k}={v}" for k, v in stats["complexity"].items()))
    out.append("lines per column (min / p50 / p90 / max):")
    for c, d in stats["lines"].items():
        if d:
            out.append(f"  {c:<15} {d['min']} / {d['p50']:.0f} / {d['p90']:.0f} / {d['max']}")
    out.append("chars per column (min / p50 / p90 / max):")
    for c, d in stats["chars"].items():
        if d:
            out.append(f"  {c:<15} {d['min']} / {d['p50']:.0f} / {d['p90']:.0f} / {d['max']}")
    cov = stats["builtin_coverage"]
    out.append(f"builtin coverage: {cov['covered']}/{cov['user_builtins']} = {cov['fraction']:.1%}")
    for group, (covered, total) in cov.get("by_group", {}).items():
        out.append(f"  {group:<16} {covered}/{total}")
    out.append("  never used: " + ", ".join(cov["never_used"]))
    out.append("validation: " + json.dumps(stats["validation"], sort_keys=True))
    if stats.get("one_answer"):
        out.append("one question, one answer (model inputs shared by rows with different references, every split):")
        for task, c in stats["one_answer"].items():
            out.append(f"  {task:<22} {c['conflicting_inputs']} of {c['inputs']} inputs"
                       + (f" ({c['conflicting_rows']} rows, e.g. {', '.join(c['examples'][0])})"
                          if c["conflicting_inputs"] else ""))
    out += format_realism(stats.get("realism") or {})
    if any(stats.get("absolute_paths", {}).values()):
        out.append("WARNING: rows hold absolute paths of the machine that built them (per column: "
                   + ", ".join(f"{c} {n}" for c, n in stats["absolute_paths"].items())
                   + "): rebuild them with this warp-ir, which writes paths relative to the installation")
    build = stats.get("build") or {}
    if build.get("real_report"):
        totals = build["real_report"]["totals"]
        out.append(f"real: kernels found {totals['kernels_found']}, to extract {totals['to_extract']}, extracted "
                   f"{totals['extracted']} ({(totals['extracted_fraction'] or 0):.1%}), "
                   f"failed {totals['failed_count']}, "
                   f"duplicates {totals['duplicates']}, records {totals['records']}")
        for name, rep in build["real_report"]["packages"].items():
            out.append(f"  {name} {rep['version'] or ''} [{rep['status']}]: found {rep['kernels_found']}, "
                       f"extracted {rep['extracted']}, failed {rep['failed_count']} {rep['failed'] or ''}")
    if build.get("plan"):
        plan = build.get("plan", {})
        out.append(f"drawn: {plan.get('draws')}  exact duplicates removed: {plan.get('exact_duplicates')}  "
                   f"near duplicates removed: {plan.get('near_duplicates')}  "
                   f"fuzzy duplicates removed: {plan.get('fuzzy_duplicates', 0)}  "
                   f"near-twins in two splits dropped: {plan.get('bridges_splits', 0)}")
        families = stats["families"]
        synthesized = families.get("synthesized", 0)
        out.append(f"rows by source: template {stats['total_rows'] - synthesized}, synthesized {synthesized}")
        rejected = build.get("rejected", {})
        out.append(f"rejected: {sum(rejected.values())}")
        out += [f"  {n:>5}  {reason}" for reason, n in sorted(rejected.items(), key=lambda kv: -kv[1])]
    return "\n".join(out)
