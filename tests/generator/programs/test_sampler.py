"""Seeded sampling and rendering are deterministic, byte for byte."""

from __future__ import annotations

import random

from generator.programs.render import render, sample_params
from generator.programs.rng import TemplateRng
from generator.programs.sampler import program_rng, sample_program
from generator.programs.templates import families, load_templates


def test_same_seed_same_programs():
    ts, fams = load_templates(), families()
    a = [sample_program(5, i, ts, fams) for i in range(30)]
    b = [sample_program(5, i, ts, fams) for i in reversed(range(30))][::-1]  # order of drawing is irrelevant
    assert [p.source for p in a] == [p.source for p in b]
    assert [p.rendered.params for p in a] == [p.rendered.params for p in b]
    assert len({p.source for p in a}) > 25
    assert len({p.module_name for p in a}) == 30


def test_other_seed_other_programs():
    ts, fams = load_templates(), families()
    assert sample_program(1, 0, ts, fams).source != sample_program(2, 0, ts, fams).source


def test_family_restriction():
    ts = load_templates()
    assert {sample_program(0, i, ts, ["trigonometry"]).template.family for i in range(10)} == {"trigonometry"}


def test_param_specs_respected():
    t = next(t for t in load_templates() if t.name == "arithmetic/elementwise")
    for i in range(20):
        p = sample_params(t, program_rng(0, i))
        assert p["dtype"] in ("float32", "float64") and 1 <= p["n_terms"] <= 4 and isinstance(p["use_param"], bool)


def test_rng_names_are_unique_and_realistic():
    rng = TemplateRng(random.Random(0))
    names = rng.names("vector", 30)
    assert len(set(names)) == 30 and "positions" in " ".join(names) or "velocities" in " ".join(names)
    assert rng.literal("float64").startswith("wp.float64(") and "." in rng.literal("float32")


def test_rendered_program_is_valid_python():
    import ast

    for t in load_templates():
        ast.parse(render(t, random.Random(3)).source)


def test_the_programs_a_plan_rendered_are_taken_as_they_are_and_equal_a_fresh_render():
    from generator.codegen.pipeline import Counts
    from generator.codegen.shard import shard_programs
    from generator.planning.plan import make_plan
    from generator.programs.sampler import RENDERED, RenderedPrograms
    from generator.programs.templates import default_families

    ts = load_templates()
    plan = make_plan(3, 12, ts, default_families(ts), {"train": 1.0}, 12)
    shard = plan.shards["train"][0]
    kept = [RENDERED.take(shard.templates_digest, shard.families, shard.seed, i) for i in shard.indices]
    assert all(kept)  # drawn in this process: kept
    taken = shard_programs(shard, ts, Counts())
    assert [p is k for p, k in zip(taken, kept, strict=True)] == [True] * len(kept)
    fresh = [sample_program(shard.seed, i, ts, shard.families) for i in shard.indices]
    assert [p.source for p in taken] == [p.source for p in fresh]
    assert RENDERED.take("another digest", shard.families, shard.seed, shard.indices[0]) is None
    assert RENDERED.take("", shard.families, shard.seed, shard.indices[0]) is None  # a shard without a digest

    small = RenderedPrograms(limit_bytes=len(fresh[0].source))
    small.keep("d", shard.families, shard.seed, fresh[0])
    small.keep("d", shard.families, shard.seed, fresh[1])  # past the limit: not kept
    assert small.take("d", shard.families, shard.seed, fresh[0].index) is fresh[0]
    assert small.take("d", shard.families, shard.seed, fresh[1].index) is None
    small.clear()
    assert small.take("d", shard.families, shard.seed, fresh[0].index) is None
