"""MinHash signatures of normalised programs and near-twin counting."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from generator.planning.minhash import (
    NUM_PERM,
    SHINGLE,
    datasketch_signature,
    shingle_hashes,
    signature,
    signature_of_normalized,
    signatures,
)
from generator.planning.shingles import normalize
from generator.planning.similarity import BIN_LABELS, closest, near_twins

ROOT = Path(__file__).resolve().parents[3]

SAXPY = '''import warp as wp


@wp.kernel
def saxpy(x: wp.array(dtype=float), y: wp.array(dtype=float), alpha: float):
    """y = alpha * x + y, then a sine."""
    i = wp.tid()
    v = alpha * x[i] + y[i]
    y[i] = wp.sin(v) * 2.0 + 0.5
'''

# SAXPY with every name and literal changed (and a comment added): the same normalised program
SAXPY_RENAMED = '''import warp as wp


@wp.kernel
def blend_field(src: wp.array(dtype=float), dst: wp.array(dtype=float), gain: float):
    tid = wp.tid()  # thread
    val = gain * src[tid] + dst[tid]
    dst[tid] = wp.sin(val) * 7.5 + 0.125
'''

REDUCE = '''import warp as wp


@wp.kernel
def reduce_sum(values: wp.array(dtype=wp.float32), total: wp.array(dtype=wp.float32), n: int):
    tid = wp.tid()
    acc = wp.float32(0.0)
    for k in range(n):
        acc += values[tid * n + k]
    wp.atomic_add(total, 0, acc)
'''

VECTORS = '''import warp as wp


@wp.func
def reflect(d: wp.vec3, n: wp.vec3):
    return d - 2.0 * wp.dot(d, n) * n


@wp.kernel
def bounce(vel: wp.array(dtype=wp.vec3), normals: wp.array(dtype=wp.vec3)):
    tid = wp.tid()
    if wp.length(vel[tid]) > 1.0e-6:
        vel[tid] = reflect(vel[tid], wp.normalize(normals[tid]))
'''


def exact_jaccard(a: str, b: str) -> float:
    sa, sb = set(shingle_hashes(normalize(a)).tolist()), set(shingle_hashes(normalize(b)).tolist())
    return len(sa & sb) / len(sa | sb)


def test_shingle_hashes():
    assert len(shingle_hashes(normalize("x = 1"))) == 1  # fewer than SHINGLE tokens: one shingle of all of them
    tokens = normalize(SAXPY).split()
    got = shingle_hashes(normalize(SAXPY))
    assert got.dtype == np.uint32 and len(got) == len(tokens) - SHINGLE + 1
    # a shingle's hash depends on its tokens and their order, not on where it is
    assert shingle_hashes("a b c d e")[0] == shingle_hashes("z a b c d e")[1]
    assert shingle_hashes("a b c d e")[0] != shingle_hashes("b a c d e")[0]
    assert np.array_equal(shingle_hashes(normalize(SAXPY)), shingle_hashes(normalize(SAXPY_RENAMED)))
    assert not np.array_equal(shingle_hashes(normalize(SAXPY)),
                              shingle_hashes(normalize(SAXPY.replace("wp.sin", "wp.cos"))))  # builtins kept


def test_numpy_signature_is_datasketchs():
    for source in (SAXPY, REDUCE, VECTORS, "x = 1"):
        norm = normalize(source)
        assert np.array_equal(signature_of_normalized(norm), datasketch_signature(norm))
    assert np.array_equal(signatures([SAXPY, REDUCE], use_datasketch=True), signatures([SAXPY, REDUCE]))


def test_renamed_copy_is_a_twin_at_one():
    sig, renamed = signature(SAXPY), signature(SAXPY_RENAMED)
    assert sig.shape == (NUM_PERM,) and sig.dtype in (np.uint32, np.uint64)
    assert np.array_equal(sig, renamed)
    report = near_twins(signatures([SAXPY, SAXPY_RENAMED]), ["train", "train"])
    assert report.rows_with_twin == 2 and report.max_similarity_histogram["1.0"] == 2


def test_structurally_different_programs_are_not_twins():
    sources = [SAXPY, REDUCE, VECTORS]
    sigs = signatures(sources)
    for i in range(3):
        for j in range(i + 1, 3):
            assert (sigs[i] == sigs[j]).mean() < 0.5
            assert exact_jaccard(sources[i], sources[j]) < 0.5
    report = near_twins(sigs, ["train"] * 3)
    assert report.rows_with_twin == 0 and report.twin_fraction == 0.0


def test_estimate_close_to_exact_jaccard():
    longer = REDUCE.replace("    wp.atomic_add(total, 0, acc)\n",
                            "    acc = acc * 2.0\n    acc = wp.abs(acc)\n    wp.atomic_add(total, 0, acc)\n")
    estimated = (signature(REDUCE) == signature(longer)).mean()
    assert abs(estimated - exact_jaccard(REDUCE, longer)) < 0.15


def test_heldout_twin_counting():
    reduce_renamed = REDUCE.replace("values", "samples").replace("total", "sums").replace("0.0", "1.5")
    sources = [SAXPY, SAXPY_RENAMED, REDUCE, VECTORS, VECTORS.replace("1.0e-6", "0.5"), reduce_renamed]
    splits = ["train", "test", "validation", "train", "validation", "test"]
    report = near_twins(signatures(sources), splits)
    # twins: SAXPY pair (train/test), VECTORS pair (train/validation), REDUCE pair (validation/test)
    assert report.total_rows == 6 and report.rows_with_twin == 6
    assert report.heldout_rows == 4
    assert report.heldout_with_train_twin == 2  # the REDUCE pair has no train row
    assert report.rows_with_cross_split_twin == 6  # every pair straddles two splits (REDUCE: validation/test)
    assert report.by_split["test"] == {"rows": 2, "with_twin": 2, "with_cross_split_twin": 2, "with_train_twin": 1}
    assert report.by_split["validation"] == {"rows": 2, "with_twin": 2, "with_cross_split_twin": 2,
                                             "with_train_twin": 1}
    assert report.by_split["train"] == {"rows": 2, "with_twin": 2, "with_cross_split_twin": 2}
    same_split = near_twins(signatures(sources), ["train", "train", "test", "validation", "validation", "test"])
    assert same_split.rows_with_twin == 6 and same_split.rows_with_cross_split_twin == 0
    assert sum(report.max_similarity_histogram.values()) == 6
    data = report.to_json()
    assert json.loads(json.dumps(data)) == data
    assert data["heldout_with_train_twin_fraction"] == 0.5 and data["rows_with_twin_fraction"] == 1.0


def test_histogram_bins_add_up():
    sources = [SAXPY, SAXPY_RENAMED, REDUCE, VECTORS, "x = 1", ""]
    report = near_twins(signatures(sources), ["train", "train", "test", "train", "test", "validation"])
    assert list(report.max_similarity_histogram) == list(BIN_LABELS)
    assert sum(report.max_similarity_histogram.values()) == len(sources)
    assert report.max_similarity_histogram["1.0"] == 2 and report.max_similarity_histogram["<0.5"] == 4


def test_identical_rows_within_one_split_and_train_row_itself():
    sig = signature(SAXPY)
    best, best_train, best_cross, distinct = closest(np.stack([sig, sig, signature(REDUCE)]),
                                                     ["train", "test", "train"])
    assert distinct == 2
    assert best.tolist()[:2] == [NUM_PERM, NUM_PERM] and best[2] < NUM_PERM // 2
    assert best_train[1] == NUM_PERM  # the test row's train twin
    assert best_train[0] < NUM_PERM  # a train row is not its own train twin
    assert best_cross.tolist()[:2] == [NUM_PERM, NUM_PERM] and best_cross[2] < NUM_PERM // 2
    alone = near_twins(np.stack([sig]), ["test"])
    assert alone.rows_with_twin == 0 and alone.heldout_with_train_twin == 0
    assert alone.max_similarity_histogram["<0.5"] == 1


def test_empty_and_bad_input():
    empty = near_twins(signatures([]), [])
    assert empty.total_rows == 0 and sum(empty.max_similarity_histogram.values()) == 0
    assert empty.to_json()["rows_with_twin_fraction"] == 0.0
    with pytest.raises(ValueError, match="splits"):
        near_twins(signatures([SAXPY]), [])
    with pytest.raises(ValueError, match="matrix"):
        near_twins(np.zeros((2, 5), dtype=np.uint32), ["train", "train"])


def test_signature_is_the_same_in_another_process():
    code = ("import json, sys; from generator.planning.minhash import signature; "
            "print(json.dumps(signature(sys.stdin.read()).tolist()))")
    env = {**os.environ, "PYTHONHASHSEED": "12345"}  # str hashes differ from this process's
    proc = subprocess.run([sys.executable, "-c", code], input=SAXPY, capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=120, check=True)
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == signature(SAXPY).tolist()


def _variants(count: int) -> list[str]:
    """``count`` distinct programs, each REDUCE with one different extra statement (all close to each other)."""
    ops = ["wp.sin", "wp.cos", "wp.exp", "wp.abs", "wp.sqrt", "wp.log", "wp.tanh", "wp.floor"]
    out = []
    for i in range(count):
        a, b = ops[i % len(ops)], ops[i // len(ops) % len(ops)]
        out.append(REDUCE.replace("    wp.atomic_add", f"    acc = {a}(acc) + {b}(acc)\n    wp.atomic_add"))
    return out


@pytest.mark.parametrize("max_bucket", [1000, 4])
def test_candidates_against_brute_force(monkeypatch, max_bucket):
    monkeypatch.setattr("generator.planning.similarity.MAX_BUCKET", max_bucket)  # 4: every large bucket is sampled
    sources = _variants(40) + [SAXPY, VECTORS]
    sigs = signatures(sources)
    best, _, _, distinct = closest(sigs, ["train"] * len(sources))
    assert distinct == len(sources)
    brute = np.array([max((sigs[i] == sigs[j]).sum() for j in range(len(sigs)) if j != i) for i in range(len(sigs))])
    assert (best <= brute).all()  # a row is only matched with rows it was compared with
    if max_bucket >= len(sources):
        assert (best[brute >= NUM_PERM // 2] == brute[brute >= NUM_PERM // 2]).all()
    else:
        assert (best[:40] > 0).all()  # every variant still finds a close one


def test_signatures_in_worker_processes_match():
    sources = _variants(30) + [SAXPY, REDUCE, VECTORS]
    one = signatures(iter(sources))
    assert np.array_equal(signatures(iter(sources), processes=2, batch_size=4), one)
    assert np.array_equal(one[0], signature(sources[0])) and one.shape == (len(sources), NUM_PERM)
