"""Statistics of a built dataset folder: rows, lengths, builtin coverage, rejections, validation."""

from __future__ import annotations

import json
import logging
import os
import re
import time
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

CODE_COLUMNS = ("python_source", "cpp_forward", "cpp_backward", "cuda_forward", "cuda_backward")
# Calls as ``wp.x(`` / ``wp::x(``; the patterns start with a literal (fast to scan for), and a match
# preceded by an identifier character (``xwp.x(``) is dropped afterwards.
_PY_BUILTIN_RE = re.compile(r"wp\.((?:types\.)?\w+)\s*\(")
_CPP_BUILTIN_RE = re.compile(r"wp::(?:adj_)?(\w+)\s*(?:<[^<>();]*>)?\s*\(")  # also templated: wp::f<4>(
BUILD_INFO = "build_info.json"
CONFIG_PREFIX = {"synthetic": "data", "real": "real"}
SPLIT_ORDER = ("train", "validation", "test")
ROW_STATS = "rows"  # subfolder of a build's stats folder holding one RowStats file per shard
# the columns RowStats.add reads
STATS_COLUMNS = ("family", "template", "complexity", "kernel_name", "validation", "differentiable", *CODE_COLUMNS)


logger = logging.getLogger(__name__)
DIVERSITY_ROWS_PER_PROCESS = 5000  # diversity() starts a process for signatures per this many rows (up to one a CPU)


class StatsError(ValueError):
    """A file of a built folder cannot be read; the message is one line naming the file."""


def _first_line(exc: BaseException) -> str:
    """The first non-empty line of ``exc``'s message (its type name when it has none)."""
    return next((ln.strip() for ln in str(exc).splitlines() if ln.strip()), type(exc).__name__)


def _split_rank(split: str) -> tuple[int, str]:
    """Sort key of a split: train, validation, test, then any other by name."""
    return (SPLIT_ORDER.index(split) if split in SPLIT_ORDER else len(SPLIT_ORDER), split)


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
    return dict(sorted(files.items(), key=lambda kv: _split_rank(kv[0])))


# Type constructors are builtins under their generic names: wp.vec3(...) is the ``vector`` builtin.
_CONSTRUCTORS = (
    (re.compile(r"vec\d\w*|types\.vector"), "vector"),
    (re.compile(r"mat\d\d\w*|types\.matrix"), "matrix"),
    (re.compile(r"quat[hfd]?|types\.quaternion"), "quaternion"),
    (re.compile(r"transform[hfd]?|types\.transformation"), "transformation"),
    (re.compile(r"spatial_(vector|matrix)[hfd]?"), "spatial_vector"),
)


def _called(pattern: re.Pattern, text: str) -> set[str]:
    """Names ``pattern`` captures in ``text``, where the match does not continue an identifier."""
    return {m.group(1) for m in pattern.finditer(text)
            if not m.start() or not (text[m.start() - 1].isalnum() or text[m.start() - 1] == "_")}


def builtins_used(python_source: str, cpp_forward: str | None, names: set[str]) -> set[str]:
    """Which of Warp's builtin ``names`` a program calls.

    A builtin counts when it is called as ``wp.x(`` in Python, as ``wp::x(`` (or ``wp::adj_x(``)
    in the generated C++, or, for type constructors, as ``wp.vec3(``-style calls.
    """
    called = _called(_PY_BUILTIN_RE, python_source)
    used = called & names
    used |= {name for pattern, name in _CONSTRUCTORS
             if name in names and any(pattern.fullmatch(c) for c in called)}
    if cpp_forward:
        used |= _called(_CPP_BUILTIN_RE, cpp_forward) & names
    return used


LINE_BINS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 1 << 30)  # line-count histogram edges


def _histogram(values: Sequence[int]) -> list[int]:
    """Rows per :data:`LINE_BINS` bin (``[1, 2)``, ``[2, 4)``, ..., ``[8192, ...)``)."""
    counts, _ = np.histogram(np.asarray(values, dtype=np.int64), bins=LINE_BINS)
    return counts.tolist()


def _dist(values: Sequence[int]) -> dict[str, float]:
    if not values:
        return {}
    arr = np.asarray(values)
    return {"min": int(arr.min()), "p10": float(np.percentile(arr, 10)), "p50": float(np.percentile(arr, 50)),
            "p90": float(np.percentile(arr, 90)), "max": int(arr.max()), "mean": round(float(arr.mean()), 1)}


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
        raise StatsError(f"{path} is not valid JSON: {_first_line(exc)}") from None
    except OSError as exc:  # a folder by that name, no permission, ...
        raise StatsError(f"cannot read {path}: {_first_line(exc)}") from None
    if not isinstance(info, dict):
        raise StatsError(f"{path} is not valid JSON: expected an object, got {type(info).__name__}")
    return info


