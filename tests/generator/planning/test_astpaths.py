"""The syntax-tree measure: blind to names, constants and layout; sees structure and Warp's builtins."""

from __future__ import annotations

import numpy as np

from generator.planning import astpaths

BASE = '''import warp as wp


@wp.kernel
def scale(x: wp.array(dtype=float), y: wp.array(dtype=float)):
    i = wp.tid()
    if x[i] > 0.5:
        y[i] = wp.sin(x[i]) * 2.0
'''


def _jaccard(a: str, b: str) -> float:
    return float(np.mean(astpaths.signature(a) == astpaths.signature(b)))


def test_renamed_and_reformatted_program_is_the_same():
    renamed = BASE.replace("scale", "grow").replace("x", "src").replace("0.5", "0.25").replace("2.0", "3.0")
    renamed = renamed.replace("    i = wp.tid()", '    """Doc."""\n    i = wp.tid()  # thread')
    assert _jaccard(BASE, renamed) == 1.0


def test_builtins_and_structure_count():
    assert _jaccard(BASE, BASE.replace("wp.sin", "wp.cos")) < 1.0
    restructured = BASE.replace("    if x[i] > 0.5:\n        y[i]", "    for k in range(3):\n        y[i]")
    assert _jaccard(BASE, restructured) < 0.9


def test_paths_are_bounded_and_unparsable_text_has_none():
    paths = astpaths.paths(BASE)
    assert paths and max(p.count("<") for p in paths) <= astpaths.DEPTH
    assert "wp.sin<Call<BinOp:Mult<Assign<If" in paths
    assert astpaths.paths("def broken(:") == []
    assert astpaths.signatures([BASE, BASE]).shape == (2, 128)
