"""Statistics of rows, gathered where the rows are made and merged where they are gathered.

A build's workers (the ``datasets`` builder's processes, or the Ray engine's tasks) fill a
:class:`RowStats` per shard or per file while the rows stream past, and write it beside the
shard's :class:`generator.codegen.pipeline.Counts`; the driver merges both without reading a row back.
``warp_ir.stats`` fills one from a built folder's Parquet files for ``warp-ir stats``.
"""

from __future__ import annotations

import json
import re
from array import array
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict

import numpy as np
import pyarrow as pa

from extraction import user_builtin_groups, user_builtin_names
from generator.codegen.pipeline import Counts
from generator.planning.shingles import program_key
from generator.realism.features import FEATURES, IDIOMS
from generator.realism.stats import RealismStats, SourceStats, feature_gap, real_reference

CODE_COLUMNS = ("python_source", "cpp_forward", "cpp_backward", "cuda_forward", "cuda_backward")
# the columns RowStats.add reads
STATS_COLUMNS = ("family", "template", "complexity", "kernel_name", "validation", "differentiable", *CODE_COLUMNS)
CONFIG_PREFIX = {"synthetic": "data", "real": "real"}  # configuration -> folder of its Parquet files
SPLIT_ORDER = ("train", "validation", "test", "test_unseen")
ROW_STATS = "rows"  # subfolder of a build's stats folder holding one RowStats file per shard
# Calls as ``wp.x(`` / ``wp::x(``; the patterns start with a literal (fast to scan for), and a match
# preceded by an identifier character (``xwp.x(``) is dropped afterwards.
_PY_BUILTIN_RE = re.compile(r"wp\.((?:types\.)?\w+)\s*\(")
_CPP_BUILTIN_RE = re.compile(r"wp::(?:adj_)?(\w+)\s*(?:<[^<>();]*>)?\s*\(")  # also templated: wp::f<4>(
# An absolute path to a source or library file (POSIX, at least two folders deep, or a drive letter): a row
# holding one shows the folders of the machine that built it (see extraction.module_code.stable_paths)
_ABSOLUTE_PATH_RE = re.compile(r"(?<![\w.:/\\])(?:/(?:[\w.+@~-]+/){2,}|[A-Za-z]:[\\/](?:[\w.+@~ -]+[\\/])+)"
                               r"[\w.+@~-]+\.(?:py|pyi|pyx|c|cc|h|hpp|cpp|cu|cuh|so|dll|dylib)\b")


# What every match of _ABSOLUTE_PATH_RE ends with: a literal first, so scanning for it is fast (a build's rows are
# tens of MB of code; the full pattern, tried at every position, costs about 1 ms a row)
_FILE_SUFFIX_RE = re.compile(r"\.(?:py|pyi|pyx|c|cc|h|hpp|cpp|cu|cuh|so|dll|dylib)\b")


def absolute_path(text: str) -> str | None:
    """The first absolute path to a source or library file in ``text`` (a row's code), or ``None``."""
    if ("/" not in text and "\\" not in text) or not _FILE_SUFFIX_RE.search(text):
        return None
    m = _ABSOLUTE_PATH_RE.search(text)
    return m.group(0) if m else None


def split_rank(split: str) -> tuple[int, str]:
    """Sort key of a split: train, validation, test, then any other by name."""
    return (SPLIT_ORDER.index(split) if split in SPLIT_ORDER else len(SPLIT_ORDER), split)



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


