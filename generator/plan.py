"""Plan a build: draw programs, drop duplicates, assign splits, cut shards.

Planning renders programs (cheap, no Warp) so that duplicates are removed across
the whole build and every split is known before any compilation starts. Shards
carry only sample indices; a worker re-renders them and gets the same bytes.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from generator.normalize import normalized_hash, split_of
from generator.render import RenderError
from generator.sampler import sample_program
from generator.templates import Template, load_templates, templates_digest

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
        templates_digest: Digest of the template set the plan rendered (a worker checks it).
    """

    split: str
    shard_id: int
    seed: int
    indices: tuple[int, ...]
    families: tuple[str, ...]
    templates_digest: str = ""


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
        """Plain JSON summary (programs planned per split; independent of the shard layout)."""
        return {
            "draws": self.draws, "kept": self.kept, "exact_duplicates": self.exact_duplicates,
            "near_duplicates": self.near_duplicates, "render_failures": dict(self.render_failures),
            "exhausted": self.exhausted,
            "planned": {s: sum(len(sh.indices) for sh in shards) for s, shards in self.shards.items()},
        }


@dataclass(frozen=True, slots=True)
class Draw:
    """What planning needs to know of one drawn program (computed anywhere, consumed in index order)."""

    index: int
    exact: str = ""  # SHA-256 of the source ("" when it failed to render)
    norm: str = ""  # normalised hash
    error: str = ""  # "family: reason" when it failed to render


_FORKED_TEMPLATES: tuple[Template, ...] = ()  # the planner's templates, inherited by forked workers


def draw(seed: int, indices: range, families: tuple[str, ...],
         templates: Sequence[Template] | None = None) -> list[Draw]:
    """Render programs ``indices`` of ``seed`` and hash them (no state: safe in any process)."""
    templates = templates or _FORKED_TEMPLATES or load_templates()
    out = []
    for index in indices:
        try:
            program = sample_program(seed, index, templates, families)
        except RenderError as exc:
            out.append(Draw(index, error=f"{str(exc).split('/', 1)[0]}: {exc}"[:200]))
            continue
        exact = hashlib.sha256(program.source.encode()).hexdigest()
        out.append(Draw(index, exact, normalized_hash(program.source)))
    return out


def _draws(seed: int, families: tuple[str, ...], templates: Sequence[Template], workers: int,
           chunk: int = 256) -> Iterator[Draw]:
    """Draws ``0, 1, 2, ...`` in order; computed by ``workers`` processes, a window of chunks at a time."""
    global _FORKED_TEMPLATES
    if workers <= 1:
        start = 0
        while True:
            yield from draw(seed, range(start, start + chunk), families, templates)
            start += chunk
    _FORKED_TEMPLATES = tuple(templates)
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(workers) as pool:
        start = 0
        while True:
            ranges = [range(start + k * chunk, start + (k + 1) * chunk) for k in range(workers * 2)]
            for batch in pool.starmap(draw, [(seed, r, families) for r in ranges]):
                yield from batch
            start += chunk * workers * 2


def make_plan(
    seed: int,
    num_samples: int,
    templates: Sequence[Template],
    families: Sequence[str],
    ratios: dict[str, float],
    shard_size: int,
    workers: int = 1,
) -> Plan:
    """Draw programs ``0, 1, 2, ...`` until ``num_samples`` distinct ones are kept.

    A program is dropped when it fails to render (counted by reason), or when its
    source (exact duplicate) or normalised source (near duplicate) was already
    kept. Drawing stops early, with ``exhausted`` set, after
    ``MAX_DRAWS_PER_SAMPLE * num_samples`` draws. ``workers`` processes render and hash
    the draws; they are consumed in index order, so which programs land in which split does
    not depend on it (only how each split is cut into shards: at least ``workers`` shards).
    """
    families = tuple(sorted(families))
    seen_exact: set[str] = set()
    seen_norm: set[str] = set()
    by_split: dict[str, list[int]] = {name: [] for name in ratios}
    plan = Plan(shards={})
    index = 0
    for d in _draws(seed, families, templates, workers):
        if plan.kept >= num_samples:
            break
        if index >= MAX_DRAWS_PER_SAMPLE * num_samples:
            plan.exhausted = True
            logger.warning("stopped after %d draws: only %d distinct programs", index, plan.kept)
            break
        index += 1
        if d.error:
            plan.render_failures[d.error] += 1
        elif d.exact in seen_exact:
            plan.exact_duplicates += 1
        elif d.norm in seen_norm:
            seen_exact.add(d.exact)
            plan.near_duplicates += 1
        else:
            seen_exact.add(d.exact)
            seen_norm.add(d.norm)
            by_split[split_of(d.norm, ratios)].append(d.index)
            plan.kept += 1
    plan.draws = index
    digest = templates_digest(tuple(templates))
    for split, indices in by_split.items():
        # at least one shard per worker in every split, so small splits are not compiled by one process
        size = max(1, min(shard_size, -(-len(indices) // max(1, workers))))
        plan.shards[split] = [
            ShardSpec(split, k, seed, tuple(indices[i : i + size]), families, digest)
            for k, i in enumerate(range(0, len(indices), size))
        ]
    return plan
