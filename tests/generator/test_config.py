"""One configuration: every build setting's default and check, in :class:`generator.config.BuildConfig`."""

from __future__ import annotations

import pytest

from common.errors import ConfigError
from extraction import TARGETS
from generator.config import BuildConfig
from generator.planning.plan import DEFAULT_SPLITS
from generator.programs.templates import default_families
from generator.version import BUILDER_VERSION


def test_defaults():
    cfg = BuildConfig()
    assert cfg.name == "synthetic" and cfg.num_samples == 1000 and cfg.seed == 0
    assert cfg.families == tuple(default_families()) and cfg.targets == TARGETS == ("cpu", "cuda")
    assert cfg.validate == "codegen" and cfg.split_ratios == DEFAULT_SPLITS and cfg.shard_size == 100
    assert cfg.fuzzy_dedup and cfg.twin_threshold == 0.85 and cfg.packages is None and not cfg.include_fem
    assert "name" not in cfg.settings() and cfg.settings()["num_samples"] == 1000


def test_settings_are_brought_to_canonical_form():
    cfg = BuildConfig(families=("vector", "arithmetic", "vector"), targets=("cuda", "cpu"))
    assert cfg.families == ("arithmetic", "vector") and cfg.targets == ("cpu", "cuda")


@pytest.mark.parametrize("kwargs, message", [
    ({"targets": ("cpu", "metal")}, "targets must be a non-empty subset of cpu, cuda, got ('cpu', 'metal')"),
    ({"targets": ()}, "targets must be a non-empty subset of cpu, cuda"),
    ({"name": "mined"}, "unknown config 'mined' (known: synthetic, real)"),
    ({"num_samples": 0}, "num_samples must be at least 1, got 0"),
    ({"num_samples": 10**30}, "num_samples must be at most 1,000,000,000, got a number of about 31 digits"),
    ({"shard_size": 0}, "shard_size must be at least 1, got 0"),
    ({"plan_workers": 0}, "plan_workers must be at least 1, got 0"),
    ({"families": ()}, "families is empty"),
    ({"families": ("arithmetic", "nope")}, "unknown families: nope"),
    ({"validate": "prove"}, "validate must be one of codegen, compile, run, grad, got 'prove'"),
    ({"twin_threshold": 0.2}, "twin_threshold must be a number in [0.5, 1], got 0.2"),
    ({"split_ratios": {"train": 0.5, "test": 0.2}}, "split ratios must be non-negative and sum to 1"),
    ({"split_ratios": {"train": float("nan"), "test": 1.0}}, "split ratios must be non-negative and sum to 1"),
    ({"package_timeout": 0}, "the package time limit must be a positive number of seconds, got 0"),
    ({"allow_licenses": ("GPL 3",)}, "not an SPDX license identifier: GPL 3"),
])
def test_every_check_raises_a_config_error(kwargs, message):
    with pytest.raises(ConfigError) as info:
        BuildConfig(**kwargs)
    assert message in str(info.value)
    assert isinstance(info.value, ValueError)  # a ConfigError is a ValueError too


def test_fingerprint_follows_what_decides_the_rows():
    base = BuildConfig(num_samples=10)
    assert base.fingerprint() == BuildConfig(num_samples=10, targets=("cuda", "cpu")).fingerprint()
    assert len(base.fingerprint()) == 16
    for change in ({"seed": 1}, {"num_samples": 11}, {"validate": "compile"}, {"shard_size": 5},
                   {"fuzzy_dedup": False}, {"twin_threshold": 0.9}, {"plan_workers": 2}):
        assert BuildConfig(**{"num_samples": 10, **change}).fingerprint() != base.fingerprint(), change
    # settings of the real configuration do not decide the synthetic rows
    assert BuildConfig(num_samples=10, include_fem=True).fingerprint() == base.fingerprint()


def test_builder_version_lives_below_every_stage():
    import generator.planning.plan as plan
    import warp_ir_dataset

    assert BUILDER_VERSION.count(".") == 2 and not hasattr(plan, "BUILDER_VERSION")
    assert str(warp_ir_dataset.WarpIR.VERSION) == BUILDER_VERSION