@contextmanager
def _reading(path: Path) -> Iterator[None]:
    """Turn pyarrow's (or the OS's) failure to read the Parquet file ``path`` into a one-line :class:`StatsError`."""
    try:
        yield
    except (pa.ArrowException, OSError) as exc:  # ArrowInvalid: not Parquet / truncated; OSError: I/O, permissions
        raise StatsError(f"cannot read {path}: {_first_line(exc)}") from None


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


@dataclass(slots=True)
class RowStats:
    """Statistics of rows, added one at a time; partial statistics (one per shard) merge.

    A build's workers fill one per shard while the rows stream past, so the driver only merges
    them; :func:`compute_stats` fills one from a folder's Parquet files. Merged in row order
    (split order, then shard order), partials give exactly what one pass over the rows gives.
    """

    rows: Counter = field(default_factory=Counter)  # split -> rows
    family: Counter = field(default_factory=Counter)
    complexity: Counter = field(default_factory=Counter)
    family_complexity: Counter = field(default_factory=Counter)  # "family/complexity" -> rows
    # one value per row and column, 4 bytes each (a million rows: 40 MB, not a Python list's 360 MB)
    lines: dict[str, array] = field(default_factory=lambda: {c: array("i") for c in CODE_COLUMNS})
    chars: dict[str, array] = field(default_factory=lambda: {c: array("i") for c in CODE_COLUMNS})
    used: Counter = field(default_factory=Counter)  # builtin -> rows that call it
    levels: Counter = field(default_factory=Counter)
    flags: Counter = field(default_factory=Counter)
    grad_failures: list[dict[str, Any]] = field(default_factory=list)

    def add(self, split: str, row: dict[str, Any], names: set[str]) -> None:
        """Count one row of ``split`` (``names``: Warp's user-facing builtins)."""
        self.rows[split] += 1
        self.family[row["family"]] += 1
        self.complexity[int(row["complexity"])] += 1
        self.family_complexity[f"{row['family']}/{int(row['complexity'])}"] += 1
        for c in CODE_COLUMNS:
            text = row.get(c)
            if text:
                self.lines[c].append(text.count("\n") + 1)
                self.chars[c].append(len(text))
        self.used.update(builtins_used(row["python_source"], row.get("cpp_forward"), names))
        v = row.get("validation") or {}
        self.levels[v.get("level", "codegen")] += 1
        for key in ("cpu_compiled", "cuda_compiled", "ran", "grad_ok"):
            if v.get(key) is True:
                self.flags[key] += 1
            elif v.get(key) is False:
                self.flags[f"{key}_false"] += 1
        if v.get("differentiable"):
            self.flags["differentiable"] += 1
        if v.get("differentiable") and v.get("level") in ("run", "grad") and v.get("ran") and v.get("grad_ok") is not True:
            self.flags["grad_not_ok"] += 1
            if len(self.grad_failures) < 100:
                self.grad_failures.append({"kernel": row["kernel_name"], "family": row["family"],
                                           "template": row.get("template", ""), "note": v.get("note")})

    def merge(self, other: RowStats) -> None:
        """Add ``other`` (the rows that come after this one's) into this."""
        for name in ("rows", "family", "complexity", "family_complexity", "used", "levels", "flags"):
            getattr(self, name).update(getattr(other, name))
        for c in CODE_COLUMNS:
            self.lines[c] += other.lines[c]
            self.chars[c] += other.chars[c]
        self.grad_failures += other.grad_failures[: 100 - len(self.grad_failures)]

    def to_json(self) -> dict[str, Any]:
        """Plain JSON form."""
        out = {name: getattr(self, name) for name in self.__slots__}
        out["lines"] = {c: v.tolist() for c, v in self.lines.items()}
        out["chars"] = {c: v.tolist() for c, v in self.chars.items()}
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RowStats:
        """Inverse of :meth:`to_json`."""
        out = cls(**{name: Counter(data[name]) for name in ("rows", "family", "family_complexity", "used", "levels",
                                                             "flags")})
        out.complexity = Counter({int(k): n for k, n in data["complexity"].items()})
        out.lines = {c: array("i", v) for c, v in data["lines"].items()}
        out.chars = {c: array("i", v) for c, v in data["chars"].items()}
        out.grad_failures = data["grad_failures"]
        return out

    def summary(self, config: str, names: set[str], info: dict[str, Any], splits: list[str] | None = None,
                groups: dict[str, str] | None = None) -> dict[str, Any]:
        """The statistics of one configuration, as the card and ``warp-ir stats`` show them.

        Args:
            config: Config name.
            names: Warp's user-facing builtins.
            info: What ``build_info.json`` records for this configuration.
            splits: Every split present, in order (one without rows shows 0).
            groups: Builtin -> its documentation group (coverage is then also given per group).
        """
        rows = {split: self.rows.get(split, 0) for split in (splits or list(self.rows))}
        covered = sorted(self.used)
        return {
            "config": config,
            "prefix": CONFIG_PREFIX[config],
            "rows": rows,
            "total_rows": sum(rows.values()),
            "families": dict(sorted(self.family.items())),
            "complexity": dict(sorted(self.complexity.items())),
            "family_complexity": dict(sorted(self.family_complexity.items(),
                                             key=lambda kv: (kv[0].rsplit("/", 1)[0], int(kv[0].rsplit("/", 1)[1])))),
            "lines": {c: _dist(v) for c, v in self.lines.items()},
            "line_histograms": {"edges": list(LINE_BINS), **{c: _histogram(v) for c, v in self.lines.items() if v}},
            "chars": {c: _dist(v) for c, v in self.chars.items()},
            "builtin_coverage": {
                "user_builtins": len(names),
                "covered": len(covered),
                "fraction": round(len(covered) / max(1, len(names)), 4),
                "never_used": sorted(names - self.used.keys()),
                # ties broken by name: a Counter's own order follows set iteration, which varies by process
                "most_used": sorted(self.used.items(), key=lambda kv: (-kv[1], kv[0]))[:20],
                "by_group": _by_group(names, self.used.keys(), groups or {}),
            },
            "validation": {"levels": dict(self.levels), **dict(self.flags)},
            "grad_failures": self.grad_failures,
            "build": info,
        }


