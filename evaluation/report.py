"""The evaluation report: every rung's pass rate and pass@k, per task, per family and per complexity.

For a group of problems (a predictions-file line is one problem with ``n`` samples) and a rung,
the report gives the share of samples that reached the rung and pass@k (:mod:`evaluation.passk`)
for each requested ``k``, averaged over the problems with at least ``k`` samples. A rung that was
not scored for any sample of a group (CUDA code without a GPU at ``correct``) shows ``None``
(``n/a`` in text) and the report says why; samples not scored at a rung (their reference could not
be built) are left out of that rung's figures and counted.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from evaluation.harness import RUNGS, Sample
from evaluation.passk import mean_pass_at_k
from evaluation.tasks import PROMPT_VERSION

GROUPINGS: tuple[str, ...] = ("task", "family", "complexity", "strength")


def _key(s: Sample, by: str) -> Any:
    """A sample's group: its task, family, complexity, or strength (``weak`` rows apart from ``discriminative``)."""
    if by == "task":
        return s.task
    if by == "strength":
        return "weak" if s.weak else "discriminative"
    return getattr(s, by)


@dataclass(slots=True)
class Report:
    """What an evaluation found.

    Attributes:
        samples: One result per prediction, ordered by line and sample.
        ks: The ``k`` of pass@k.
        lines: Non-blank lines in the predictions file.
        skipped: ``(line number, reason)`` of each line not scored.
        cuda_executed: Whether CUDA code was launched (a GPU was present).
        info: Where the figures come from (data folder, split, versions, seed).
    """

    samples: list[Sample]
    ks: tuple[int, ...]
    lines: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)
    cuda_executed: bool = False
    info: dict[str, Any] = field(default_factory=dict)

    def groups(self, by: str) -> list[dict[str, Any]]:
        """One entry per task (and, for ``by="family"``/``"complexity"``, per value within it)."""
        buckets: dict[tuple[str, Any], list[Sample]] = defaultdict(list)
        for s in self.samples:
            key = _key(s, by)
            buckets[(s.task, key)].append(s)
        out = []
        for (task, key), members in sorted(buckets.items(), key=lambda kv: (kv[0][0], str(kv[0][1]))):
            entry: dict[str, Any] = {"task": task}
            if by != "task":
                entry[by] = key
            entry.update(_figures(members, self.ks))
            out.append(entry)
        return out

    def to_json(self) -> dict[str, Any]:
        """The whole report as JSON-ready data (no timings: the same inputs give the same report)."""
        return {
            "prompt_version": PROMPT_VERSION, **self.info, "ks": list(self.ks), "lines": self.lines,
            "scored_lines": len({s.line for s in self.samples}), "samples": len(self.samples),
            "skipped": [{"line": n, "reason": r} for n, r in self.skipped],
            "cuda_executed": self.cuda_executed, "weak_problems": self.weak_problems(),
            **{f"by_{by}": self.groups(by) for by in GROUPINGS},
        }

    def weak_problems(self) -> dict[str, dict[str, Any]]:
        """Per task: how many scored rows are weak problems (:mod:`extraction.weak`), by reason, with a few ids."""
        out: dict[str, dict[str, Any]] = {}
        for s in self.samples:
            entry = out.setdefault(s.task, {"rows": set(), "weak": {}, "examples": []})
            entry["rows"].add(s.id)
            if s.weak:
                for reason in s.weak.split("; "):
                    entry["weak"].setdefault(reason, set()).add(s.id)
        return {task: {"rows": len(e["rows"]), "weak_rows": len({i for ids in e["weak"].values() for i in ids}),
                       "by_reason": {r: len(ids) for r, ids in sorted(e["weak"].items())},
                       "examples": sorted({i for ids in e["weak"].values() for i in ids})[:3]}
                for task, e in sorted(out.items())}

    def render(self, max_skipped: int = 20) -> str:
        """The report as text: a table per grouping, then the skipped lines."""
        lines = [f"scored {len({s.line for s in self.samples})} of {self.lines} line(s), {len(self.samples)} "
                 f"prediction(s); prompts {PROMPT_VERSION}; "
                 + ", ".join(f"{k} {v}" for k, v in self.info.items() if k in ("data", "split", "warp_version"))]
        weak = {t: w for t, w in self.weak_problems().items() if w["weak_rows"]}
        if weak:
            lines.append("weak problems (their references write nothing, only zeros, only NaN, or the same for every "
                         "input set, or give zero gradients; 'by strength' below scores them apart): "
                         + ", ".join(f"{t} {w['weak_rows']} of {w['rows']} rows" for t, w in weak.items()))
        if not self.cuda_executed and any(s.task.startswith("python→cuda") for s in self.samples):
            lines.append("CUDA predictions were scored up to 'compiles': no GPU here to run them ('correct' is n/a)")
        for by in GROUPINGS:
            lines.append("")
            lines.append(_table(self.groups(by), by, self.ks))
        if self.skipped:
            lines.append("")
            lines.append(f"skipped {len(self.skipped)} line(s):")
            lines += [f"  line {n}: {r}" for n, r in self.skipped[:max_skipped]]
            if len(self.skipped) > max_skipped:
                lines.append(f"  ... and {len(self.skipped) - max_skipped} more")
        return "\n".join(lines)


def _figures(samples: Sequence[Sample], ks: Sequence[int]) -> dict[str, Any]:
    by_line: dict[int, list[Sample]] = defaultdict(list)
    for s in samples:
        by_line[s.line].append(s)
    out: dict[str, Any] = {"problems": len(by_line), "samples": len(samples)}
    for rung in RUNGS:
        scored = [s for s in samples if getattr(s, rung) is not None]
        entry: dict[str, Any] = {"rate": None, "pass_at_k": {str(k): None for k in ks},
                                 "not_scored": len(samples) - len(scored)}
        if scored:
            entry["rate"] = sum(bool(getattr(s, rung)) for s in scored) / len(scored)
            counts = []
            for members in by_line.values():
                graded = [s for s in members if getattr(s, rung) is not None]
                if graded:
                    counts.append((len(graded), sum(bool(getattr(s, rung)) for s in graded)))
            entry["pass_at_k"] = {str(k): v for k, v in mean_pass_at_k(counts, ks).items()}
        out[rung] = entry
    return out


def _cell(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:5.1f}"


def _table(groups: list[dict[str, Any]], by: str, ks: Sequence[int]) -> str:
    head = ["task"] + ([by] if by != "task" else []) + ["n"]
    head += [f"{rung}" for rung in RUNGS] + [f"{rung[:4]}@{k}" for rung in ("compiles", "correct") for k in ks]
    rows = [head]
    for g in groups:
        row = [g["task"]] + ([str(g[by])] if by != "task" else []) + [str(g["samples"])]
        row += [_cell(g[rung]["rate"]) for rung in RUNGS]
        row += [_cell(g[rung]["pass_at_k"][str(k)]) for rung in ("compiles", "correct") for k in ks]
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    title = f"by {by} (% of predictions reaching each rung; pass@k in %):"
    return "\n".join([title] + ["  ".join(c.ljust(w) if i < len(head) - len(RUNGS) - 2 * len(ks) else c.rjust(w)
                                          for i, (c, w) in enumerate(zip(r, widths))) for r in rows])
