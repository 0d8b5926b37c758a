"""MinHash signatures of programs: the shingles of their normalised text, hashed the same on every machine.

A program's text is normalised (:func:`generator.planning.shingles.normalize`: identifiers and literals
replaced) and cut into shingles of :data:`SHINGLE` consecutive tokens; its signature is the MinHash of that
set, :data:`NUM_PERM` values whose agreement estimates the Jaccard similarity of two programs
(:mod:`generator.planning.similarity` finds the near-twins from them).

Signatures are deterministic across processes and machines. Each token of the normalised
text is hashed once (BLAKE2b, cached: the normalised vocabulary is small), a shingle's
32-bit hash is mixed from its tokens' hashes with NumPy (no per-shingle Python work: this
is what makes a signature cheap enough for the planner to take one of every draw), and
the shingle hashes are permuted by datasketch 2's ``affine32`` MinHash scheme (its
permutations, seeded with :data:`SEED`, and its MurmurHash3 pre-mix). :func:`signature`
does that with NumPy, so a build does not import datasketch (and SciPy, which its package
imports: 0.6 s); :func:`datasketch_signature`, used by ``warp-ir stats --diversity``, feeds
the same shingle hashes to ``datasketch.MinHash``, and the tests check the two agree bit for
bit. Python's ``hash()``, salted per process, is never used.
"""

from __future__ import annotations

import hashlib
import multiprocessing
from collections import deque
from collections.abc import Iterable

import numpy as np

from common.batching import batched
from generator.planning.shingles import normalize

NUM_PERM = 128  # MinHash permutations (signature length)
SEED = 1  # datasketch's permutation seed
SHINGLE = 5  # tokens per shingle
# Odd 64-bit multipliers mixing a shingle's token hashes into its hash (one per position in the shingle).
_SHINGLE_MIX = np.random.default_rng(20261202).integers(1, 2**63, size=SHINGLE, dtype=np.uint64) * np.uint64(2) + 1
_TOKEN_HASHES: dict[str, int] = {}  # token -> 64-bit hash (the normalised vocabulary is small)
_MAX_CACHED_TOKENS = 1 << 20


def cached_hash(text: str, cache: dict[str, int], digest_size: int) -> int:
    """A stable hash of ``text`` (BLAKE2b, ``digest_size`` bytes, little-endian), kept in ``cache`` while it holds
    fewer than :data:`_MAX_CACHED_TOKENS` entries."""
    h = cache.get(text)
    if h is None:
        h = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=digest_size).digest(), "little")
        if len(cache) < _MAX_CACHED_TOKENS:
            cache[text] = h
    return h


def _token_hash(token: str) -> int:
    """A stable 64-bit hash of ``token`` (BLAKE2b), cached."""
    return cached_hash(token, _TOKEN_HASHES, 8)


def shingle_hashes(normalized: str) -> np.ndarray:
    """32-bit hashes of the shingles of a normalised text (see :func:`generator.planning.shingles.normalize`).

    Shingle ``i`` is tokens ``i .. i + SHINGLE - 1``; its hash mixes their hashes, each with the
    multiplier of its position, so the same tokens in another order hash differently. A text
    with fewer tokens has one shingle holding all of them. Equal shingles hash equally in
    every process.
    """
    tokens = normalized.split()
    try:
        ids = np.array([_TOKEN_HASHES[t] for t in tokens], dtype=np.uint64)
    except KeyError:
        ids = np.array([_token_hash(t) for t in tokens], dtype=np.uint64)
    width = min(SHINGLE, len(ids))
    if width == 0:
        return np.zeros(1, dtype=np.uint32)
    with np.errstate(over="ignore"):
        windows = np.lib.stride_tricks.sliding_window_view(ids, width)
        mixed = (windows * _SHINGLE_MIX[:width]).sum(axis=1, dtype=np.uint64)
        mixed ^= mixed >> np.uint64(29)
        mixed *= np.uint64(0xBF58476D1CE4E5B9)
    return (mixed >> np.uint64(32)).astype(np.uint32)


