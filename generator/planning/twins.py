"""Near-twins while planning: fuzzy deduplication and splits that keep near-twins together.

The planner takes draws in index order and asks this index, for each one, which kept
programs are its near-twins (estimated Jaccard of normalised 5-token shingles at or above
a threshold, from :mod:`generator.planning.similarity`'s MinHash signatures) and in which splits
they sit. Every answer depends only on programs kept before the draw, so a plan of N
programs is a prefix of a plan of 2N with the same seed, whatever the batch sizes.

Candidates come from LSH banding (:data:`BANDS` bands of :data:`BAND_ROWS` signature
values; a pair at Jaccard 0.85 shares a band with probability ``1 - (1 - 0.85**6)**21``,
above 0.9999) and each candidate is then compared on the whole signature, with the same
rule as ``warp-ir stats --diversity`` (at least ``ceil(threshold * NUM_PERM)`` equal values).
In a bucket only the first :data:`MAX_BUCKET` kept programs are candidates, so the work per
draw is bounded however many programs are kept.

Kept programs are stored compactly: their signatures (``uint32``, 512 bytes each) and their
band keys in a few sorted runs (12 bytes a band), merged as they grow (a log-structured
merge), about 0.8 KB a kept program in all. Draws of one batch are looked up among earlier
batches with NumPy at once; among each other, in order, through a dictionary that lives for
the batch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from generator.planning import similarity
from generator.planning.minhash import NUM_PERM

BAND_ROWS = 6
BANDS = NUM_PERM // BAND_ROWS  # 21 bands of 6 values (the last 2 values are not banded)
MAX_BUCKET = 100  # kept programs per band bucket that are candidates (the first ones kept)
# Odd 64-bit multipliers mixing a band's values (and the band's number) into one key.
_MIX = np.random.default_rng(20261203).integers(1, 2**63, size=BAND_ROWS + 1, dtype=np.uint64) * np.uint64(2) + 1


def band_keys(sigs: np.ndarray) -> np.ndarray:
    """One uint64 key per signature and band (``N x BANDS``), distinct between bands."""
    keys = similarity.band_keys(sigs[:, :BANDS * BAND_ROWS], BAND_ROWS, _MIX[:BAND_ROWS])
    with np.errstate(over="ignore"):
        keys += np.arange(BANDS, dtype=np.uint64) * _MIX[BAND_ROWS]
        keys ^= keys >> np.uint64(31)
    return keys


@dataclass(frozen=True, slots=True)
class Twins:
    """What the kept programs say about one draw.

    Attributes:
        best: Most signature values shared with any kept program (0 when no candidate).
        splits: Bit ``s`` set when a kept program of split ``s`` is a near-twin (at the index's split threshold).
    """

    best: int
    splits: int


class TwinIndex:
    """The kept programs' signatures and splits, banded for near-twin queries in index order.

    Args:
        threshold: Estimated Jaccard at or above which two programs are near-twins.
        num_splits: Splits programs are kept in (codes ``0 .. num_splits - 1``, at most 8).
        split_threshold: Estimated Jaccard at or above which a kept program's split counts in :attr:`Twins.splits`
            (default: ``threshold``; lower keeps looser twins out of other splits too).
    """

    def __init__(self, threshold: float, num_splits: int, split_threshold: float | None = None) -> None:
        split_threshold = threshold if split_threshold is None else split_threshold
        for value in (threshold, split_threshold):
            if not 0.0 < value <= 1.0:
                raise ValueError(f"threshold must be in (0, 1], got {value}")
        if not 1 <= num_splits <= 8:
            raise ValueError(f"num_splits must be 1..8, got {num_splits}")
        self.need = math.ceil(threshold * NUM_PERM - 1e-9)
        self.split_need = math.ceil(split_threshold * NUM_PERM - 1e-9)
        self._sigs = np.zeros((1024, NUM_PERM), dtype=np.uint32)
        self._split = np.zeros(1024, dtype=np.uint8)
        self.size = 0
        self._runs: list[tuple[np.ndarray, np.ndarray]] = []  # (sorted keys, kept ids), oldest first
        self._batch: dict[int, list[int]] | None = None
        self._batch_start = 0
        self._prior: tuple[np.ndarray, ...] | None = None  # sigs, keys, best, splits, taken

    @property
    def nbytes(self) -> int:
        """Bytes held by the index's arrays."""
        return self._sigs.nbytes + self._split.nbytes + sum(k.nbytes + i.nbytes for k, i in self._runs)

    def signatures(self) -> np.ndarray:
        """The kept programs' signatures, in the order they were kept (a view: ``size x NUM_PERM``)."""
        return self._sigs[: self.size]

    # -- a batch: look up among earlier batches at once, then query/add one draw at a time -------------------

    def begin(self, sigs: np.ndarray) -> None:
        """Start a batch of draws (``B x NUM_PERM`` signatures, in index order) and look them up among kept programs.

        Then call :meth:`query` for each draw of the batch in order (``0 .. B - 1``), :meth:`add` for each one kept,
        and :meth:`end`.
        """
        sigs = np.ascontiguousarray(sigs, dtype=np.uint32)
        keys = band_keys(sigs)
        flat = keys.ravel()
        taken = np.zeros(len(flat), dtype=np.int64)  # kept programs of earlier batches in each key's bucket
        pair_draw, pair_kept = [], []
        for run_keys, run_ids in self._runs:  # oldest first: the first MAX_BUCKET kept of a bucket are candidates
            lo = np.searchsorted(run_keys, flat, side="left")
            hi = np.searchsorted(run_keys, flat, side="right")
            count = np.minimum(hi - lo, np.maximum(MAX_BUCKET - taken, 0))
            taken += hi - lo
            hit = np.flatnonzero(count)
            if not len(hit):
                continue
            reps = count[hit]
            starts = np.repeat(lo[hit], reps) + (np.arange(reps.sum()) - np.repeat(np.cumsum(reps) - reps, reps))
            pair_draw.append(np.repeat(hit // BANDS, reps))
            pair_kept.append(run_ids[starts])
        best = np.zeros(len(sigs), dtype=np.int16)
        splits = np.zeros(len(sigs), dtype=np.uint8)
        if pair_draw:
            pairs = np.unique(np.stack([np.concatenate(pair_draw), np.concatenate(pair_kept)]), axis=1)
            d, k = pairs[0], pairs[1]
            for start in range(0, len(d), 1 << 14):
                dd, kk = d[start:start + (1 << 14)], k[start:start + (1 << 14)]
                shared = (sigs[dd] == self._sigs[kk]).sum(axis=1, dtype=np.int16)
                np.maximum.at(best, dd, shared)
                twin = shared >= self.split_need
                np.bitwise_or.at(splits, dd[twin], np.left_shift(1, self._split[kk[twin]]).astype(np.uint8))
        self._prior = (sigs, keys, best, splits, taken.reshape(keys.shape))
        self._batch = {}
        self._batch_start = self.size

    def _current(self) -> tuple[tuple[np.ndarray, ...], dict[int, list[int]]]:
        """The batch :meth:`begin` started: its arrays (sigs, keys, best, splits, taken) and its kept programs."""
        if self._prior is None or self._batch is None:
            raise RuntimeError("TwinIndex: query() and add() come between begin() and end()")
        return self._prior, self._batch

    def query(self, i: int) -> Twins:
        """Near-twins of draw ``i`` of the batch among every program kept so far (earlier batches and this one)."""
        prior, batch = self._current()
        sigs, keys, best_prior, splits_prior, taken = prior
        best, splits = int(best_prior[i]), int(splits_prior[i])
        seen: set[int] = set()
        sig = sigs[i]
        for band in range(BANDS):
            room = MAX_BUCKET - int(taken[i, band])
            if room <= 0:
                continue
            for kept in batch.get(int(keys[i, band]), [])[:room]:
                if kept in seen:
                    continue
                seen.add(kept)
                shared = int(np.count_nonzero(self._sigs[kept] == sig))
                best = max(best, shared)
                if shared >= self.split_need:
                    splits |= 1 << int(self._split[kept])
        return Twins(best, splits)

    def add(self, i: int, split: int) -> None:
        """Keep draw ``i`` of the batch in split ``split`` (a later draw will find it)."""
        prior, batch = self._current()
        sigs, keys = prior[0], prior[1]
        if self.size == len(self._sigs):
            self._sigs = np.resize(self._sigs, (2 * self.size, NUM_PERM))
            self._split = np.resize(self._split, 2 * self.size)
        self._sigs[self.size] = sigs[i]
        self._split[self.size] = split
        for key in keys[i].tolist():
            batch.setdefault(key, []).append(self.size)
        self.size += 1

    def end(self) -> None:
        """Finish the batch: its kept programs become a sorted run (runs are merged as they grow)."""
        new = np.arange(self._batch_start, self.size)
        self._batch, self._prior = None, None
        if not len(new):
            return
        keys = band_keys(self._sigs[new]).ravel()  # kept id-major: equal keys stay in id order
        order = np.argsort(keys, kind="stable")
        self._runs.append((keys[order], np.repeat(new, BANDS)[order].astype(np.int32)))
        while len(self._runs) >= 2 and len(self._runs[-2][0]) <= 2 * len(self._runs[-1][0]):
            (k1, i1), (k2, i2) = self._runs[-2], self._runs[-1]
            keys, ids = np.concatenate([k1, k2]), np.concatenate([i1, i2])  # older first: stable keeps id order
            order = np.argsort(keys, kind="stable")
            self._runs[-2:] = [(keys[order], ids[order])]
