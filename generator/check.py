"""Check templates: render programs from each and count how many Warp accepts.

Used by ``warp-ir check-templates`` and by template authors while they write one.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from generator.pipeline import compile_program, reason_of
from generator.render import render
from generator.sampler import Program
from generator.templates import Template


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


def check_template(template: Template, n: int, seed: int = 0,
                   targets: Sequence[str] = ("cpu", "cuda")) -> TemplateReport:
    """Render ``n`` programs of ``template`` and generate their code.

    Also checks that every builtin the template declares is called (``wp.<name>(``) in each
    accepted program.
    """
    report = TemplateReport(template.name, template.family)
    for i in range(n):
        rng = random.Random(f"check:{seed}:{template.name}:{i}")
        source = ""
        try:
            rendered = render(template, rng)
            source = rendered.source
            compile_program(Program(i, template, rendered, f"warp_ir_check_{i}"), targets)
        except Exception as exc:  # noqa: BLE001 - RenderError or whatever Warp raised: a report, not a build
            report.failed += 1
            report.reasons[reason_of(exc)] += 1
            report.example = report.example or source
            continue
        report.ok += 1
        report.missing_builtins.update(name for name in template.builtins if f"wp.{name}(" not in source)
    return report