def _affine32_permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """datasketch 2's ``affine32`` permutations ``h -> a * h + b (mod 2**32)`` for ``seed`` (``a`` odd)."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


_PERM_A, _PERM_B = _affine32_permutations(NUM_PERM, SEED)


def _fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer (datasketch applies it to every hash before permuting)."""
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(2246822507)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(3266489909)
    return h ^ (h >> np.uint32(16))


def minhash_values(hashes: np.ndarray) -> np.ndarray:
    """The MinHash signature (``uint32``, :data:`NUM_PERM` values) of a set given by its 32-bit hashes (datasketch's
    ``affine32`` scheme: MurmurHash3's finalizer, then the permutations)."""
    with np.errstate(over="ignore"):
        h = _fmix32(np.asarray(hashes, dtype=np.uint32))[:, None]
        return (h * _PERM_A + _PERM_B).min(axis=0)


def signature_of_normalized(normalized: str) -> np.ndarray:
    """MinHash signature (``uint32``, :data:`NUM_PERM` values) of a normalised text's shingles.

    The same values as :func:`datasketch_signature`, computed with NumPy alone.
    """
    return minhash_values(shingle_hashes(normalized))


_DATASKETCH_EMPTY = None  # an empty datasketch.MinHash, made on first use


def datasketch_signature(normalized: str) -> np.ndarray:
    """:func:`signature_of_normalized` computed by ``datasketch.MinHash`` (scheme ``affine32``, seed :data:`SEED`)."""
    global _DATASKETCH_EMPTY
    if _DATASKETCH_EMPTY is None:
        from datasketch import MinHash  # noqa: PLC0415 - imports SciPy (0.6 s): only where asked for

        _DATASKETCH_EMPTY = MinHash(num_perm=NUM_PERM, seed=SEED, hashfunc=int, scheme="affine32")
    m = _DATASKETCH_EMPTY.copy()  # a copy keeps the permutations (making a MinHash draws them again)
    m.update_batch(shingle_hashes(normalized).tolist())
    return m.hashvalues.copy()


def signature(source: str) -> np.ndarray:
    """MinHash signature of ``source``'s shingles: :data:`NUM_PERM` unsigned integers.

    Equal for programs that differ only in identifiers and literals (or have the same
    shingles otherwise); the same in every process and on every machine (for one datasketch
    version).
    """
    return signature_of_normalized(normalize(source))


def _signature_batch(sources: list[str], use_datasketch: bool = False) -> np.ndarray:
    """Signatures of ``sources`` (a worker's task): ``len(sources) x NUM_PERM``."""
    if not sources:
        return np.zeros((0, NUM_PERM), dtype=np.uint32)
    sign = datasketch_signature if use_datasketch else signature_of_normalized
    return np.stack([sign(normalize(s)) for s in sources])


def signatures(sources: Iterable[str], processes: int = 1, batch_size: int = 500,
               use_datasketch: bool = False) -> np.ndarray:
    """Signatures of ``sources``, one row each, in order (an ``N x NUM_PERM`` matrix).

    Args:
        sources: Program sources; consumed a batch at a time (an iterator is never held whole).
        processes: Worker processes (1: in this process). About 0.25 ms a program in one process,
            most of it normalising.
        batch_size: Programs per worker task.
        use_datasketch: Compute them with ``datasketch.MinHash`` (the same values; slower, and it
            imports datasketch).
    """
    out: list[np.ndarray] = []
    if processes <= 1:
        out = [_signature_batch(b, use_datasketch) for b in batched(sources, batch_size)]
    else:
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        with multiprocessing.get_context(method).Pool(processes) as pool:
            pending: deque = deque()  # at most two tasks a worker in flight: the sources are not all read at once
            for b in batched(sources, batch_size):
                pending.append(pool.apply_async(_signature_batch, (b, use_datasketch)))
                if len(pending) >= 2 * processes:
                    out.append(pending.popleft().get())
            out += [task.get() for task in pending]
    return np.concatenate(out) if out else _signature_batch([])
