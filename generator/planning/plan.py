"""Plan a build: draw programs, drop duplicates, assign splits, cut shards.

Planning renders programs (cheap, no Warp) so that duplicates are removed across
the whole build and every split is known before any compilation starts. Shards
carry only sample indices; a worker re-renders them and gets the same bytes.
"""

from __future__ import annotations

import hashlib
import io
import logging
import math
import multiprocessing
import multiprocessing.pool
import time
import zipfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from common.atomic import write_atomic
from common.errors import WarpIRError
from common.progress import Progress
from generator.planning.astpaths import signature as tree_signature
from generator.planning.minhash import NUM_PERM, signature_of_normalized
from generator.planning.shingles import normalize, split_of
from generator.planning.similarity import DEFAULT_TWIN_THRESHOLD
from generator.planning.splits import (  # noqa: F401 - DEFAULT_SPLITS and DEFAULT_UNSEEN_TEMPLATES: imported from here
    DEFAULT_SPLITS,
    DEFAULT_UNSEEN_TEMPLATES,
    SPLIT_TWIN_THRESHOLD,
    UNSEEN_SPLIT,
)
from generator.planning.twins import TwinIndex
from generator.programs.render import RenderError, compile_templates, python_error
from generator.programs.sampler import RENDERED, sample_program
from generator.programs.templates import Template, load_templates, templates_digest

logger = logging.getLogger(__name__)
# What a person waiting for a build wants to see: the CLI shows this logger's INFO lines on standard error
# even when the rest of the logging is at WARNING (see warp_ir.cli).
progress = logging.getLogger("warp_ir.progress")

MAX_DRAWS_PER_SAMPLE = 20
# With no program kept after this many draws, nothing the templates render can be planned: stop there (a plan that
# keeps one in its first draws is not affected, so a plan of N programs is still a prefix of a plan of 2N).
MAX_DRAWS_WITHOUT_A_PROGRAM = 20_000
PROGRESS_EVERY_S = 5.0  # seconds between planning progress lines (a batch of draws lasts about this long at most)
# Programs the plan keeps per second, conservatively, in one process: measured at 458/s on 2,000 programs here
# (2 cores, Python 3.11; 432/s with the Jinja sandbox), and the README's 56,336 programs in 245 s (230/s, where the
# synthesizer's share has grown). Used to warn before a build that would plan for more than a day.
PLAN_RATE = 200
# Memory the plan holds per kept program: its MinHash signature (128 x 4 bytes) in the near-twin index with its band
# keys (21 x 12 bytes), row id, hashes and split (about 770 bytes of arrays measured on 2,000 programs, plus Python
# objects): about 1 KB.
PLAN_BYTES_PER_PROGRAM = 1_000
# The most programs a build may ask for: 10**9 would hold about 1 TB in the plan and plan for months at PLAN_RATE,
# beyond any one machine; more is refused rather than left to fail hours (or days) later.
MAX_NUM_SAMPLES = 10**9
SIGNATURE_WIDTH = 2 * NUM_PERM  # a kept program's two signatures side by side: tokens, then syntax-tree paths


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


class NothingToPlan(WarpIRError, ValueError):
    """No drawn program could be rendered: every template of the selected families fails (the reasons are named)."""


@dataclass(slots=True)
class Plan:
    """The outcome of planning: shards per split and what was dropped on the way."""

    shards: dict[str, list[ShardSpec]]
    draws: int = 0
    kept: int = 0
    exact_duplicates: int = 0
    near_duplicates: int = 0
    fuzzy_duplicates: int = 0
    bridges_splits: int = 0
    unseen_twins: int = 0  # programs dropped for a near-twin across the held-out templates' boundary
    render_failures: Counter = field(default_factory=Counter)  # "family: reason" -> count
    exhausted: bool = False
    twin_index_bytes: int = 0  # memory the near-twin index held at the end (not part of the JSON summary)
    # kept programs in the order they were kept (not part of the JSON summary): their row ids (the first 8 bytes of
    # the SHA-256 of the source, big-endian: ``int(row["id"], 16)``) and MinHash signatures, the token measure's
    # then the syntax tree's (``kept x SIGNATURE_WIDTH``)
    kept_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.uint64))
    signatures: np.ndarray = field(default_factory=lambda: np.zeros((0, SIGNATURE_WIDTH), dtype=np.uint32))

    def to_json(self) -> dict:
        """Plain JSON summary (programs planned per split; independent of the shard layout)."""
        return {
            "draws": self.draws, "kept": self.kept, "exact_duplicates": self.exact_duplicates,
            "near_duplicates": self.near_duplicates, "fuzzy_duplicates": self.fuzzy_duplicates,
            "bridges_splits": self.bridges_splits, "unseen_twins": self.unseen_twins,
            "render_failures": dict(self.render_failures),
            "exhausted": self.exhausted,
            "planned": {s: sum(len(sh.indices) for sh in shards) for s, shards in self.shards.items()},
        }


