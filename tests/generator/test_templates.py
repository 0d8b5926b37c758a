"""Template headers, and every shipped template: it renders, Warp accepts it, and it keeps its builtins."""

from __future__ import annotations

import pytest

from generator.templates import TemplateError, families, load_templates, parse_template


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
    from generator.check import check_template

    init_quiet()
    report = check_template(template, 6, seed=1)
    assert report.failed == 0, f"{dict(report.reasons)}\n{report.example}"
    assert not report.missing_builtins


def test_synthesized_family_is_opt_in():
    from generator.templates import SYNTH_FAMILY, default_families

    assert SYNTH_FAMILY in families() and SYNTH_FAMILY not in default_families()
    assert set(default_families()) == {t.family for t in load_templates() if not t.meta.get("synthesizer")}
