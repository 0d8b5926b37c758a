"""The `datasets` builder: config checks, determinism, disjoint splits."""

from __future__ import annotations

import datasets
import pytest

from warp_ir_dataset import WarpIR, WarpIRConfig


@pytest.mark.parametrize("kwargs, match", [
    ({"num_samples": 0}, "num_samples"),
    ({"families": ("arithmetic", "nope")}, "unknown families: nope"),
    ({"targets": ("metal",)}, "targets"),
    ({"targets": ("cpu", "metal")}, "targets must be a non-empty subset of cpu, cuda"),  # was silently ("cpu",)
    ({"name": "other"}, "unknown config"),
    ({"shard_size": 0}, "shard_size must be at least 1"),
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
    assert set(rows) == {"train", "validation", "test", "test_unseen"}  # the default held-out templates' split


def test_warp_ir_config_is_the_build_config():
    from generator.config import BuildConfig

    cfg = WarpIRConfig(name="synthetic", num_samples=7, targets=("cuda", "cpu"))
    assert isinstance(cfg, BuildConfig) and cfg.targets == ("cpu", "cuda") and cfg.num_samples == 7
    assert cfg.fingerprint() == BuildConfig(num_samples=7).fingerprint()


TINY = {"num_samples": 16, "seed": 4, "families": ("arithmetic",), "targets": ("cpu",), "shard_size": 3}


def train_shards(**kw):
    """The train shards the builder's plan makes for ``kw`` (how many, and their rows' ids)."""
    from generator.planning.plan import make_plan
    from generator.programs.templates import load_templates

    cfg = WarpIRConfig(**{**TINY, **kw})
    return make_plan(cfg.seed, cfg.num_samples, load_templates(), cfg.families, cfg.split_ratios, cfg.shard_size,
                     workers=cfg.plan_workers).shards["train"]


def prepared(tmp_path, name, num_proc, **kw):
    builder = WarpIR(cache_dir=str(tmp_path / name), **{**TINY, **kw})
    builder.download_and_prepare(num_proc=num_proc)
    return builder


def test_two_processes_write_the_rows_of_one(tmp_path, monkeypatch):
    """num_proc=2 splits each split's shards between two jobs: per-job keys, the same rows in the same order."""
    monkeypatch.setattr(datasets.config, "SAVE_ORIGINAL_SHARD_LENGTHS", True)
    one = prepared(tmp_path, "one", None, plan_workers=2)
    two = prepared(tmp_path, "two", 2, plan_workers=2)
    rows_one, rows_two = one.as_dataset(), two.as_dataset()
    assert set(rows_two) == set(rows_one) and sum(len(rows_two[s]) for s in rows_two) == 16
    for split in rows_one:
        assert rows_two[split]["id"] == rows_one[split]["id"]
    shards = train_shards(plan_workers=2)
    lengths = two.info.splits["train"].original_shard_lengths
    # one entry per shard of the split (keys counted per job), not one per split-wide shard id
    assert lengths == [len(s.indices) for s in shards] and sum(lengths) == len(rows_two["train"])
    assert two.info.splits["train"].shard_lengths is not None and len(two.info.splits["train"].shard_lengths) == 2


def test_an_empty_first_shard(tmp_path, monkeypatch):
    """A shard whose every program Warp rejects yields no table; the split's other shards are written, with two
    processes too."""
    import warp_ir_dataset

    real_run_shards = warp_ir_dataset.run_shards
    first = train_shards(plan_workers=2)[0]

    def run_shards(shards, *args, **kwargs):
        for shard, table in real_run_shards(shards, *args, **kwargs):
            yield shard, (table.slice(0, 0) if shard.name == first.name else table)

    whole = prepared(tmp_path, "whole", None, plan_workers=2).as_dataset()["train"]["id"]
    monkeypatch.setattr(warp_ir_dataset, "run_shards", run_shards)
    for num_proc in (None, 2):
        ds = prepared(tmp_path, f"p{num_proc}", num_proc, plan_workers=2).as_dataset()
        assert ds["train"]["id"] == whole[len(first.indices):]  # the first shard's rows, and only they, are gone
        assert sum(len(ds[s]) for s in ds) == 16 - len(first.indices)
