"""Templates are rendered in Jinja's sandbox: a template that reaches for Python's internals is a counted failure.

Issue 23, case A: ``{% set _ = lipsum.__globals__['os'].system(...) %}`` in a template ran its command once per
draw while planning, and again under ``warp-ir check-templates``.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from generator.planning.plan import make_plan
from generator.programs.render import RenderError, render
from generator.programs.templates import load_templates, parse_template

GOOD = """{#- warp-ir
family: mixed
params:
  scale: {float: [0.5, 4.0]}
-#}
import warp as wp

{% set extra = [] %}{% set _ = extra.append(rng.literal("float32")) %}
@wp.kernel
def {{ rng.kernel_name() }}({{ rng.name("scalar") }}: wp.array(dtype=float)):
    i = wp.tid()
    {{ rng.pick(["x", "y"]) }} = float(i) * {{ scale }} + {{ extra[0] }} + {{ rng.uniform(1, 2) }}
"""

# each reaches a module's globals, a private attribute or an object's class, and from there could run anything
HOSTILE = {
    "globals": "{% set _ = lipsum.__globals__['os'].system('touch MARKER') %}",
    "private": "{% set _ = rng._rng.__class__.__init__.__globals__['os'].system('touch MARKER') %}",
    "mro": "{{ ().__class__.__base__.__subclasses__() }}"
           "{% set _ = cycler.__init__.__globals__.os.system('touch MARKER') %}",
}


def hostile_text(how: str, marker: Path) -> str:
    return ("{#- warp-ir\nfamily: mixed\n-#}\nimport warp as wp\n"
            + HOSTILE[how].replace("MARKER", str(marker)) + "\n@wp.kernel\ndef k(a: wp.array(dtype=float)):\n"
            "    a[wp.tid()] = 1.0\n")


@pytest.fixture
def folder(tmp_path: Path) -> tuple[Path, Path]:
    """A template folder with one sound template and one per hostile access; the marker their commands would touch."""
    root, marker = tmp_path / "templates", tmp_path / "code-ran"
    (root / "mixed").mkdir(parents=True)
    (root / "mixed" / "good.py.j2").write_text(GOOD)
    for how in HOSTILE:
        (root / "mixed" / f"hostile_{how}.py.j2").write_text(hostile_text(how, marker))
    return root, marker


@pytest.mark.parametrize("how", list(HOSTILE))
def test_an_unsafe_access_is_a_render_error_and_runs_nothing(folder, how):
    root, marker = folder
    template = parse_template(root / "mixed" / f"hostile_{how}.py.j2", root)
    with pytest.raises(RenderError, match="SecurityError") as info:
        render(template, random.Random(0))
    assert not marker.exists()
    assert "unsafe" in info.value.reason and template.name not in info.value.reason  # groups by reason


def test_the_template_rng_still_works_in_the_sandbox(folder):
    root, _ = folder
    rendered = render(parse_template(root / "mixed" / "good.py.j2", root), random.Random(1))
    compile(rendered.source, "<good>", "exec")
    assert "@wp.kernel" in rendered.source and rendered.params["scale"] >= 0.5


def test_planning_counts_the_hostile_templates_and_goes_on(folder):
    root, marker = folder
    plan = make_plan(0, 3, load_templates(root), ["mixed"], {"train": 1.0}, 10, fuzzy_dedup=False)
    assert plan.kept >= 1 and not marker.exists()
    failures = {reason: n for reason, n in plan.render_failures.items() if "SecurityError" in reason}
    assert {r.split(": ")[1] for r in failures} == {f"mixed/hostile_{how}" for how in HOSTILE}, plan.render_failures


def test_check_templates_runs_nothing_either(folder):
    root, marker = folder
    proc = subprocess.run([sys.executable, "-m", "warp_ir.cli", "check-templates", "--families", "mixed", "-n", "3"],
                          capture_output=True, text=True, timeout=300, check=False,
                          env={**os.environ, "WARP_IR_TEMPLATES": str(root)})
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert not marker.exists()
    assert "ok   mixed/good" in proc.stdout
    for how in HOSTILE:
        assert f"FAIL mixed/hostile_{how}" in proc.stdout
    assert proc.stdout.count("3 x RenderError") == len(HOSTILE) and "SecurityError" in proc.stdout
