"""The realism figures of a set of rows, per source (template, synthesized, real), added row by row and merged.

A build's workers fill one :class:`RealismStats` per shard beside :class:`~generator.codegen.rowstats.RowStats`;
``warp-ir stats`` fills one from the Parquet files. :meth:`RealismStats.summary` gives what the card's realism
section and ``warp-ir stats`` show: per source, rows with a dead local or a degenerate operation, arbitrary constants
per line of code, the median call depth, longest line, lines and code sizes, and every feature's share of rows.
"""

from __future__ import annotations

import json
from array import array
from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from generator.realism.features import FEATURES, features_of
from generator.realism.measures import Parsed, read_program

SOURCES = ("template", "synthesized", "real")
REFERENCE = Path(__file__).with_name("real_reference.json")  # the real configuration's figures, measured once


def source_of(family: str) -> str:
    """Which source a row of ``family`` comes from: ``real`` (mined), ``synthesized`` or ``template``."""
    if family in ("real", "fem"):
        return "real"
    return "synthesized" if family == "synthesized" else "template"


@dataclass(slots=True)
class SourceStats:
    """The figures of the rows of one source."""

    rows: int = 0
    parsed: int = 0
    dead_rows: int = 0
    dead_locals: int = 0
    locals: int = 0
    degenerate_rows: int = 0
    arbitrary_constants: int = 0
    code_lines: int = 0
    call_depth: array = field(default_factory=lambda: array("i"))
    longest_line: array = field(default_factory=lambda: array("i"))
    lines: array = field(default_factory=lambda: array("i"))
    cpp_forward: array = field(default_factory=lambda: array("i"))
    cpp_backward: array = field(default_factory=lambda: array("i"))
    features: Counter = field(default_factory=Counter)

    _ARRAYS = ("call_depth", "longest_line", "lines", "cpp_forward", "cpp_backward")
    _INTS = ("rows", "parsed", "dead_rows", "dead_locals", "locals", "degenerate_rows", "arbitrary_constants",
             "code_lines")

    def add(self, python_source: str, cpp_forward: str | None, cpp_backward: str | None) -> None:
        """Measure one row."""
        parsed = Parsed(python_source or "")
        r = read_program(python_source or "", parsed)
        self.rows += 1
        self.parsed += r.parsed
        self.dead_rows += r.dead_locals > 0
        self.dead_locals += r.dead_locals
        self.locals += r.locals
        self.degenerate_rows += r.degenerate > 0
        self.arbitrary_constants += r.arbitrary_constants
        self.code_lines += r.code_lines
        self.call_depth.append(r.call_depth)
        self.longest_line.append(r.longest_line)
        self.lines.append(r.lines)
        self.cpp_forward.append(len(cpp_forward or ""))
        self.cpp_backward.append(len(cpp_backward or ""))
        self.features.update(features_of(python_source or "", parsed))

    def merge(self, other: SourceStats) -> None:
        """Add ``other``'s rows."""
        for name in self._INTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in self._ARRAYS:
            getattr(self, name).extend(getattr(other, name))
        self.features.update(other.features)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {**{n: getattr(self, n) for n in self._INTS}, **{n: getattr(self, n).tolist() for n in self._ARRAYS},
                "features": dict(self.features)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SourceStats:
        """Inverse of :meth:`to_json`."""
        out = cls()
        for name in cls._INTS:
            setattr(out, name, int(data[name]))
        for name in cls._ARRAYS:
            setattr(out, name, array("i", data[name]))
        out.features = Counter(data["features"])
        return out

    def summary(self) -> dict[str, Any]:
        """Shares, rates and medians (see the module docstring)."""
        n = max(1, self.rows)

        def median(values: array) -> float:
            return float(np.median(np.asarray(values))) if len(values) else 0.0

        return {
            "rows": self.rows,
            "dead_local_rows": round(self.dead_rows / n, 4),
            "dead_local_share": round(self.dead_locals / max(1, self.locals), 4),
            "degenerate_rows": round(self.degenerate_rows / n, 4),
            "arbitrary_constants_per_line": round(self.arbitrary_constants / max(1, self.code_lines), 4),
            "median_call_depth": median(self.call_depth),
            "median_longest_line": median(self.longest_line),
            "median_lines": median(self.lines),
            "median_cpp_forward": median(self.cpp_forward),
            "median_cpp_backward": median(self.cpp_backward),
            "features": {f.name: round(self.features.get(f.name, 0) / n, 4) for f in FEATURES},
        }


@dataclass(slots=True)
class RealismStats:
    """:class:`SourceStats` per source."""

    sources: dict[str, SourceStats] = field(default_factory=dict)

    def add(self, row: dict[str, Any]) -> None:
        """Measure one row (``family``, ``python_source``, ``cpp_forward``, ``cpp_backward``)."""
        source = source_of(row.get("family") or "")
        self.sources.setdefault(source, SourceStats()).add(row.get("python_source") or "", row.get("cpp_forward"),
                                                           row.get("cpp_backward"))

    def merge(self, other: RealismStats) -> None:
        """Add ``other``'s rows."""
        for source, stats in other.sources.items():
            self.sources.setdefault(source, SourceStats()).merge(stats)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {s: self.sources[s].to_json() for s in SOURCES if s in self.sources}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RealismStats:
        """Inverse of :meth:`to_json`."""
        return cls({s: SourceStats.from_json(v) for s, v in data.items()})

    def summary(self) -> dict[str, Any]:
        """Per source (in :data:`SOURCES` order), :meth:`SourceStats.summary`."""
        return {s: self.sources[s].summary() for s in SOURCES if s in self.sources}


@cache
def real_reference() -> dict[str, Any]:
    """The real configuration's figures as shipped (``real_reference.json``: what was mined, when, with what)."""
    return json.loads(REFERENCE.read_text(encoding="utf-8"))


def feature_gap(synthetic: dict[str, float], real: dict[str, float]) -> dict[str, float]:
    """Mean absolute gap in percentage points between two feature tables, over :data:`FEATURES`."""
    gaps = [abs(synthetic.get(f.name, 0.0) - real.get(f.name, 0.0)) * 100 for f in FEATURES]
    return {"mean_gap_pp": round(sum(gaps) / len(gaps), 2), "max_gap_pp": round(max(gaps), 2)}