@dataclass(frozen=True, slots=True)
class Draw:
    """What planning needs to know of one drawn program (computed anywhere, consumed in index order)."""

    index: int
    exact: bytes = b""  # SHA-256 of the source, first 16 bytes (empty when it failed to render)
    norm: bytes = b""  # SHA-256 of the normalised source, first 16 bytes
    error: str = ""  # "family: reason" when it failed to render
    signature: np.ndarray | None = None  # MinHash signature of the normalised program
    tree_signature: np.ndarray | None = None  # MinHash signature of its syntax-tree paths (generator.planning.astpaths)
    template: str = ""  # the template (or synthesizer shape) it was rendered from


_FORKED_TEMPLATES: tuple[Template, ...] = ()  # the planner's templates, inherited by forked workers
MIN_DRAWS_PER_WORKER = 128  # below this a batch is drawn in the planning process (a pool costs more)
PLAN_SIGNATURES = "plan-signatures.npz"  # file name of :func:`write_signatures` in a build's statistics folder
MAX_BATCH = 20_000  # draws held at once (about 1 KB each with their signatures): planning memory stays bounded


def draw(seed: int, indices: range, families: tuple[str, ...],
         templates: Sequence[Template] | None = None, keep_digest: str = "") -> list[Draw]:
    """Render programs ``indices`` of ``seed``, check they are Python, hash and sign them (no state: safe anywhere).

    A draw that fails to render or renders invalid Python carries ``"family: template: reason"``. With
    ``keep_digest`` (the digest of ``templates``), the valid programs are kept in
    :data:`generator.programs.sampler.RENDERED` for the shards' children to reuse.
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
        if keep_digest:
            RENDERED.keep(keep_digest, families, seed, program)
        exact = hashlib.sha256(program.source.encode()).digest()[:16]
        normalized = normalize(program.source)
        out.append(Draw(index, exact, hashlib.sha256(normalized.encode()).digest()[:16],
                        signature=signature_of_normalized(normalized), tree_signature=tree_signature(program.source),
                        template=program.template.name))
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
        self.digest = templates_digest(self.templates)

    def draws(self, start: int, count: int) -> list[Draw]:
        """Draws ``start .. start + count - 1``, in order."""
        if self.workers <= 1 or count < MIN_DRAWS_PER_WORKER * self.workers:
            return draw(self.seed, range(start, start + count), self.families, self.templates, self.digest)
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
    twin_threshold: float = DEFAULT_TWIN_THRESHOLD,
    fuzzy_dedup: bool = True,
    unseen_templates: Sequence[str] = (),
) -> Plan:
    """Draw programs ``0, 1, 2, ...`` until ``num_samples`` distinct ones are kept, and give each a split.

    A draw is dropped, and counted by why, when it fails to render or renders invalid Python
    (by reason), when its source (exact duplicate) or normalised source (near duplicate) was
    already kept, when ``fuzzy_dedup`` is on and a kept program is its near-twin (estimated
    Jaccard of normalised 5-token shingles at least ``twin_threshold``: fuzzy duplicate), or
    when its near-twins sit in two splits (``bridges_splits``). For splits, near-twins are those at
    :data:`SPLIT_TWIN_THRESHOLD` or above by either of two measures: the token MinHash, and MinHash over
    syntax-tree paths (:mod:`generator.planning.astpaths`). A program whose near-twins all
    sit in one split joins it; one with none gets the split of its normalised hash. A program of one of
    ``unseen_templates`` goes to :data:`UNSEEN_SPLIT`, and is dropped (``unseen_twins``) when it has a near-twin
    in another split, as is any other program with a near-twin there. Every
    decision depends only on earlier draws: a plan of N programs is a prefix of a plan of 2N.

    Drawing stops early, with ``exhausted`` set, after ``MAX_DRAWS_PER_SAMPLE * num_samples``
    draws. ``workers`` processes render, hash and sign the draws; they are consumed in index
    order, so which programs land in which split does not depend on it (only how each split is
    cut into shards: a multiple of ``workers``). Progress goes to the ``warp_ir.progress`` logger
    (INFO): a line when planning starts, then a bar on a terminal, or a line about every
    :data:`PROGRESS_EVERY_S` seconds and one at the end (see :mod:`common.progress`).

    Raises:
        NothingToPlan: No draw rendered a valid program (within ``MAX_DRAWS_PER_SAMPLE * num_samples`` or
            :data:`MAX_DRAWS_WITHOUT_A_PROGRAM` draws): the message names the commonest reasons and templates.
    """
    families = tuple(sorted(families))
    seen_exact: set[bytes] = set()
    seen_norm: set[bytes] = set()
    unseen = frozenset(unseen_templates)
    by_split: dict[str, list[int]] = {name: [] for name in ratios}
    if unseen:
        by_split[UNSEEN_SPLIT] = []
    split_names = list(by_split)
    unseen_bit = 1 << split_names.index(UNSEEN_SPLIT) if unseen else 0
    split_threshold = min(SPLIT_TWIN_THRESHOLD, twin_threshold)
    twins = TwinIndex(twin_threshold, len(split_names), split_threshold)
    tree_twins = TwinIndex(1.0, len(split_names), split_threshold)  # splits only: fuzzy dedup is the token measure's
    kept_ids: list[int] = []
    plan = Plan(shards={})
    limit = MAX_DRAWS_PER_SAMPLE * num_samples
    index = 0
    RENDERED.clear()  # what an earlier plan of this process rendered
    drawer = _Drawer(seed, families, templates, workers)
    started = time.perf_counter()
    progress.info("planning: drawing %s programs from %d %s", f"{num_samples:,}", len(families),
                  "family" if len(families) == 1 else "families")
    bar = Progress(num_samples, "planning", "program", done="planned", every_s=PROGRESS_EVERY_S)
    try:
        while plan.kept < num_samples and index < limit:
            if not plan.kept and index >= MAX_DRAWS_WITHOUT_A_PROGRAM:
                break
            # draw about as many as the remaining programs need at the rate seen so far (+5%), and no more than
            # about PROGRESS_EVERY_S seconds' worth (the first batch is small: it only estimates both rates)
            rate = index / plan.kept if plan.kept else 1.0
            count = max(64, math.ceil((num_samples - plan.kept) * rate * 1.05))
            elapsed = time.perf_counter() - started
            if index and elapsed > 0:
                count = min(count, max(256, math.ceil(index / elapsed * PROGRESS_EVERY_S)))
            count = min(limit - index, MAX_BATCH, count if index else min(count, 256))
            if not plan.kept:
                count = min(count, MAX_DRAWS_WITHOUT_A_PROGRAM - index)
            batch = drawer.draws(index, count)
            signed = [d for d in batch if not d.error]
            if signed:  # a batch where every draw failed to render has nothing to look up
                twins.begin(np.stack([d.signature for d in signed if d.signature is not None]))  # all of them
                tree_twins.begin(np.stack([d.tree_signature for d in signed if d.tree_signature is not None]))
            position = 0
            for d in batch:
                if plan.kept >= num_samples:
                    break
                index += 1
                if d.error:
                    plan.render_failures[d.error] += 1
                    continue
                mine, position = position, position + 1
                if d.exact in seen_exact:
                    plan.exact_duplicates += 1
                    continue
                seen_exact.add(d.exact)
                if d.norm in seen_norm:
                    plan.near_duplicates += 1
                    continue
                near = twins.query(mine)
                if fuzzy_dedup and near.best >= twins.need:
                    plan.fuzzy_duplicates += 1
                    continue
                near_splits = near.splits | tree_twins.query(mine).splits
                held_out = d.template in unseen
                if (near_splits & ~unseen_bit if held_out else near_splits & unseen_bit):
                    plan.unseen_twins += 1  # a near-twin across the held-out templates' boundary
                    continue
                if near_splits & (near_splits - 1):  # near-twins in two splits or more
                    plan.bridges_splits += 1
                    continue
                if held_out:
                    split = split_names.index(UNSEEN_SPLIT)
                elif near_splits:  # its near-twins sit in one split: it joins them
                    split = near_splits.bit_length() - 1
                else:
                    split = split_names.index(split_of(d.norm.hex(), ratios))
                seen_norm.add(d.norm)
                twins.add(mine, split)
                tree_twins.add(mine, split)
                by_split[split_names[split]].append(d.index)
                kept_ids.append(int.from_bytes(d.exact[:8], "big"))
                plan.kept += 1
            if signed:
                twins.end()
                tree_twins.end()
            now = time.perf_counter()
            logger.info("plan: %d of %d programs kept after %d draws (%.0f s, near-twin index %.0f MiB)",
                        plan.kept, num_samples, index, now - started, twins.nbytes / 2**20)
            bar.update(plan.kept - bar.count, note=f"{index:,} drawn")
    except BaseException:
        bar.close(failed=True)
        raise
    finally:
        drawer.close()
    bar.close(failed=not plan.kept)
    if not plan.kept:
        raise NothingToPlan(_nothing_rendered(plan.render_failures, index))
    if plan.kept < num_samples:
        plan.exhausted = True
        logger.warning("stopped after %d draws: only %d distinct programs", index, plan.kept)
    plan.draws = index
    plan.twin_index_bytes = twins.nbytes + tree_twins.nbytes
    plan.kept_ids = np.array(kept_ids, dtype=np.uint64)
    plan.signatures = np.hstack([twins.signatures(), tree_twins.signatures()])
    digest = templates_digest(tuple(templates))
    for split_name, indices in by_split.items():
        # a multiple of `workers` shards of equal size in every split, so each worker gets the same share
        count = max(1, workers) * max(1, math.ceil(len(indices) / (max(1, workers) * shard_size)))
        size = max(1, math.ceil(len(indices) / count))
        plan.shards[split_name] = [
            ShardSpec(split_name, k, seed, tuple(indices[i : i + size]), families, digest)
            for k, i in enumerate(range(0, len(indices), size))
        ]
    return plan


def _nothing_rendered(failures: Counter, draws: int) -> str:
    """One line saying that none of ``draws`` rendered, and why (the commonest reasons, template named)."""
    reasons = [f"{' '.join(reason.split())} ({n:,} draws)" for reason, n in failures.most_common(3)]
    more = len(failures) - len(reasons)
    return (f"no program could be rendered: all {draws:,} draws failed: " + "; ".join(reasons)
            + (f"; and {more} other reason(s)" if more > 0 else "")
            + " (warp-ir check-templates shows each template's errors)")


def write_signatures(plan: Plan, path: Path) -> None:
    """Save the kept programs' row ids and signatures (``.npz``, plain arrays: no pickle), written atomically."""
    buffer = io.BytesIO()
    np.savez(buffer, ids=plan.kept_ids, signatures=plan.signatures)
    write_atomic(path, buffer.getbuffer())


def read_signatures(path: Path) -> tuple[np.ndarray, np.ndarray] | None:
    """Row ids and signatures saved by :func:`write_signatures`; ``None`` when missing or not in that form.

    Loaded without pickle support, and checked: ``uint64`` ids, one ``uint32`` row of :data:`SIGNATURE_WIDTH`
    values for each.
    """
    try:
        with np.load(path, allow_pickle=False) as saved:
            ids, sigs = saved["ids"], saved["signatures"]
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        logger.info("plan signatures not used (%s): %s", path, exc)
        return None
    if ids.dtype != np.uint64 or ids.ndim != 1 or sigs.dtype != np.uint32 or sigs.shape != (len(ids), SIGNATURE_WIDTH):
        logger.info("plan signatures not used (%s): unexpected arrays", path)
        return None
    return ids, sigs
