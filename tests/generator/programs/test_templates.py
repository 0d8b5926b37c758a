"""Template headers, and every shipped template: it renders, Warp accepts it, and it keeps its builtins."""

from __future__ import annotations

import re

import pytest

from generator.programs.templates import TemplateError, families, load_templates, parse_template


def write(tmp_path, text):
    path = tmp_path / "fam" / "t.py.j2"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    return path


def test_header_parsed(tmp_path):
    t = parse_template(write(tmp_path, "{#- warp-ir\nfamily: demo\ncomplexity: [1, 3]\nbuiltins: [sin]\n"
                                       "params:\n  n: {int: [1, 3]}\n  d: [a, b]\nrun: {tiled: 64}\n-#}\nbody\n"),
                       tmp_path)
    assert (t.name, t.family, t.complexity, t.builtins) == ("fam/t", "demo", (1, 3), ("sin",))
    assert t.params == {"n": {"int": [1, 3]}, "d": ["a", "b"]} and t.meta == {"run": {"tiled": 64}}


@pytest.mark.parametrize("text, match", [
    ("import warp\n", "no '{#- warp-ir"),
    ("{#- warp-ir\nfamily: [unclosed\n-#}\n", "bad YAML"),
    ("{#- warp-ir\ncomplexity: [1]\n-#}\n", "must declare 'family'"),
    ("{#- warp-ir\nfamily: x\ncomplexity: [7]\n-#}\n", "levels 1-4"),
    ("{#- warp-ir\nfamily: x\nparams:\n  n: {int: 3}\n-#}\n", "param 'n'"),
])
def test_bad_headers(tmp_path, text, match):
    with pytest.raises(TemplateError, match=match):
        parse_template(write(tmp_path, text), tmp_path)


def test_shipped_templates_cover_the_base_families():
    names = set(families())
    assert {"arithmetic", "trigonometry"} <= names
    assert all(t.source and t.complexity and not t.error for t in load_templates())


@pytest.mark.parametrize("template", load_templates(), ids=lambda t: t.name)
def test_every_template_compiles_and_keeps_its_builtins(template):
    """A family that stops producing the builtins it declares, or that Warp starts rejecting, fails here."""
    from extraction import init_quiet
    from generator.codegen.check import check_template

    init_quiet()
    report = check_template(template, 6, seed=1)
    assert report.failed == 0, f"{dict(report.reasons)}\n{report.example}"
    assert not report.missing_builtins


def test_synthesized_family_is_in_the_default_mix_with_its_share():
    import random

    from generator.programs.sampler import SATURATION, SYNTHESIZED_SHARE, pick_template, synthesized_share
    from generator.programs.templates import SYNTH_FAMILY, default_families

    assert SYNTH_FAMILY in default_families() and set(default_families()) == set(families())
    ts = load_templates()
    picks = [pick_template(ts, default_families(), random.Random(f"share:{i}")).family for i in range(4000)]
    share = picks.count(SYNTH_FAMILY) / len(picks)
    assert abs(share - SYNTHESIZED_SHARE) < 0.02, share
    assert len(set(picks)) == len(default_families())  # every family drawn
    templates_only = [f for f in default_families() if f != SYNTH_FAMILY]
    assert all(pick_template(ts, templates_only, random.Random(i)).family != SYNTH_FAMILY for i in range(300))
    assert all(pick_template(ts, [SYNTH_FAMILY], random.Random(i)).family == SYNTH_FAMILY for i in range(50))
    # past SATURATION draws the synthesizer's share rises (template families are near-exhausted by then)
    assert synthesized_share(SATURATION - 1) == SYNTHESIZED_SHARE
    assert synthesized_share(2 * SATURATION) == 1 - (1 - SYNTHESIZED_SHARE) / 2
    assert synthesized_share(20 * SATURATION) > 0.95
    late = [pick_template(ts, default_families(), random.Random(f"late:{i}"), 10 * SATURATION).family
            for i in range(2000)]
    assert abs(late.count(SYNTH_FAMILY) / len(late) - synthesized_share(10 * SATURATION)) < 0.03


def test_templates_name_what_they_compute():
    """Names come from each template's own computation (issue 26: 76% of kernel names drawn from one global word
    list did not say what the kernel computed), and about a third of the templates' programs carry a docstring."""
    templates = [t for t in load_templates() if t.path is not None and t.path.suffix == ".j2"]
    assert len(templates) >= 70
    global_words = [t.name for t in templates if re.search(r"\brng\.(kernel_name|name|names)\(", t.source)]
    assert not global_words, global_words
    assert all(t.params.get("doc") == {"bool": 0.33} for t in templates), [
        t.name for t in templates if t.params.get("doc") != {"bool": 0.33}]
