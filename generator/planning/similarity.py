"""Structural similarity of programs: near-twin counts over MinHash signatures (:mod:`generator.planning.minhash`).

Exact and normalised-hash deduplication (:mod:`generator.planning.shingles`) only catch programs
that are the same after renaming. This module measures how many rows are *near* copies
of each other: two programs are compared by the Jaccard similarity of their sets of
shingles, each shingle being a run of :data:`SHINGLE` consecutive tokens of the
normalised text (identifiers and literals replaced), estimated by MinHash.

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
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from generator.planning.minhash import NUM_PERM, SHINGLE
from generator.planning.splits import SPLIT_TWIN_THRESHOLD

logger = logging.getLogger(__name__)

DEFAULT_TWIN_THRESHOLD = 0.85  # estimated Jaccard of normalised 5-token shingles: near-twins from here on
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

# Odd 64-bit multipliers mixing a band's values into one key (collisions only add candidates).
_MIX = np.random.default_rng(20240611).integers(1, 2**63, size=BAND_ROWS, dtype=np.uint64) * np.uint64(2) + 1


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
    rows_with_cross_split_twin: int
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


def band_keys(sigs: np.ndarray, band_rows: int = BAND_ROWS, mix: np.ndarray = _MIX) -> np.ndarray:
    """One uint64 key per row and band: equal when the band's values are (collisions only add candidates).

    Args:
        sigs: Signatures, ``N x (bands * band_rows)``.
        band_rows: Values per band.
        mix: ``band_rows`` odd 64-bit multipliers mixing a band's values into its key.

    Returns:
        ``N x bands`` keys.
    """
    with np.errstate(over="ignore"):
        bands = sigs.astype(np.uint64).reshape(len(sigs), -1, band_rows)
        return (bands * mix).sum(axis=2, dtype=np.uint64)


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


def _best_matches(sigs: np.ndarray, masks: np.ndarray, train_bit: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each row of ``sigs`` (distinct rows), the most values shared with another row, a train row, another split.

    Candidates come band by band (see :func:`_bucket_pairs`); a pair is compared while one of
    its rows still needs it: a row stops looking once its best match is settled (see
    :func:`_settled_levels`), and likewise for its train match and its other-split matches. A
    pair met in several bands is compared again (cheaper than remembering which pairs were).

    Args:
        sigs: Distinct signatures (``U x NUM_PERM``).
        masks: Bit ``s`` set when a row of split ``s`` holds the signature (``uint8``, ``U``).
        train_bit: The bit of ``train`` (0 when there is no train row).

    Returns:
        Three int16 arrays: the largest number of equal signature values with another candidate
        row (``U``); with another one held by ``train`` (``U``); and, per split ``s``, with one held by
        a split other than ``s`` (``U x 8``). 0 where none.
    """
    n = len(sigs)
    best = np.zeros(n, dtype=np.int16)
    best_train = np.zeros(n, dtype=np.int16)
    best_cross = np.zeros((n, 8), dtype=np.int16)
    if n < 2:
        return best, best_train, best_cross
    in_train = (masks & train_bit) > 0
    held_out = (masks & ~np.uint8(train_bit)) > 0
    split_bits = [s for s in range(8) if (np.bitwise_or.reduce(masks) >> s) & 1]
    keys = band_keys(sigs)
    levels = _settled_levels()
    need, need_train, need_cross = np.ones(n, dtype=bool), held_out.copy(), np.ones(n, dtype=bool)
    compared = 0
    for band in range(BANDS):
        for a, b in _bucket_pairs(keys[:, band], need | need_train | need_cross):
            cross = (masks[a] != masks[b]) | ((masks[a] & (masks[a] - 1)) > 0)  # rows of two splits meet
            keep = (need[a] | need[b] | (need_train[a] & in_train[b]) | (need_train[b] & in_train[a])
                    | (cross & (need_cross[a] | need_cross[b])))
            a, b, cross = a[keep], b[keep], cross[keep]
            if not len(a):
                continue
            compared += len(a)
            shared = (sigs[a] == sigs[b]).sum(axis=1, dtype=np.int16)
            np.maximum.at(best, a, shared)
            np.maximum.at(best, b, shared)
            tb, ta = in_train[b], in_train[a]
            np.maximum.at(best_train, a[tb], shared[tb])
            np.maximum.at(best_train, b[ta], shared[ta])
            for s in split_bits:
                bit = np.uint8(1 << s)
                for x, y in ((a, b), (b, a)):  # x holds split s, y holds another split
                    sel = cross & ((masks[x] & bit) > 0) & ((masks[y] & ~bit) > 0)
                    np.maximum.at(best_cross[:, s], x[sel], shared[sel])
        level = levels[band + 1]
        need = best < level
        need_train = held_out & (best_train < level)
        need_cross = np.zeros(n, dtype=bool)
        for s in split_bits:
            need_cross |= ((masks >> s) & 1).astype(bool) & (best_cross[:, s] < level)
    logger.debug("compared %d candidate pairs of %d distinct signatures", compared, n)
    return best, best_train, best_cross