def _by_group(names: set[str], used: Iterable[str], groups: dict[str, str]) -> dict[str, list[int]]:
    """Group -> ``[covered, total]`` user-facing builtins (groups sorted by name; empty without groups)."""
    if not groups:
        return {}
    used = set(used)
    out: dict[str, list[int]] = {}
    for name in sorted(names):
        entry = out.setdefault(groups.get(name, "Other"), [0, 0])
        entry[0] += name in used
        entry[1] += 1
    return dict(sorted(out.items()))


def merge_row_stats(folder: Path) -> RowStats | None:
    """Merge the per-shard :class:`RowStats` files in ``folder``, in row order; ``None`` when there are none."""
    paths = sorted(folder.glob("*.json"), key=lambda p: (_split_rank(p.stem.rsplit("-", 1)[0]), p.name))
    if not paths:
        return None
    total = RowStats()
    for path in paths:
        total.merge(RowStats.from_json(json.loads(path.read_text())))
    return total


def builtin_name_set() -> set[str]:
    """Warp's user-facing builtins (imports Warp)."""
    from extraction import user_builtin_names  # noqa: PLC0415 - imports Warp

    return set(user_builtin_names())


def builtin_groups() -> dict[str, str]:
    """Each user-facing builtin's documentation group (imports Warp)."""
    from extraction import user_builtin_groups  # noqa: PLC0415 - imports Warp

    return user_builtin_groups()


def compute_stats(folder: Path, config: str = "synthetic", builtin_names: list[str] | None = None) -> dict[str, Any]:
    """Statistics of one configuration of the dataset written under ``folder``, read from its Parquet files.

    Args:
        folder: A folder written by ``warp-ir build``.
        config: ``synthetic`` (``data/``) or ``real`` (``real/``).
        builtin_names: Warp's user-facing builtins (default: read from the installed Warp).

    Raises:
        FileNotFoundError: ``folder`` holds no Parquet files for ``config``.
        StatsError: A Parquet file or ``build_info.json`` cannot be read.
    """
    files = split_files(folder, CONFIG_PREFIX[config])
    if not files:
        raise FileNotFoundError(f"no Parquet files under {folder / CONFIG_PREFIX[config]}")
    info = build_info(folder).get(config, {})  # before the long pass over the rows: a broken file fails fast
    names = set(builtin_names) if builtin_names is not None else builtin_name_set()
    stats = RowStats()
    for split, paths in files.items():
        for row in iter_rows(paths, list(STATS_COLUMNS)):
            stats.add(split, row, names)
    return stats.summary(config, names, info, list(files), builtin_groups() if builtin_names is None else None)


def normalized_hashes(folder: Path, config: str) -> dict[str, str]:
    """Normalised hash -> kernel name, for every program of one configuration."""
    from generator.normalize import normalized_hash  # noqa: PLC0415

    out = {}
    for paths in split_files(folder, CONFIG_PREFIX[config]).values():
        for path in paths:
            with _reading(path):
                rows = pq.read_table(path, columns=["python_source", "kernel_name"]).to_pylist()
            for row in rows:
                out[normalized_hash(row["python_source"])] = row["kernel_name"]
    return out