class GradFailure(TypedDict):
    """A differentiable row that ran but whose gradient check did not pass (the card lists the first 100)."""

    kernel: str
    family: str
    template: str
    note: str | None


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
    grad_failures: list[GradFailure] = field(default_factory=list)
    absolute_paths: Counter = field(default_factory=Counter)  # code column -> rows holding an absolute path
    # the round trip (extraction.roundtrip): "passed", "not checked", or why it failed -> rows
    round_trip: Counter = field(default_factory=Counter)
    # normalised program (program_key) -> the kernel of its first row: what the card's overlap check between the
    # configurations needs from the rows
    programs: dict[str, str] = field(default_factory=dict)
    # how the programs read, per source (generator.realism): dead locals, degenerate operations, features...
    realism: RealismStats = field(default_factory=RealismStats)

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
                if absolute_path(text):
                    self.absolute_paths[c] += 1
        self.used.update(builtins_used(row["python_source"], row.get("cpp_forward"), names))
        self.programs.setdefault(program_key(row["python_source"] or ""), row["kernel_name"])
        self.realism.add(row)
        v = row.get("validation") or {}
        self.levels[v.get("level", "codegen")] += 1
        for key in ("cpu_compiled", "cuda_compiled", "ran", "grad_ok"):
            if v.get(key) is True:
                self.flags[key] += 1
            elif v.get(key) is False:
                self.flags[f"{key}_false"] += 1
        if v.get("round_trip") is None:
            self.round_trip["not checked"] += 1
        else:
            self.round_trip["passed" if v["round_trip"] else (v.get("round_trip_note") or "failed")] += 1
        if v.get("differentiable"):
            self.flags["differentiable"] += 1
        if (v.get("differentiable") and v.get("level") in ("run", "grad") and v.get("ran")
                and v.get("grad_ok") is not True):
            self.flags["grad_not_ok"] += 1
            if len(self.grad_failures) < 100:
                self.grad_failures.append({"kernel": row["kernel_name"], "family": row["family"],
                                           "template": row.get("template", ""), "note": v.get("note")})

    def add_table(self, split: str, table: pa.Table, names: set[str]) -> None:
        """Count every row of ``table`` (rows in the dataset's schema) as rows of ``split``."""
        for row in table.select(STATS_COLUMNS).to_pylist():
            self.add(split, row, names)

    def merge(self, other: RowStats) -> None:
        """Add ``other`` (the rows that come after this one's) into this."""
        for name in ("rows", "family", "complexity", "family_complexity", "used", "levels", "flags", "absolute_paths",
                     "round_trip"):
            getattr(self, name).update(getattr(other, name))
        for c in CODE_COLUMNS:
            self.lines[c] += other.lines[c]
            self.chars[c] += other.chars[c]
        self.grad_failures += other.grad_failures[: 100 - len(self.grad_failures)]
        for key, kernel in other.programs.items():
            self.programs.setdefault(key, kernel)
        self.realism.merge(other.realism)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON form."""
        out = {name: getattr(self, name) for name in self.__slots__}
        out["lines"] = {c: v.tolist() for c, v in self.lines.items()}
        out["chars"] = {c: v.tolist() for c, v in self.chars.items()}
        out["realism"] = self.realism.to_json()
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RowStats:
        """Inverse of :meth:`to_json`."""
        out = cls(rows=Counter(data["rows"]), family=Counter(data["family"]),
                  family_complexity=Counter(data["family_complexity"]), used=Counter(data["used"]),
                  levels=Counter(data["levels"]), flags=Counter(data["flags"]))
        out.complexity = Counter({int(k): n for k, n in data["complexity"].items()})
        out.lines = {c: array("i", v) for c, v in data["lines"].items()}
        out.chars = {c: array("i", v) for c, v in data["chars"].items()}
        out.grad_failures = data["grad_failures"]
        out.absolute_paths = Counter(data.get("absolute_paths", {}))
        out.round_trip = Counter(data.get("round_trip", {}))
        out.programs = dict(data.get("programs", {}))
        out.realism = RealismStats.from_json(data.get("realism", {}))
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
            "absolute_paths": dict(sorted(self.absolute_paths.items())),
            # passed, not checked, then the reasons of the failures, commonest first
            "round_trip": dict(sorted(self.round_trip.items(),
                                      key=lambda kv: (kv[0] != "passed", kv[0] != "not checked", -kv[1], kv[0]))),
            "realism": realism_summary(self.realism, config),
            "build": info,
        }


def realism_summary(realism: RealismStats, config: str) -> dict[str, Any]:
    """The realism section: per source, and beside it the real configuration's figures (this build's when it mined
    them, else the shipped reference) and, for the synthetic configuration, how far its features are from them."""
    sources = realism.summary()
    out: dict[str, Any] = {"sources": sources, "features": [
        {"name": f.name, "meaning": f.meaning, "idiom": f.idiom} for f in FEATURES]}
    if config == "synthetic" and sources:
        reference = real_reference()
        out["real_reference"] = reference
        total = SourceStats()  # every source's rows together
        for stats in realism.sources.values():
            total.merge(stats)
        build_features = total.summary()["features"]
        out["build_features"] = build_features
        out["gap"] = feature_gap(build_features, reference["summary"]["features"])
        out["idioms_below_half"] = [name for name in IDIOMS if build_features.get(name, 0.0)
                                    < reference["summary"]["features"].get(name, 0.0) / 2]
    return out


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
    paths = sorted(folder.glob("*.json"), key=lambda p: (split_rank(p.stem.rsplit("-", 1)[0]), p.name))
    if not paths:
        return None
    total = RowStats()
    for path in paths:
        total.merge(RowStats.from_json(json.loads(path.read_text())))
    return total


def builtin_name_set() -> set[str]:
    """Warp's user-facing builtins (imports Warp)."""
    return set(user_builtin_names())


def builtin_groups() -> dict[str, str]:
    """Each user-facing builtin's documentation group (imports Warp)."""
    return user_builtin_groups()


def merge_counts(stats_dir: Path) -> Counts:
    """Merge the per-shard count files (``<split>-<shard>.json``) a build left in ``stats_dir``."""
    total = Counts()
    for path in sorted(stats_dir.glob("*-[0-9]*.json")):
        total.merge(Counts.from_json(json.loads(path.read_text())))
    return total
