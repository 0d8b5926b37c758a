"""Plan a build: draw programs, drop duplicates, assign splits, cut shards.

Planning renders programs (cheap, no Warp) so that duplicates are removed across
the whole build and every split is known before any compilation starts. Shards
carry only sample indices; a worker re-renders them and gets the same bytes.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from generator.normalize import normalized_hash, split_of
from generator.render import RenderError
from generator.sampler import sample_program
from generator.templates import Template

logger = logging.getLogger(__name__)

MAX_DRAWS_PER_SAMPLE = 20
BUILDER_VERSION = "0.1.0"  # version of the dataset the builder produces (rows change => bump)
DEFAULT_SPLITS: dict[str, float] = {"train": 0.9, "validation": 0.05, "test": 0.05}


@dataclass(frozen=True, slots=True)
class ShardSpec:
    """A deterministic slice of the seed space, compiled by one worker in one go.

    Attributes:
        split: Split name.
        shard_id: Position of the shard in its split.
        seed: Build seed.
        indices: Sample indices of the programs in this shard, ascending.
        families: Families the build draws from (the sampler needs them to reproduce a draw).
    """

    split: str
    shard_id: int
    seed: int
    indices: tuple[int, ...]
    families: tuple[str, ...]


@dataclass(slots=True)
class Plan:
    """The outcome of planning: shards per split and what was dropped on the way."""

    shards: dict[str, list[ShardSpec]]
    draws: int = 0
    kept: int = 0
    exact_duplicates: int = 0
    near_duplicates: int = 0
    render_failures: Counter = field(default_factory=Counter)  # "family: reason" -> count
    exhausted: bool = False

    def to_json(self) -> dict:
        """Plain JSON summary (shards reduced to their sizes)."""
        return {
            "draws": self.draws, "kept": self.kept, "exact_duplicates": self.exact_duplicates,
            "near_duplicates": self.near_duplicates, "render_failures": dict(self.render_failures),
            "exhausted": self.exhausted,
            "shards": {s: [len(sh.indices) for sh in shards] for s, shards in self.shards.items()},
        }


def make_plan(
    seed: int,
    num_samples: int,
    templates: Sequence[Template],
    families: Sequence[str],
    ratios: dict[str, float],
    shard_size: int,
) -> Plan:
    """Draw programs ``0, 1, 2, ...`` until ``num_samples`` distinct ones are kept.

    A program is dropped when it fails to render (counted by reason), or when its
    source (exact duplicate) or normalised source (near duplicate) was already
    kept. Drawing stops early, with ``exhausted`` set, after
    ``MAX_DRAWS_PER_SAMPLE * num_samples`` draws.
    """
    families = tuple(sorted(families))
    seen_exact: set[str] = set()
    seen_norm: set[str] = set()
    by_split: dict[str, list[int]] = {name: [] for name in ratios}
    plan = Plan(shards={})
    index = 0
    while plan.kept < num_samples:
        if index >= MAX_DRAWS_PER_SAMPLE * num_samples:
            plan.exhausted = True
            logger.warning("stopped after %d draws: only %d distinct programs", index, plan.kept)
            break
        try:
            program = sample_program(seed, index, templates, families)
        except RenderError as exc:
            family = str(exc).split("/", 1)[0]
            plan.render_failures[f"{family}: {exc}"[:200]] += 1
            index += 1
            continue
        index += 1
        exact = hash(program.source)
        if exact in seen_exact:
            plan.exact_duplicates += 1
            continue
        seen_exact.add(exact)
        norm = normalized_hash(program.source)
        if norm in seen_norm:
            plan.near_duplicates += 1
            continue
        seen_norm.add(norm)
        by_split[split_of(norm, ratios)].append(program.index)
        plan.kept += 1
    plan.draws = index
    for split, indices in by_split.items():
        plan.shards[split] = [
            ShardSpec(split, i // shard_size, seed, tuple(indices[i : i + shard_size]), families)
            for i in range(0, len(indices), shard_size)
        ]
    return plan
