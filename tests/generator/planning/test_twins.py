"""Near-twins while planning: the LSH index, fuzzy deduplication, and splits that keep near-twins together."""

from __future__ import annotations

import numpy as np
import pytest

from generator.planning import twins as twins_module
from generator.planning.minhash import NUM_PERM, signature
from generator.planning.plan import make_plan
from generator.planning.similarity import near_twins
from generator.planning.twins import TwinIndex
from generator.programs.sampler import sample_program
from generator.programs.templates import load_templates

RATIOS = {"train": 0.5, "validation": 0.25, "test": 0.25}


def _variant(base: np.ndarray, changed: int, rng: np.random.Generator) -> np.ndarray:
    """``base`` with ``changed`` of its values replaced (so it shares ``NUM_PERM - changed`` with it)."""
    out = base.copy()
    where = rng.choice(NUM_PERM, size=changed, replace=False)
    out[where] = rng.integers(0, 2**32, size=changed, dtype=np.uint32)
    return out


def _replay(index: TwinIndex, sigs: np.ndarray, batches: list[int]) -> list[tuple[int, int]]:
    """Query then keep every signature in order (split = position % 3), cut into ``batches``; the answers."""
    out, start = [], 0
    for size in batches:
        index.begin(sigs[start:start + size])
        for i in range(min(size, len(sigs) - start)):
            t = index.query(i)
            out.append((t.best, t.splits))
            index.add(i, (start + i) % 3)
        index.end()
        start += size
    return out


def test_twins_found_by_similarity_and_split():
    rng = np.random.default_rng(0)
    base = rng.integers(0, 2**32, size=NUM_PERM, dtype=np.uint32)
    near, far = _variant(base, 10, rng), _variant(base, 40, rng)  # share 118 (>= 109) and 88 values
    index = TwinIndex(0.85, 3)
    index.begin(np.stack([base]))
    assert index.query(0).best == 0 and index.query(0).splits == 0  # nothing kept yet
    index.add(0, 2)
    index.end()
    index.begin(np.stack([near, far]))
    twin, other = index.query(0), index.query(1)
    assert twin.best >= 118 and twin.splits == 0b100  # base, kept in split 2
    assert other.splits == 0 and other.best <= 88 + 5
    index.end()


def test_a_program_between_two_splits_sees_both():
    rng = np.random.default_rng(1)
    a = rng.integers(0, 2**32, size=NUM_PERM, dtype=np.uint32)
    b = a.copy()
    b[:28] = rng.integers(0, 2**32, size=28, dtype=np.uint32)  # a, b share 100 values: not twins
    bridge = a.copy()
    bridge[:14] = b[:14]  # shares 114 with each
    index = TwinIndex(0.85, 3)
    assert _replay(index, np.stack([a, b]), [2])[1][1] == 0  # b is not a's twin
    index.begin(np.stack([bridge]))
    assert index.query(0).splits == 0b011  # a in train (0), b in validation (1)
    index.end()


@pytest.mark.parametrize("max_bucket", [100, 3])
def test_answers_do_not_depend_on_batches(monkeypatch, max_bucket):
    monkeypatch.setattr(twins_module, "MAX_BUCKET", max_bucket)  # 3: full buckets everywhere
    rng = np.random.default_rng(2)
    centres = rng.integers(0, 2**32, size=(6, NUM_PERM), dtype=np.uint32)
    sigs = np.stack([_variant(centres[i % 6], int(rng.integers(0, 30)), rng) for i in range(240)])
    one = _replay(TwinIndex(0.85, 3), sigs, [240])
    assert _replay(TwinIndex(0.85, 3), sigs, [1] * 240) == one
    assert _replay(TwinIndex(0.85, 3), sigs, [7, 50, 3, 100, 80]) == one
    assert sum(1 for best, _ in one if best >= 109) > 100  # many rows have a twin: the test can fail


def test_index_memory_is_bounded_per_program():
    rng = np.random.default_rng(3)
    index = TwinIndex(0.85, 3)
    _replay(index, rng.integers(0, 2**32, size=(4096, NUM_PERM), dtype=np.uint32), [1000] * 5)
    assert index.size == 4096
    assert index.nbytes < 4096 * 1300  # signatures (512 B), split, band keys and ids (21 x 12 B), growth slack


def test_bad_arguments():
    with pytest.raises(ValueError, match="threshold"):
        TwinIndex(0.0, 3)
    with pytest.raises(ValueError, match="num_splits"):
        TwinIndex(0.85, 9)


def _assignments(plan) -> dict[int, str]:
    return {i: split for split, shards in plan.shards.items() for sh in shards for i in sh.indices}


def _sources(plan, ts) -> tuple[list[str], list[str]]:
    sources, splits = [], []
    for split, shards in plan.shards.items():
        for sh in shards:
            for i in sh.indices:
                sources.append(sample_program(sh.seed, i, ts, sh.families).source)
                splits.append(split)
    return sources, splits


def test_near_twins_never_straddle_splits():
    ts = load_templates()
    fams = ["arithmetic", "trigonometry", "math_functions"]
    plan = make_plan(3, 150, ts, fams, RATIOS, 50, fuzzy_dedup=False)
    sources, splits = _sources(plan, ts)
    report = near_twins(np.stack([signature(s) for s in sources]), splits)
    assert report.rows_with_twin > 20  # these families are full of near-twins...
    assert report.rows_with_cross_split_twin == 0  # ...and none sits in two splits
    assert plan.fuzzy_duplicates == 0
    assert len(set(splits)) == 3


def test_fuzzy_dedup_keeps_no_near_twins():
    ts = load_templates()
    fams = ["arithmetic", "trigonometry", "math_functions"]
    plan = make_plan(3, 100, ts, fams, RATIOS, 50)
    sources, splits = _sources(plan, ts)
    report = near_twins(np.stack([signature(s) for s in sources]), splits)
    assert plan.kept == 100 and plan.fuzzy_duplicates > 0
    assert report.rows_with_twin == 0


@pytest.mark.parametrize("fuzzy", [True, False])
def test_plan_of_n_is_a_prefix_of_plan_of_2n(fuzzy):
    ts = load_templates()
    fams = ["arithmetic", "trigonometry", "vector"]
    small = _assignments(make_plan(11, 60, ts, fams, RATIOS, 20, fuzzy_dedup=fuzzy))
    large = _assignments(make_plan(11, 120, ts, fams, RATIOS, 20, fuzzy_dedup=fuzzy))
    first = dict(sorted(large.items())[:60])
    assert first == small