def closest(signatures: np.ndarray, splits: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Each row's highest estimated Jaccard to any other row, to any other ``train`` row, to a row of another split.

    Rows with equal signatures are collapsed first (they are each other's matches at 1.0);
    the distinct ones are compared with their LSH candidates only, so a row with no
    candidate (no other row close to Jaccard 0.5 or above) gets 0.

    Args:
        signatures: One :func:`generator.planning.minhash.signature` per row (``N x NUM_PERM``).
        splits: The split of each row (at most 8 distinct names).

    Returns:
        ``(best, best_train, best_cross, distinct)``: three int16 arrays of length ``N`` holding
        the number of equal signature values (divide by ``NUM_PERM`` for the estimated Jaccard),
        and the number of distinct signatures.

    Raises:
        ValueError: ``signatures`` is not ``N x NUM_PERM``, ``splits`` has another length or more
            than 8 names.
    """
    sigs = np.asarray(signatures)
    if sigs.ndim != 2 or sigs.shape[1] != NUM_PERM:
        raise ValueError(f"signatures must be an N x {NUM_PERM} matrix, got shape {sigs.shape}")
    if len(splits) != len(sigs):
        raise ValueError(f"{len(sigs)} signatures but {len(splits)} splits")
    names = list(dict.fromkeys(splits))
    if len(names) > 8:
        raise ValueError(f"at most 8 splits, got {len(names)}")
    empty = np.zeros(0, dtype=np.int16)
    if not len(sigs):
        return empty, empty, empty, 0
    code = np.asarray([names.index(s) for s in splits], dtype=np.uint8)
    bit = np.left_shift(np.uint8(1), code)
    is_train = np.asarray(splits, dtype=object) == "train"
    uniq, inverse, counts = np.unique(sigs, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    masks = np.zeros(len(uniq), dtype=np.uint8)
    np.bitwise_or.at(masks, inverse, bit)
    train_rows = np.bincount(inverse[is_train], minlength=len(uniq))  # train rows holding each signature
    train_bit = 1 << names.index("train") if "train" in names else 0
    best, best_train, best_cross = _best_matches(uniq, masks, train_bit)
    # a row whose signature another row also holds matches it fully
    full = np.int16(NUM_PERM)
    row_best = np.where(counts[inverse] > 1, full, best[inverse])
    row_best_train = np.where(train_rows[inverse] - is_train > 0, full, best_train[inverse])
    row_best_cross = np.where((masks[inverse] & ~bit) > 0, full, best_cross[inverse, code])
    return row_best, row_best_train, row_best_cross, len(uniq)


def near_twins(signatures: np.ndarray, splits: Sequence[str], threshold: float = DEFAULT_TWIN_THRESHOLD
               ) -> DiversityReport:
    """Count rows with a near-twin, held-out rows with a train near-twin, and each row's closest match.

    Two rows are near-twins when their estimated Jaccard (the fraction of equal signature
    values) is at least ``threshold``; see :func:`closest` for how rows are compared.

    Args:
        signatures: One :func:`generator.planning.minhash.signature` per row (``N x NUM_PERM``).
        splits: The split of each row (``train`` is the split held-out rows are compared with).
        threshold: Estimated Jaccard at or above which two rows are near-twins.

    Returns:
        The report.

    Raises:
        ValueError: ``signatures`` is not ``N x NUM_PERM`` or ``splits`` has another length.
    """
    started = time.perf_counter()
    best, best_train, best_cross, distinct = closest(signatures, splits)
    split_arr = np.asarray(splits, dtype=object)
    is_train = split_arr == "train"
    need = math.ceil(threshold * NUM_PERM - 1e-9)  # equal values needed to reach the threshold
    twin = best >= need
    train_twin = (best_train >= need) & ~is_train
    cross_twin = best_cross >= need
    edges = [math.ceil(e * NUM_PERM - 1e-9) for e in BIN_EDGES]  # in equal values; the last, NUM_PERM, is "1.0"
    hist = np.bincount(np.searchsorted(edges, best, side="right"), minlength=len(BIN_LABELS))
    by_split = {}
    for split in dict.fromkeys(splits):
        mask = split_arr == split
        by_split[split] = {"rows": int(mask.sum()), "with_twin": int(twin[mask].sum()),
                           "with_cross_split_twin": int(cross_twin[mask].sum())}
        if split != "train":
            by_split[split]["with_train_twin"] = int(train_twin[mask].sum())
    report = DiversityReport(
        total_rows=len(best),
        threshold=threshold,
        rows_with_twin=int(twin.sum()),
        heldout_rows=int((~is_train).sum()),
        heldout_with_train_twin=int(train_twin.sum()),
        rows_with_cross_split_twin=int(cross_twin.sum()),
        max_similarity_histogram={label: int(c) for label, c in zip(BIN_LABELS, hist, strict=True)},
        by_split=by_split,
        params={"num_perm": NUM_PERM, "shingle": SHINGLE, "bands": BANDS, "band_rows": BAND_ROWS,
                "distinct_signatures": distinct},
    )
    logger.info("near-twins of %d rows (%d distinct signatures) in %.2fs", len(best), distinct,
                time.perf_counter() - started)
    return report


def two_measures(signatures: np.ndarray, splits: Sequence[str], threshold: float = DEFAULT_TWIN_THRESHOLD,
                 split_threshold: float = SPLIT_TWIN_THRESHOLD) -> dict[str, Any]:
    """The near-twin report of rows by both structural measures.

    Args:
        signatures: Each row's token signature then its syntax-tree signature (``N x 2 * NUM_PERM``, as the plan
            keeps them: :mod:`generator.planning.minhash`, :mod:`generator.planning.astpaths`).
        splits: Each row's split.
        threshold: The token measure's near-twin threshold (the top-level report, as before).
        split_threshold: The threshold the planner keeps near-twins of either measure in one split at: the report
            of each measure there is under ``measures``.

    Returns:
        :meth:`DiversityReport.to_json` of the token measure at ``threshold``, with ``measures``: ``tokens`` and
        ``syntax_tree``, each that report at ``split_threshold``.
    """
    tokens, tree = signatures[:, :NUM_PERM], signatures[:, NUM_PERM:]
    out = near_twins(tokens, splits, threshold).to_json()
    out["measures"] = {"tokens": near_twins(tokens, splits, split_threshold).to_json(),
                       "syntax_tree": near_twins(tree, splits, split_threshold).to_json()}
    return out
