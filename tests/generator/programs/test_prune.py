"""Dead-store removal of the registry synthesizer's programs."""

from __future__ import annotations

import random

from generator.programs.synth.program import synthesize
from generator.programs.synth.prune import prune_dead_stores
from generator.realism.measures import read_program


def test_removes_dead_stores_in_chains_and_keeps_atomics():
    src = ("import warp as wp\n\n@wp.kernel\ndef k(x: wp.array(dtype=float), c: wp.array(dtype=int)):\n"
           "    i = wp.tid()\n    a = x[i] * 2.0\n    b = a + 1.0\n    slot = wp.atomic_add(c, 0, 1)\n"
           "    if a > 0.0:\n        d = b\n    x[i] = 1.0\n")
    out = prune_dead_stores(src)
    assert "b = " not in out and "d = " not in out  # d is never read, then b is not either
    assert "    a = x[i] * 2.0" in out  # the condition reads it
    assert "    wp.atomic_add(c, 0, 1)" in out and "slot" not in out  # the atomic still writes memory
    assert "    if a > 0.0:\n        pass\n" in out
    assert read_program(out).dead_locals == 0
    compile(out, "<pruned>", "exec")


def test_unused_tuple_results_get_an_underscore():
    src = "def f(m):\n    u, s, v = svd(m)\n    return s\n"
    out = prune_dead_stores(src)
    assert "_u, s, _v = svd(m)" in out
    assert read_program(out).dead_locals == 0


def test_an_emptied_block_gets_pass():
    src = "def f(x):\n    if x > 0:\n        y = 1\n    return x\n"
    out = prune_dead_stores(src)
    assert "    if x > 0:\n        pass\n" in out
    compile(out, "<pruned>", "exec")


def test_registry_programs_have_no_dead_locals_after_pruning():
    for k in range(12):
        out = prune_dead_stores(synthesize(random.Random(f"prune:{k}"), 1 + k % 4)[0])
        assert read_program(out).dead_locals == 0, out
        compile(out, "<pruned>", "exec")
