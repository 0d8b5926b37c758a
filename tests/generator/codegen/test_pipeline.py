"""Rejections are counted with their reason and the pipeline goes on; render failures are counted by the plan."""

from __future__ import annotations

from generator.codegen.pipeline import Counts, records_for
from generator.planning.plan import make_plan
from generator.programs.sampler import Program
from generator.programs.templates import load_templates, parse_template

GOOD = "import warp as wp\n\n@wp.kernel\ndef ok(x: wp.array(dtype=float)):\n    x[wp.tid()] = wp.sin(x[wp.tid()])\n"
BAD = "import warp as wp\n\n@wp.kernel\ndef bad(x: wp.array(dtype=float)):\n    x[0] = undefined_thing(1.0)\n"


def program(template, source, i):
    from generator.programs.render import Rendered

    return Program(i, template, Rendered(source, {}, 1), f"warp_ir_pipeline_test_{i}")


def test_rejected_program_is_counted_and_build_goes_on():
    from extraction import init_quiet

    init_quiet()
    t = load_templates()[0]
    counts = Counts()
    recs = list(records_for([program(t, GOOD, 0), program(t, BAD, 1), program(t, GOOD.replace("ok", "ok2"), 2)],
                            ("cpu", "cuda"), counts))
    assert [r.kernel_name for r in recs] == ["ok", "ok2"]
    assert sum(counts.rejected.values()) == 1
    (reason,) = counts.rejected
    assert reason.startswith(f"{t.family}: ") and "undefined_thing" in reason
    assert all("wp::adj_sin(" in r.cpp_backward for r in recs)


def test_render_failure_is_counted(tmp_path, monkeypatch):
    path = tmp_path / "broken" / "boom.py.j2"
    path.parent.mkdir()
    path.write_text("{#- warp-ir\nfamily: broken\n-#}\n{{ undefined_variable.attr }}\n")
    broken = parse_template(path, tmp_path)
    plan = make_plan(0, 3, (broken, *load_templates()), ["broken", "arithmetic"], {"train": 1.0}, 10)
    assert plan.kept == 3
    assert sum(plan.render_failures.values()) >= 1
    assert all(k.startswith("broken: ") for k in plan.render_failures)


def test_counts_roundtrip():
    c = Counts(rows=3)
    c.reject("f", "r", "m")
    d = Counts.from_json(c.to_json())
    d.merge(c)
    assert d.rows == 6 and d.rejected["f: r"] == 2


def test_shard_refuses_changed_templates():
    import dataclasses

    import pytest

    from generator.codegen.shard import TemplatesChanged, shard_programs
    from generator.planning.plan import make_plan

    plan = make_plan(0, 4, load_templates(), ["arithmetic"], {"train": 1.0}, 4)
    (shard,) = plan.shards["train"]
    assert len(shard_programs(shard, load_templates(), Counts())) == 4
    with pytest.raises(TemplatesChanged, match="templates changed"):
        shard_programs(dataclasses.replace(shard, templates_digest="0" * 16), load_templates(), Counts())


def test_plan_does_not_depend_on_workers():
    ts = load_templates()
    fams = sorted({t.family for t in ts})
    ratios = {"train": 0.8, "validation": 0.1, "test": 0.1}
    one = make_plan(5, 300, ts, fams, ratios, 40, workers=1)
    two = make_plan(5, 300, ts, fams, ratios, 40, workers=2)
    for split in ratios:  # same programs in the same order; every split cut into 2k shards of equal size
        order = [i for sh in one.shards[split] for i in sh.indices]
        assert order == [i for sh in two.shards[split] for i in sh.indices]
        sizes = [len(sh.indices) for sh in two.shards[split]]
        assert len(sizes) >= 2 and len(sizes) % 2 == 0 and max(sizes) - min(sizes) < len(sizes), sizes
        assert max(sizes) <= 40
    assert {k: v for k, v in one.to_json().items() if k != "shards"} == \
        {k: v for k, v in two.to_json().items() if k != "shards"}
    assert one.kept == 300 and one.draws == (one.kept + one.near_duplicates + one.exact_duplicates
                                             + one.fuzzy_duplicates + one.bridges_splits
                                             + sum(one.render_failures.values()))


def test_shard_rows_do_not_depend_on_a_packages_global_warp_config():
    """warp-simdata sets wp.config.enable_backward = False when imported: the synthetic rows must not follow it."""
    import warp as wp

    from generator.codegen.shard import compile_shard
    from generator.planning.plan import ShardSpec
    from generator.programs.templates import default_families

    shard = ShardSpec("train", 0, 4, (0, 1, 2, 3), tuple(sorted(default_families())))
    before, _ = compile_shard(shard, ("cpu",))
    wp.config.enable_backward = False
    try:
        after, _ = compile_shard(shard, ("cpu",))
        assert wp.config.enable_backward is False  # put back as it was
    finally:
        wp.config.enable_backward = True
    assert after == before
    assert any("_cpu_kernel_backward" in row["cpp_backward"] for row in after)


def test_reasons_do_not_name_the_program_or_its_module():
    from generator.codegen.pipeline import reason_of

    err = SyntaxError("invalid syntax (program_0123456789abcdef.py, line 3) in warp_ir_12_3")
    assert reason_of(err) == "SyntaxError: invalid syntax (<program>) in <module>"
