"""Seeded sampling of programs: which template, which parameters, which module name.

Program ``i`` of seed ``s`` depends only on ``(s, i)`` and the template set, so any
slice of the seed space can be rendered anywhere (another process, another machine)
and give the same bytes.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from generator.programs.render import Rendered, render
from generator.programs.templates import SYNTH_FAMILY, Template

# Share of draws that go to the synthesizer when it is selected beside template families (the rest
# pick a template family uniformly). Template draws are fuzzy duplicates far more often than
# synthesized ones, so the synthesizer's share of *rows* is larger: see the README.
SYNTHESIZED_SHARE = 0.45
# Past this many draws the template families are close to exhausted (most of their draws are near-twins
# of kept programs), so the synthesizer's share rises as 1 - (1 - SYNTHESIZED_SHARE) * SATURATION / index.
SATURATION = 50_000


def synthesized_share(index: int) -> float:
    """The probability that draw ``index`` goes to the synthesizer (when it is selected beside templates).

    :data:`SYNTHESIZED_SHARE` up to draw :data:`SATURATION`, then rising towards 1 so that the template
    families get about ``(1 - SYNTHESIZED_SHARE) * SATURATION * ln(index / SATURATION)`` more draws in all:
    a million-program build does not spend most of its draws on near-twins of kept templates.
    Depends on the index alone, so any slice of the seed space still renders anywhere.
    """
    if index < SATURATION:
        return SYNTHESIZED_SHARE
    return 1.0 - (1.0 - SYNTHESIZED_SHARE) * SATURATION / index


@dataclass(frozen=True, slots=True)
class Program:
    """One sampled, rendered program.

    Attributes:
        index: Position in the seed space.
        template: The template it came from.
        rendered: Its source and the parameter values drawn.
        module_name: A module name no other program of any seed uses.
    """

    index: int
    template: Template
    rendered: Rendered
    module_name: str

    @property
    def source(self) -> str:
        """The program's Python source."""
        return self.rendered.source


def program_rng(seed: int, index: int) -> random.Random:
    """The random stream of program ``index`` under ``seed`` (independent of every other index)."""
    return random.Random(f"warp-ir:{seed}:{index}")


def pick_template(templates: Sequence[Template], families: Sequence[str], rng: random.Random,
                  index: int = 0) -> Template:
    """Pick a family, then a template of that family uniformly.

    The synthesizer, when selected beside template families, gets :func:`synthesized_share` of draw
    ``index`` and the template families share the rest uniformly; otherwise every family is as likely.
    """
    families = list(families)
    if SYNTH_FAMILY in families and len(families) > 1:
        others = [f for f in families if f != SYNTH_FAMILY]
        family = SYNTH_FAMILY if rng.random() < synthesized_share(index) else rng.choice(others)
    else:
        family = rng.choice(families)
    return rng.choice([t for t in templates if t.family == family])


def sample_program(seed: int, index: int, templates: Sequence[Template], families: Sequence[str]) -> Program:
    """Render program ``index`` of ``seed`` (raises :class:`~generator.programs.render.RenderError`)."""
    rng = program_rng(seed, index)
    template = pick_template(templates, families, rng, index)
    rendered = render(template, rng)
    return Program(index=index, template=template, rendered=rendered, module_name=f"warp_ir_{seed}_{index}")


class RenderedPrograms:
    """Programs rendered in this process, kept (up to ``limit_bytes`` of source) for its forked children.

    The plan renders every program it draws; the children that compile the shards, forked from the
    process that planned, would render the same programs again. They take them from here instead, by
    ``(templates digest, families, seed, index)``: the same key gives the same bytes by construction.
    """

    def __init__(self, limit_bytes: int) -> None:
        self.limit_bytes = limit_bytes
        self._programs: dict[tuple[str, tuple[str, ...], int, int], Program] = {}
        self._bytes = 0

    def clear(self) -> None:
        """Forget every program (a new plan starts)."""
        self._programs.clear()
        self._bytes = 0

    def keep(self, digest: str, families: Sequence[str], seed: int, program: Program) -> None:
        """Keep ``program`` (rendered with templates of ``digest``) while the limit allows."""
        if digest and self._bytes + len(program.source) <= self.limit_bytes:
            self._programs[(digest, tuple(families), seed, program.index)] = program
            self._bytes += len(program.source)

    def take(self, digest: str, families: Sequence[str], seed: int, index: int) -> Program | None:
        """The program kept for this key, or ``None``."""
        return self._programs.get((digest, tuple(families), seed, index)) if digest else None


# what this process's plan rendered (64 MiB of source: the first ~20,000 programs of a build)
RENDERED = RenderedPrograms(64 << 20)