def real_in_synthetic(synthetic_folder: Path, real_folder: Path | None = None) -> list[str]:
    """Kernels of the ``real`` configuration whose normalised program also appears in ``synthetic``.

    Args:
        synthetic_folder: Folder holding ``data/``.
        real_folder: Folder holding ``real/`` (default: the same folder).
    """
    real_folder = real_folder or synthetic_folder
    if not split_files(synthetic_folder, "data") or not split_files(real_folder, "real"):
        return []
    synthetic = normalized_hashes(synthetic_folder, "synthetic")
    return sorted(name for h, name in normalized_hashes(real_folder, "real").items() if h in synthetic)


def diversity(folder: Path, config: str = "synthetic", threshold: float | None = None,
              processes: int | None = None, use_datasketch: bool = True,
              known: tuple[np.ndarray, np.ndarray] | None = None) -> dict[str, Any]:
    """Near-twins among the programs of one configuration: MinHash over normalised 5-token shingles.

    Reads ``python_source`` of every row (a batch at a time) and keeps only its signature
    (512 bytes a row); see :mod:`generator.similarity`. ``warp-ir stats --diversity`` computes
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
        :meth:`generator.similarity.DiversityReport.to_json` of the rows, in split order.

    Raises:
        FileNotFoundError: ``folder`` holds no Parquet files for ``config``.
        StatsError: A Parquet file cannot be read.
    """
    from generator import similarity  # noqa: PLC0415 - only needed here

    files = split_files(folder, CONFIG_PREFIX[config])
    if not files:
        raise FileNotFoundError(f"no Parquet files under {folder / CONFIG_PREFIX[config]}")
    splits: list[str] = []
    threshold = similarity.DEFAULT_THRESHOLD if threshold is None else threshold
    if known is not None:
        matrix = _known_signatures(files, known, splits)
        if matrix is not None:
            return similarity.near_twins(matrix, splits, threshold).to_json()
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
    matrix = similarity.signatures(sources(), processes=processes, use_datasketch=use_datasketch)
    logger.info("signatures of %d rows in %.1fs (%d process(es))", len(matrix), time.perf_counter() - started,
                processes)
    return similarity.near_twins(matrix, splits, threshold).to_json()


def _known_signatures(files: dict[str, list[Path]], known: tuple[np.ndarray, np.ndarray],
                      splits: list[str]) -> np.ndarray | None:
    """The signatures of the rows of ``files`` (in order) from ``known``, filling ``splits``; ``None`` if one is missing."""
    ids, sigs = known
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    wanted = []
    try:
        for split, paths in files.items():
            for row in iter_rows(paths, ["id"]):
                splits.append(split)
                wanted.append(int(row["id"], 16))
        wanted_ids = np.array(wanted, dtype=np.uint64)
    except (TypeError, ValueError, OverflowError):  # not a synthetic row id
        return None
    at = np.minimum(np.searchsorted(sorted_ids, wanted_ids), max(0, len(sorted_ids) - 1))
    if not len(sorted_ids) or not np.array_equal(sorted_ids[at], wanted_ids):
        logger.info("some rows are not in the plan's signatures: computing them from the sources")
        return None
    return sigs[order[at]]


def format_diversity(div: dict[str, Any]) -> str:
    """Human-readable summary of :func:`diversity` output (what ``warp-ir stats --diversity`` prints)."""
    total, held = div["total_rows"], div["heldout_rows"]
    out = [f"diversity (MinHash of normalised {div['params']['shingle']}-token shingles, "
           f"near-twin: estimated Jaccard >= {div['threshold']}):",
           f"  rows with a near-twin: {div['rows_with_twin']} of {total} ({div['rows_with_twin_fraction']:.1%})",
           f"  held-out rows with a train near-twin: {div['heldout_with_train_twin']} of {held}"
           + (f" ({div['heldout_with_train_twin_fraction']:.1%})" if held else ""),
           f"  rows with a near-twin in another split: {div['rows_with_cross_split_twin']}"]
    out.append("  highest similarity to another row:")
    width = max(len(label) for label in div["max_similarity_histogram"])
    out += [f"    {label:<{width}} {n:>7}  {n / total if total else 0:6.1%}"
            for label, n in div["max_similarity_histogram"].items()]
    return "\n".join(out)


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
    build = stats.get("build") or {}
    if build.get("real_report"):
        totals = build["real_report"]["totals"]
        out.append(f"real: kernels found {totals['kernels_found']}, to extract {totals['to_extract']}, extracted "
                   f"{totals['extracted']} ({(totals['extracted_fraction'] or 0):.1%}), failed {totals['failed_count']}, "
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
