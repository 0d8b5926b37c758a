"""The `datasets` builder: config checks, determinism, disjoint splits."""

from __future__ import annotations

import pytest

from warp_ir_dataset import WarpIR, WarpIRConfig


@pytest.mark.parametrize("kwargs, match", [
    ({"num_samples": 0}, "num_samples"),
    ({"families": ("arithmetic", "nope")}, "unknown families: nope"),
    ({"targets": ("metal",)}, "targets"),
    ({"validate": "prove"}, "validate must be one of"),
    ({"split_ratios": {"train": 0.5, "test": 0.2}}, "sum to 1"),
])
def test_bad_config(kwargs, match):
    with pytest.raises(ValueError, match=match):
        WarpIRConfig(**kwargs)


def build_rows(tmp_path, name, **kw):
    builder = WarpIR(cache_dir=str(tmp_path / name), **kw)
    builder.download_and_prepare()
    ds = builder.as_dataset()
    return {split: ds[split].to_list() for split in ds}


def test_same_seed_identical_rows(tmp_path):
    a = build_rows(tmp_path, "a", num_samples=40, seed=11, shard_size=7)
    b = build_rows(tmp_path, "b", num_samples=40, seed=11, shard_size=7)
    assert a == b
    assert sum(len(v) for v in a.values()) == 40
    c = build_rows(tmp_path, "c", num_samples=40, seed=12, shard_size=7)
    assert [r["id"] for r in c["train"]] != [r["id"] for r in a["train"]]


def test_no_program_in_two_splits(tmp_path):
    from generator.planning.shingles import normalized_hash

    rows = build_rows(tmp_path, "s", num_samples=60, seed=3, split_ratios={"train": 0.5, "validation": 0.25,
                                                                           "test": 0.25})
    seen = {}
    for split, items in rows.items():
        for r in items:
            h = normalized_hash(r["python_source"])
            assert seen.setdefault(h, split) == split
    assert set(rows) == {"train", "validation", "test"}
