"""Seeded sampling of programs: which template, which parameters, which module name.

Program ``i`` of seed ``s`` depends only on ``(s, i)`` and the template set, so any
slice of the seed space can be rendered anywhere (another process, another machine)
and give the same bytes.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from generator.render import Rendered, render
from generator.templates import Template


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


def pick_template(templates: Sequence[Template], families: Sequence[str], rng: random.Random) -> Template:
    """Pick a family uniformly, then a template of that family uniformly."""
    family = rng.choice(list(families))
    return rng.choice([t for t in templates if t.family == family])


def sample_program(seed: int, index: int, templates: Sequence[Template], families: Sequence[str]) -> Program:
    """Render program ``index`` of ``seed`` (raises :class:`~generator.render.RenderError`)."""
    rng = program_rng(seed, index)
    template = pick_template(templates, families, rng)
    rendered = render(template, rng)
    return Program(index=index, template=template, rendered=rendered, module_name=f"warp_ir_{seed}_{index}")
