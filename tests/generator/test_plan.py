"""The plan keeps its kept programs' row ids and signatures, and saves them in a form that runs no code."""

from __future__ import annotations

import numpy as np


def test_kept_ids_and_signatures_are_the_rows_ones(tmp_path):
    from generator.pipeline import record_id
    from generator.plan import make_plan, read_signatures, write_signatures
    from generator.sampler import sample_program
    from generator.similarity import signature
    from generator.templates import default_families, load_templates

    ts = load_templates()
    fams = default_families(ts)
    plan = make_plan(3, 40, ts, fams, {"train": 0.8, "test": 0.2}, 10)
    indices = sorted(i for shards in plan.shards.values() for s in shards for i in s.indices)
    assert len(plan.kept_ids) == len(plan.signatures) == plan.kept == len(indices) == 40
    # kept in index order: the k-th kept program is the k-th planned index
    for k, index in enumerate(indices):
        source = sample_program(3, index, ts, tuple(sorted(fams))).source
        assert int(record_id(source), 16) == int(plan.kept_ids[k])
        assert (plan.signatures[k] == signature(source)).all()
    write_signatures(plan, tmp_path / "sigs.npz")
    ids, sigs = read_signatures(tmp_path / "sigs.npz")
    assert (ids == plan.kept_ids).all() and (sigs == plan.signatures).all()


def test_saved_signatures_are_checked_before_use(tmp_path):
    from generator.plan import read_signatures
    from generator.similarity import NUM_PERM

    ids = np.arange(3, dtype=np.uint64)
    sigs = np.zeros((3, NUM_PERM), dtype=np.uint32)
    assert read_signatures(tmp_path / "missing.npz") is None
    (tmp_path / "garbage.npz").write_bytes(b"PK\x03\x04 not a zip")
    assert read_signatures(tmp_path / "garbage.npz") is None
    np.savez(tmp_path / "pickled.npz", ids=np.array([object()], dtype=object), signatures=sigs)
    assert read_signatures(tmp_path / "pickled.npz") is None  # an object array would need pickle: refused
    np.savez(tmp_path / "short.npz", ids=ids, signatures=sigs[:, :5])
    assert read_signatures(tmp_path / "short.npz") is None
    np.savez(tmp_path / "other.npz", ids=ids.astype(np.int64), signatures=sigs)
    assert read_signatures(tmp_path / "other.npz") is None
    np.savez(tmp_path / "ok.npz", ids=ids, signatures=sigs)
    assert read_signatures(tmp_path / "ok.npz") is not None
