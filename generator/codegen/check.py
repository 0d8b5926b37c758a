"""Check templates: render programs from each and count how many Warp accepts.

Used by ``warp-ir check-templates`` and by template authors while they write one. A checked program
is imported (its top-level code runs): that happens in a child process forked for each template
(:func:`common.forked.run_in_child`), which hands its report back as JSON.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from common.forked import ChildFailed, run_in_child
from extraction.environ import drop_secrets_from_process
from generator.codegen.pipeline import compile_program, reason_of
from generator.programs.render import render
from generator.programs.sampler import Program
from generator.programs.templates import Template


@dataclass(slots=True)
class TemplateReport:
    """How one template fared."""

    template: str
    family: str
    ok: int = 0
    failed: int = 0
    reasons: Counter = field(default_factory=Counter)
    example: str = ""  # source of the first failing program
    missing_builtins: set = field(default_factory=set)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {"template": self.template, "family": self.family, "ok": self.ok, "failed": self.failed,
                "reasons": dict(self.reasons), "example": self.example,
                "missing_builtins": sorted(self.missing_builtins)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TemplateReport:
        """Inverse of :meth:`to_json`."""
        return cls(str(data["template"]), str(data["family"]), int(data["ok"]), int(data["failed"]),
                   Counter({str(k): int(v) for k, v in data["reasons"].items()}), str(data["example"]),
                   {str(name) for name in data["missing_builtins"]})


def check_template(template: Template, n: int, seed: int = 0,
                   targets: Sequence[str] = ("cpu", "cuda")) -> TemplateReport:
    """Render ``n`` programs of ``template`` and generate their code, in a child process.

    Also checks that every builtin the template declares is called (``wp.<name>(``) in each
    accepted program. A child that dies (a program crashed or ended it) fails all ``n``, with why.
    """
    try:
        header, _ = run_in_child(lambda: (_check_here(template, n, seed, targets).to_json(), None),
                                 f"checking template {template.name}", first=drop_secrets_from_process)
        return TemplateReport.from_json(header)
    except ChildFailed as exc:
        return TemplateReport(template.name, template.family, failed=n, reasons=Counter({str(exc): n}))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:  # a report not in the form sent
        return TemplateReport(template.name, template.family, failed=n,
                              reasons=Counter({f"unreadable report: {type(exc).__name__}: {exc}"[:200]: n}))


def _check_here(template: Template, n: int, seed: int, targets: Sequence[str]) -> TemplateReport:
    """:func:`check_template` in this process (runs the programs' top-level code: the child's side)."""
    report = TemplateReport(template.name, template.family)
    for i in range(n):
        rng = random.Random(f"check:{seed}:{template.name}:{i}")
        source = ""
        try:
            rendered = render(template, rng)
            source = rendered.source
            compile_program(Program(i, template, rendered, f"warp_ir_check_{i}"), targets)
        except Exception as exc:  # RenderError or whatever Warp raised: a report, not a build
            report.failed += 1
            report.reasons[reason_of(exc)] += 1
            report.example = report.example or source
            continue
        report.ok += 1
        report.missing_builtins.update(name for name in template.builtins if f"wp.{name}(" not in source)
    return report
