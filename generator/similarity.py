"""Structural similarity of programs: MinHash signatures and near-twin counts.

Exact and normalised-hash deduplication (:mod:`generator.normalize`) only catch programs
that are the same after renaming. This module measures how many rows are *near* copies
of each other: two programs are compared by the Jaccard similarity of their sets of
shingles, each shingle being a run of :data:`SHINGLE` consecutive tokens of the
normalised text (identifiers and literals replaced), estimated by MinHash.

Signatures are deterministic across processes and machines: datasketch hashes each
shingle with SHA-1 and draws its permutations from a seeded NumPy generator (Python's
``hash()``, salted per process, is never used). They depend on datasketch's MinHash
scheme, though (2.x hashes differently from 1.x), so only compare signatures computed
with the same datasketch version.

Candidate pairs come from banding the signature matrix (locality-sensitive hashing):
rows that agree on all :data:`BAND_ROWS` values of at least one band are compared, and
the estimated Jaccard of a pair is the fraction of the :data:`NUM_PERM` values they share.
Two shortcuts keep the work linear in the rows: a row stops being compared once a better
match than its best so far is very unlikely to be found in the bands left, and in a bucket
of more than :data:`MAX_BUCKET` rows each row meets only :data:`MAX_BUCKET` of them.

Shingles form a *set*: programs that differ only by repeating or reordering whole
statements can have the same shingles (and count as twins at 1.0). The estimate has a
standard error of about 0.03 near 0.85, and a row's highest estimate over many
neighbours leans high: expect somewhat more near-twins than exact Jaccard would give.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from datasketch import MinHash

from extraction.native import batched
from generator.normalize import normalize

logger = logging.getLogger(__name__)

NUM_PERM = 128  # MinHash permutations (signature length)
SEED = 1  # datasketch's permutation seed
SHINGLE = 5  # tokens per shingle
DEFAULT_THRESHOLD = 0.85  # estimated Jaccard at or above which two rows are near-twins
# Banding: NUM_PERM = BANDS * BAND_ROWS. A pair at Jaccard s becomes a candidate with probability
# 1 - (1 - s**4)**32: 0.87 at 0.5, 0.99 at 0.6, 1.0 from 0.7 on (the histogram's bins start at 0.5).
BAND_ROWS = 4
BANDS = NUM_PERM // BAND_ROWS
MAX_BUCKET = 200  # in a band bucket of more rows, each row is compared with MAX_BUCKET of them, not with all
# a row stops looking for better matches once a better one could have been missed with at most this probability
SETTLE_EPS = 1e-3
PAIR_CHUNK = 1 << 14  # candidate pairs compared at once (two gathers of PAIR_CHUNK x NUM_PERM values: in cache)
# Upper ends of the histogram's bins (estimated Jaccard), and their labels; the last bin is exactly 1.0.
BIN_EDGES = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 1.0)
BIN_LABELS = ("<0.5", "0.5–0.6", "0.6–0.7", "0.7–0.8", "0.8–0.85", "0.85–0.9", "0.9–0.95", "0.95–1.0", "1.0")

_TEMPLATE = MinHash(num_perm=NUM_PERM, seed=SEED)  # copied per program: building one draws its permutations
# Odd 64-bit multipliers mixing a band's values into one key (collisions only add candidates).
_MIX = np.random.default_rng(20240611).integers(1, 2**63, size=BAND_ROWS, dtype=np.uint64) * np.uint64(2) + 1


def shingles(source: str) -> list[bytes]:
    """The shingles of ``source``: each run of :data:`SHINGLE` normalised tokens, joined by a space.

    A program with fewer tokens has one shingle holding all of them.
    """
    tokens = normalize(source).split()
    if len(tokens) < SHINGLE:
        return [" ".join(tokens).encode()]
    return [" ".join(tokens[i:i + SHINGLE]).encode() for i in range(len(tokens) - SHINGLE + 1)]


def signature(source: str) -> np.ndarray:
    """MinHash signature of ``source``'s shingles: :data:`NUM_PERM` unsigned integers.

    Equal for programs that differ only in identifiers and literals (or have the same
    shingles otherwise); the same in every process and on every machine (for one datasketch
    version).
    """
    m = _TEMPLATE.copy()
    m.update_batch(shingles(source))
    return m.hashvalues.copy()


def _signature_batch(sources: list[str]) -> np.ndarray:
    """Signatures of ``sources`` (a worker's task): ``len(sources) x NUM_PERM``."""
    if not sources:
        return np.zeros((0, NUM_PERM), dtype=_TEMPLATE.hashvalues.dtype)
    return np.stack([signature(s) for s in sources])


def signatures(sources: Iterable[str], processes: int = 1, batch_size: int = 500) -> np.ndarray:
    """Signatures of ``sources``, one row each, in order (an ``N x NUM_PERM`` matrix).

    Args:
        sources: Program sources; consumed a batch at a time (an iterator is never held whole).
        processes: Worker processes (1: in this process). About 0.3 ms a program in one process,
            half of it normalising, half hashing.
        batch_size: Programs per worker task.
    """
    out: list[np.ndarray] = []
    if processes <= 1:
        out = [_signature_batch(b) for b in batched(sources, batch_size)]
    else:
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        with multiprocessing.get_context(method).Pool(processes) as pool:
            pending: deque = deque()  # at most two tasks a worker in flight: the sources are not all read at once
            for b in batched(sources, batch_size):
                pending.append(pool.apply_async(_signature_batch, (b,)))
                if len(pending) >= 2 * processes:
                    out.append(pending.popleft().get())
            out += [task.get() for task in pending]
    return np.concatenate(out) if out else _signature_batch([])


@dataclass(slots=True)
class DiversityReport:
    """How many rows have a near-twin, and how similar each row is to its closest other row.

    Attributes:
        total_rows: Rows compared.
        threshold: Estimated Jaccard at or above which two rows are near-twins.
        rows_with_twin: Rows with at least one other row (of any split) at ``threshold`` or above.
        heldout_rows: Rows of every split other than ``train``.
        heldout_with_train_twin: Held-out rows with a ``train`` row at ``threshold`` or above.
        max_similarity_histogram: Bin label -> rows whose highest estimated Jaccard to any other
            row falls in it (a row with no candidate counts as ``<0.5``); the bins add up to
            ``total_rows``.
        by_split: Split -> ``rows``, ``with_twin`` and (held-out splits) ``with_train_twin``.
        params: How it was computed (permutations, shingle size, bands).
    """

    total_rows: int
    threshold: float
    rows_with_twin: int
    heldout_rows: int
    heldout_with_train_twin: int
    max_similarity_histogram: dict[str, int]
    by_split: dict[str, dict[str, int]] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def twin_fraction(self) -> float:
        """Fraction of rows with a near-twin (0 for no rows)."""
        return self.rows_with_twin / self.total_rows if self.total_rows else 0.0

    @property
    def heldout_twin_fraction(self) -> float:
        """Fraction of held-out rows with a train near-twin (0 for no held-out rows)."""
        return self.heldout_with_train_twin / self.heldout_rows if self.heldout_rows else 0.0

    def to_json(self) -> dict[str, Any]:
        """Plain JSON form (with both fractions, rounded to 4 digits)."""
        out = asdict(self)
        out["rows_with_twin_fraction"] = round(self.twin_fraction, 4)
        out["heldout_with_train_twin_fraction"] = round(self.heldout_twin_fraction, 4)
        return out


def _band_keys(sigs: np.ndarray) -> np.ndarray:
    """One uint64 key per row and band (``U x BANDS``): equal when the band's values are."""
    with np.errstate(over="ignore"):
        bands = sigs.astype(np.uint64).reshape(len(sigs), BANDS, BAND_ROWS)
        return (bands * _MIX).sum(axis=2, dtype=np.uint64)


def _bucket_pairs(keys: np.ndarray, active: np.ndarray) -> Iterable[tuple[np.ndarray, np.ndarray]]:
    """Pairs ``(a, b)`` of rows that share a bucket of one band's ``keys``, a batch at a time.

    Only buckets holding an ``active`` row (one still looking for matches) give pairs. They
    are handled by size, all those of one size at once. In a bucket of more than
    :data:`MAX_BUCKET` rows each active row meets the :data:`MAX_BUCKET` rows around it
    (cyclically), so the work stays linear in the rows.
    """
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
    sizes = np.diff(np.r_[starts, len(keys)])
    for size in np.unique(sizes[sizes > 1]).tolist():
        group_starts = starts[sizes == size]
        if size <= MAX_BUCKET:
            members = order[group_starts[:, None] + np.arange(size)]  # groups x size
            members = members[active[members].any(axis=1)]
            iu, ju = np.triu_indices(size, 1)
            per_batch = max(1, PAIR_CHUNK // len(iu))
            for lo in range(0, len(members), per_batch):
                block = members[lo:lo + per_batch]
                yield block[:, iu].ravel(), block[:, ju].ravel()
            continue
        half = MAX_BUCKET // 2
        offsets = np.r_[np.arange(1, half + 1), np.arange(size - half, size)]  # j +- 1 .. MAX_BUCKET/2
        per_batch = max(1, PAIR_CHUNK // len(offsets))
        for first in group_starts.tolist():
            members = order[first:first + size]
            mine = np.flatnonzero(active[members])  # positions of the active rows
            for lo in range(0, len(mine), per_batch):
                part = mine[lo:lo + per_batch]
                yield np.repeat(members[part], len(offsets)), members[(part[:, None] + offsets) % size].ravel()


def _settled_levels(eps: float | None = None) -> np.ndarray:
    """For ``k`` bands done (index ``k``), the fewest equal values at which a row's best match is settled.

    A row whose best match so far shares ``c`` of ``NUM_PERM`` values (estimated Jaccard
    ``s = c / NUM_PERM``) would have a better match share none of the ``k`` bands done with
    probability at most ``(1 - s**BAND_ROWS)**k``; once that is below ``eps`` it needs no more
    comparisons (``eps`` defaults to :data:`SETTLE_EPS`). ``NUM_PERM + 1`` (never settled) where no
    level is enough.
    """
    eps = SETTLE_EPS if eps is None else eps
    s = np.arange(NUM_PERM + 1) / NUM_PERM
    levels = np.full(BANDS + 1, NUM_PERM + 1, dtype=np.int16)
    for k in range(1, BANDS + 1):
        ok = np.flatnonzero((1 - s**BAND_ROWS) ** k <= eps)
        if len(ok):
            levels[k] = ok[0]
    return levels


def _best_matches(sigs: np.ndarray, in_train: np.ndarray, held_out: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each row of ``sigs`` (distinct rows), the most values shared with any other row and with a train row.

    Candidates come band by band (see :func:`_bucket_pairs`); a pair is compared while one of
    its rows still needs it: a row stops looking once its best match is settled (see
    :func:`_settled_levels`), and for a train match once that one is. A pair met in several
    bands is compared again (cheaper than remembering which pairs were).

    Args:
        sigs: Distinct signatures (``U x NUM_PERM``).
        in_train: Whether each signature is held by a ``train`` row.
        held_out: Whether each signature is held by a row of another split (whose train match counts).

    Returns:
        Two int16 arrays of length ``U``: the largest number of equal signature values with
        another candidate row, and with another candidate row held by ``train`` (0 when none).
    """
    n = len(sigs)
    best = np.zeros(n, dtype=np.int16)
    best_train = np.zeros(n, dtype=np.int16)
    if n < 2:
        return best, best_train
    keys = _band_keys(sigs)
    levels = _settled_levels()
    need, need_train = np.ones(n, dtype=bool), held_out.copy()
    compared = 0
    for band in range(BANDS):
        for a, b in _bucket_pairs(keys[:, band], need | need_train):
            keep = need[a] | need[b] | (need_train[a] & in_train[b]) | (need_train[b] & in_train[a])
            a, b = a[keep], b[keep]
            if not len(a):
                continue
            compared += len(a)
            shared = (sigs[a] == sigs[b]).sum(axis=1, dtype=np.int16)
            np.maximum.at(best, a, shared)
            np.maximum.at(best, b, shared)
            tb, ta = in_train[b], in_train[a]
            np.maximum.at(best_train, a[tb], shared[tb])
            np.maximum.at(best_train, b[ta], shared[ta])
        need = best < levels[band + 1]
        need_train = held_out & (best_train < levels[band + 1])
    logger.debug("compared %d candidate pairs of %d distinct signatures", compared, n)
    return best, best_train


def closest(signatures: np.ndarray, splits: Sequence[str]) -> tuple[np.ndarray, np.ndarray, int]:
    """Each row's highest estimated Jaccard to any other row, and to any other ``train`` row.

    Rows with equal signatures are collapsed first (they are each other's matches at 1.0);
    the distinct ones are compared with their LSH candidates only, so a row with no
    candidate (no other row close to Jaccard 0.5 or above) gets 0.

    Args:
        signatures: One :func:`signature` per row (``N x NUM_PERM``).
        splits: The split of each row.

    Returns:
        ``(best, best_train, distinct)``: two int16 arrays of length ``N`` holding the number of
        equal signature values (divide by ``NUM_PERM`` for the estimated Jaccard), and the
        number of distinct signatures.

    Raises:
        ValueError: ``signatures`` is not ``N x NUM_PERM`` or ``splits`` has another length.
    """
    sigs = np.asarray(signatures)
    if sigs.ndim != 2 or sigs.shape[1] != NUM_PERM:
        raise ValueError(f"signatures must be an N x {NUM_PERM} matrix, got shape {sigs.shape}")
    if len(splits) != len(sigs):
        raise ValueError(f"{len(sigs)} signatures but {len(splits)} splits")
    is_train = np.asarray(splits, dtype=object) == "train"
    if not len(sigs):
        return np.zeros(0, dtype=np.int16), np.zeros(0, dtype=np.int16), 0
    uniq, inverse, counts = np.unique(sigs, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    train_rows = np.bincount(inverse[is_train], minlength=len(uniq))  # train rows holding each signature
    held_out = np.bincount(inverse[~is_train], minlength=len(uniq)) > 0
    best, best_train = _best_matches(uniq, train_rows > 0, held_out)
    # a row whose signature another row also holds matches it fully
    full = np.int16(NUM_PERM)
    row_best = np.where(counts[inverse] > 1, full, best[inverse])
    row_best_train = np.where(train_rows[inverse] - is_train > 0, full, best_train[inverse])
    return row_best, row_best_train, len(uniq)


def near_twins(signatures: np.ndarray, splits: Sequence[str], threshold: float = DEFAULT_THRESHOLD
               ) -> DiversityReport:
    """Count rows with a near-twin, held-out rows with a train near-twin, and each row's closest match.

    Two rows are near-twins when their estimated Jaccard (the fraction of equal signature
    values) is at least ``threshold``; see :func:`closest` for how rows are compared.

    Args:
        signatures: One :func:`signature` per row (``N x NUM_PERM``).
        splits: The split of each row (``train`` is the split held-out rows are compared with).
        threshold: Estimated Jaccard at or above which two rows are near-twins.

    Returns:
        The report.

    Raises:
        ValueError: ``signatures`` is not ``N x NUM_PERM`` or ``splits`` has another length.
    """
    started = time.perf_counter()
    best, best_train, distinct = closest(signatures, splits)
    split_arr = np.asarray(splits, dtype=object)
    is_train = split_arr == "train"
    need = math.ceil(threshold * NUM_PERM - 1e-9)  # equal values needed to reach the threshold
    twin = best >= need
    train_twin = (best_train >= need) & ~is_train
    edges = [math.ceil(e * NUM_PERM - 1e-9) for e in BIN_EDGES]  # in equal values; the last, NUM_PERM, is "1.0"
    hist = np.bincount(np.searchsorted(edges, best, side="right"), minlength=len(BIN_LABELS))
    by_split = {}
    for split in dict.fromkeys(splits):
        mask = split_arr == split
        by_split[split] = {"rows": int(mask.sum()), "with_twin": int(twin[mask].sum())}
        if split != "train":
            by_split[split]["with_train_twin"] = int(train_twin[mask].sum())
    report = DiversityReport(
        total_rows=len(best),
        threshold=threshold,
        rows_with_twin=int(twin.sum()),
        heldout_rows=int((~is_train).sum()),
        heldout_with_train_twin=int(train_twin.sum()),
        max_similarity_histogram={label: int(c) for label, c in zip(BIN_LABELS, hist, strict=True)},
        by_split=by_split,
        params={"num_perm": NUM_PERM, "shingle": SHINGLE, "bands": BANDS, "band_rows": BAND_ROWS,
                "distinct_signatures": distinct},
    )
    logger.info("near-twins of %d rows (%d distinct signatures) in %.2fs", len(best), distinct,
                time.perf_counter() - started)
    return report
