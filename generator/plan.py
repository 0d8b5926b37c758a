"""Plan a build: draw programs, drop duplicates, assign splits, cut shards.

Planning renders programs (cheap, no Warp) so that duplicates are removed across
the whole build and every split is known before any compilation starts. Shards
carry only sample indices; a worker re-renders them and gets the same bytes.
"""

from __future__ import annotations

import hashlib
import logging
import math
import multiprocessing
import multiprocessing.pool
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from generator.normalize import normalized_hash, split_of
from generator.render import RenderError, compile_templates, python_error
from generator.sampler import sample_program
from generator.templates import Template, load_templates, templates_digest

logger = logging.getLogger(__name__)

MAX_DRAWS_PER_SAMPLE = 20
BUILDER_VERSION = "0.2.0"  # version of the dataset the builder produces (rows change => bump)
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

    @property
    def name(self) -> str:
        """``<split>-<shard_id>``: the stem of every file kept for this shard (counts, statistics, resume)."""
        return f"{self.split}-{self.shard_id:05d}"


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
MIN_DRAWS_PER_WORKER = 128  # below this a batch is drawn in the planning process (a pool costs more)


def draw(seed: int, indices: range, families: tuple[str, ...],
         templates: Sequence[Template] | None = None) -> list[Draw]:
    """Render programs ``indices`` of ``seed``, check they are Python, and hash them (no state: safe in any process).

    A draw that fails to render or renders invalid Python carries ``"family: template: reason"``.
    """
    templates = templates or _FORKED_TEMPLATES or load_templates()
    out = []
    for index in indices:
        try:
            program = sample_program(seed, index, templates, families)
        except RenderError as exc:
            out.append(Draw(index, error=f"{exc.template.family}: {exc}"[:200]))
            continue
        invalid = python_error(program.source)
        if invalid:
            out.append(Draw(index, error=f"{program.template.family}: {program.template.name}: {invalid}"[:200]))
            continue
        exact = hashlib.sha256(program.source.encode()).hexdigest()
        out.append(Draw(index, exact, normalized_hash(program.source)))
    return out


class _Drawer:
    """Draws batches of programs, in index order, in this process or in ``workers`` forked ones.

    The templates are compiled here first, so every process forked from this one (the
    pool below, and later ``datasets``' workers) inherits them instead of compiling its own.
    """

    def __init__(self, seed: int, families: tuple[str, ...], templates: Sequence[Template], workers: int) -> None:
        self.seed, self.families, self.templates, self.workers = seed, families, tuple(templates), workers
        self._pool: multiprocessing.pool.Pool | None = None
        compile_templates(self.templates)

    def draws(self, start: int, count: int) -> list[Draw]:
        """Draws ``start .. start + count - 1``, in order."""
        if self.workers <= 1 or count < MIN_DRAWS_PER_WORKER * self.workers:
            return draw(self.seed, range(start, start + count), self.families, self.templates)
        if self._pool is None:
            global _FORKED_TEMPLATES
            _FORKED_TEMPLATES = self.templates
            self._pool = multiprocessing.get_context("fork").Pool(self.workers)
        step = -(-count // (self.workers * 2))
        ranges = [range(i, min(i + step, start + count)) for i in range(start, start + count, step)]
        return [d for batch in self._pool.starmap(draw, [(self.seed, r, self.families) for r in ranges]) for d in batch]

    def close(self) -> None:
        """Stop the worker processes (if any were started)."""
        global _FORKED_TEMPLATES
        if self._pool is not None:
            self._pool.close()
            self._pool.join()
            self._pool = None
            _FORKED_TEMPLATES = ()


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

    A program is dropped when it fails to render or renders invalid Python (counted by reason), or when its
    source (exact duplicate) or normalised source (near duplicate) was already
    kept. Drawing stops early, with ``exhausted`` set, after
    ``MAX_DRAWS_PER_SAMPLE * num_samples`` draws. ``workers`` processes render and hash
    the draws; they are consumed in index order, so which programs land in which split does
    not depend on it (only how each split is cut into shards: a multiple of ``workers``).
    """
    families = tuple(sorted(families))
    seen_exact: set[str] = set()
    seen_norm: set[str] = set()
    by_split: dict[str, list[int]] = {name: [] for name in ratios}
    plan = Plan(shards={})
    limit = MAX_DRAWS_PER_SAMPLE * num_samples
    index = 0
    drawer = _Drawer(seed, families, templates, workers)
    try:
        while plan.kept < num_samples and index < limit:
            # draw about as many as the remaining programs need at the rate seen so far (+5%)
            # (the first batch is small: it only estimates that rate)
            rate = index / plan.kept if plan.kept else 1.0
            count = max(64, math.ceil((num_samples - plan.kept) * rate * 1.05))
            count = min(limit - index, count if index else min(count, 256))
            for d in drawer.draws(index, count):
                if plan.kept >= num_samples:
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
    finally:
        drawer.close()
    if plan.kept < num_samples:
        plan.exhausted = True
        logger.warning("stopped after %d draws: only %d distinct programs", index, plan.kept)
    plan.draws = index
    digest = templates_digest(tuple(templates))
    for split, indices in by_split.items():
        # a multiple of `workers` shards of equal size in every split, so each worker gets the same share
        count = max(1, workers) * max(1, math.ceil(len(indices) / (max(1, workers) * shard_size)))
        size = max(1, math.ceil(len(indices) / count))
        plan.shards[split] = [
            ShardSpec(split, k, seed, tuple(indices[i : i + size]), families, digest)
            for k, i in enumerate(range(0, len(indices), size))
        ]
    return plan
