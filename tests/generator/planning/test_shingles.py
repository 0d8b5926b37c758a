"""Near-duplicates and leak-free splits."""

from __future__ import annotations

from generator.planning.shingles import normalize, normalized_hash, split_of

A = '''import warp as wp

@wp.kernel
def update_forces(positions: wp.array(dtype=wp.vec3), dt: float, out: wp.array(dtype=wp.vec3)):
    """Integrate."""
    i = wp.tid()
    # gravity
    out[i] = positions[i] * dt + wp.vec3(0.0, -9.8, 0.0)
'''
RENAMED = '''import warp as wp
@wp.kernel
def k(p: wp.array(dtype=wp.vec3), h: float, o: wp.array(dtype=wp.vec3)):
    j = wp.tid()
    o[j] = p[j] * h + wp.vec3(1.0, -2.5, 0.0)
'''
DIFFERENT_OP = RENAMED.replace("p[j] * h", "p[j] / h")
DIFFERENT_TYPE = RENAMED.replace("wp.vec3", "wp.vec3d")


def test_renamed_twin_is_a_near_duplicate():
    assert normalize(A) == normalize(RENAMED)
    assert normalized_hash(A) == normalized_hash(RENAMED)


def test_literals_comments_docstrings_and_layout_are_ignored():
    variant = A.replace("9.8", "3.5").replace("# gravity", "# g").replace('"""Integrate."""', "")
    variant = variant.replace("dt: float, out", "dt: float,\n        out")  # a line broken inside brackets
    assert normalized_hash(variant) == normalized_hash(A)
    assert normalized_hash(A.replace("0.0, -9.8", "0, -9")) != normalized_hash(A)  # int literals are not floats


def test_keywords_and_attributes():
    assert "dtype = wp.vec3" in normalize(A)  # keyword-argument names and wp. attributes are kept
    fields = "def f(p: Particle):\n    p.pos = p.vel * 2.0\n"
    assert normalize(fields).splitlines()[1] == "4|v1.v3 = v1.v4 * 0.0"  # fields of user structs are renamed
    nested = "def g(s: State):\n    return s.body.x + wp.types.vector(3, float)\n"
    assert "v1.v3.x" in normalize(nested) and "wp.types.vector" in normalize(nested)


def test_indentation_is_structure():
    inside = "def f(x):\n    if x:\n        a = 1\n        b = 2\n"
    after = "def f(x):\n    if x:\n        a = 1\n    b = 2\n"
    assert normalized_hash(inside) != normalized_hash(after)


def test_real_differences_are_kept():
    assert normalized_hash(A) != normalized_hash(DIFFERENT_OP)
    assert normalized_hash(A) != normalized_hash(DIFFERENT_TYPE)
    assert "wp.vec3" in normalize(A) and "update_forces" not in normalize(A)


def test_split_follows_normalized_hash():
    ratios = {"train": 0.8, "validation": 0.1, "test": 0.1}
    assert split_of(normalized_hash(A), ratios) == split_of(normalized_hash(RENAMED), ratios)
    # 400 structurally different programs (1 to 400 terms)
    hashes = [normalized_hash(RENAMED.replace("p[j] * h", " + ".join(["p[j] * h"] * (i + 1)))) for i in range(400)]
    assert len(set(hashes)) == 400
    counts = {s: sum(split_of(h, ratios) == s for h in hashes) for s in ratios}
    assert counts["train"] > 250 and counts["validation"] > 10 and counts["test"] > 10
