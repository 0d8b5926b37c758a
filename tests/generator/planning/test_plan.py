"""The plan keeps its kept programs' row ids and signatures, and saves them in a form that runs no code."""

from __future__ import annotations

import re

import numpy as np


def test_kept_ids_and_signatures_are_the_rows_ones(tmp_path):
    from generator.codegen.pipeline import record_id
    from generator.planning.astpaths import signature as tree_signature
    from generator.planning.minhash import NUM_PERM, signature
    from generator.planning.plan import make_plan, read_signatures, write_signatures
    from generator.programs.sampler import sample_program
    from generator.programs.templates import default_families, load_templates

    ts = load_templates()
    fams = default_families(ts)
    plan = make_plan(3, 40, ts, fams, {"train": 0.8, "test": 0.2}, 10)
    indices = sorted(i for shards in plan.shards.values() for s in shards for i in s.indices)
    assert len(plan.kept_ids) == len(plan.signatures) == plan.kept == len(indices) == 40
    # kept in index order: the k-th kept program is the k-th planned index
    for k, index in enumerate(indices):
        source = sample_program(3, index, ts, tuple(sorted(fams))).source
        assert int(record_id(source), 16) == int(plan.kept_ids[k])
        # the token signature, then the syntax-tree one
        assert (plan.signatures[k, :NUM_PERM] == signature(source)).all()
        assert (plan.signatures[k, NUM_PERM:] == tree_signature(source)).all()
    write_signatures(plan, tmp_path / "sigs.npz")
    ids, sigs = read_signatures(tmp_path / "sigs.npz")
    assert (ids == plan.kept_ids).all() and (sigs == plan.signatures).all()


def test_saved_signatures_are_checked_before_use(tmp_path):
    from generator.planning.minhash import NUM_PERM
    from generator.planning.plan import SIGNATURE_WIDTH, read_signatures

    ids = np.arange(3, dtype=np.uint64)
    sigs = np.zeros((3, SIGNATURE_WIDTH), dtype=np.uint32)
    assert read_signatures(tmp_path / "missing.npz") is None
    (tmp_path / "garbage.npz").write_bytes(b"PK\x03\x04 not a zip")
    assert read_signatures(tmp_path / "garbage.npz") is None
    np.savez(tmp_path / "pickled.npz", ids=np.array([object()], dtype=object), signatures=sigs)
    assert read_signatures(tmp_path / "pickled.npz") is None  # an object array would need pickle: refused
    np.savez(tmp_path / "short.npz", ids=ids, signatures=sigs[:, :5])
    assert read_signatures(tmp_path / "short.npz") is None
    np.savez(tmp_path / "tokens.npz", ids=ids, signatures=sigs[:, :NUM_PERM])  # one measure's only (an older build)
    assert read_signatures(tmp_path / "tokens.npz") is None
    np.savez(tmp_path / "other.npz", ids=ids.astype(np.int64), signatures=sigs)
    assert read_signatures(tmp_path / "other.npz") is None
    np.savez(tmp_path / "ok.npz", ids=ids, signatures=sigs)
    assert read_signatures(tmp_path / "ok.npz") is not None


# issue 23, case B: a template folder whose templates all fail -----------------------------------------------------

BROKEN_SYNTAX = "{#- warp-ir\nfamily: broken\n-#}\nimport warp as wp\n{% if %}\n"


def test_nothing_rendered_is_one_clear_error_naming_the_template(tmp_path):
    """It was numpy's "cannot reshape array of size 0 into shape (0,newaxis,6)"."""
    import pytest

    from generator.planning.plan import MAX_DRAWS_WITHOUT_A_PROGRAM, NothingToPlan, make_plan
    from generator.programs.templates import load_templates

    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "syntax.py.j2").write_text(BROKEN_SYNTAX)
    templates = load_templates(tmp_path)
    with pytest.raises(NothingToPlan) as small:
        make_plan(0, 5, templates, ["broken"], {"train": 1.0}, 10)
    message = str(small.value)
    assert isinstance(small.value, ValueError) and "\n" not in message  # the CLI's one-line error, exit 2
    assert "no program could be rendered: all 100 draws failed" in message
    assert "broken/syntax: Jinja syntax error: Expected an expression" in message
    with pytest.raises(NothingToPlan, match=f"all {MAX_DRAWS_WITHOUT_A_PROGRAM:,} draws failed"):
        make_plan(0, 10**6, templates, ["broken"], {"train": 1.0}, 10)  # does not draw 20 million first


def test_a_batch_where_every_draw_failed_does_not_stop_the_plan(monkeypatch):
    """The first batch (256 draws) all failing to render, later ones fine: the plan goes on and counts them."""
    import generator.planning.plan as plan_module
    from generator.programs.templates import default_families, load_templates

    real_draw = plan_module.draw

    def first_batch_fails(seed, indices, families, templates=None, keep_digest=""):
        return [plan_module.Draw(d.index, error="fam: fam/t: RenderError: boom") if d.index < 256 else d
                for d in real_draw(seed, indices, families, templates, keep_digest)]

    monkeypatch.setattr(plan_module, "draw", first_batch_fails)
    ts = load_templates()
    plan = plan_module.make_plan(3, 20, ts, default_families(ts), {"train": 1.0}, 10)
    assert plan.kept == 20 and plan.render_failures["fam: fam/t: RenderError: boom"] == 256


def test_planning_progress_goes_to_its_own_logger(monkeypatch):
    """Issue 23, case D: what the CLI shows without -v (see tests/warp_ir/test_cli.py)."""
    import logging

    import generator.planning.plan as plan_module
    from generator.programs.templates import default_families, load_templates

    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    monkeypatch.setattr(plan_module, "PROGRESS_EVERY_S", 0.0)  # a line after every batch
    monkeypatch.setattr("common.progress._bars_allowed", False)  # plain lines even when pytest runs on a terminal
    monkeypatch.setattr(plan_module, "MAX_BATCH", 100)
    progress, handler = logging.getLogger("warp_ir.progress"), Collect()
    progress.addHandler(handler)
    level = progress.level
    progress.setLevel(logging.INFO)
    try:
        ts = load_templates()
        plan_module.make_plan(3, 300, ts, default_families(ts), {"train": 1.0}, 100)
    finally:
        progress.removeHandler(handler)
        progress.setLevel(level)
    assert lines[0] == f"planning: drawing 300 programs from {len(default_families(ts))} families"
    during = [ln for ln in lines[1:-1] if ln.startswith("planning: ")]
    assert during and all(re.fullmatch(r"planning: [\d,]+ of 300 programs \(\d+%, [\d.]+ s\); [\d,]+ drawn", ln)
                          for ln in during), during
    assert re.fullmatch(r"planned 300 of 300 programs in [\d.]+ s \([\d,]+ drawn\)", lines[-1]), lines[-1]


# issue 26: a split of whole templates train never sees, and near-twins by either measure kept in one split ---------

def _similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Estimated Jaccard of every row of ``a`` with every row of ``b`` (MinHash: the share of equal values)."""
    return (a[:, None, :] == b[None, :, :]).mean(axis=2)


def test_unseen_templates_form_their_own_split_with_no_twin_outside():
    from generator.planning.minhash import NUM_PERM
    from generator.planning.plan import UNSEEN_SPLIT, make_plan
    from generator.programs.sampler import sample_program
    from generator.programs.templates import default_families, load_templates

    ts = load_templates()
    fams = tuple(sorted(default_families(ts)))
    unseen = ("noise/curl", "noise/perlin", "synthesized/scatter")
    plan = make_plan(5, 400, ts, fams, {"train": 0.8, "validation": 0.1, "test": 0.1}, 50, unseen_templates=unseen)
    split_of = {i: split for split, shards in plan.shards.items() for s in shards for i in s.indices}
    kept = sorted(split_of)  # kept in index order, as plan.signatures are
    names = {i: sample_program(5, i, ts, fams).template.name for i in kept}
    assert all((names[i] in unseen) == (split_of[i] == UNSEEN_SPLIT) for i in kept)
    assert {names[i] for i in kept if split_of[i] == UNSEEN_SPLIT} == set(unseen)  # every one of them has rows
    inside = np.array([split_of[i] == UNSEEN_SPLIT for i in kept])
    held = np.array([split_of[i] in ("validation", "test") for i in kept])
    train = np.array([split_of[i] == "train" for i in kept])
    for part in (slice(0, NUM_PERM), slice(NUM_PERM, 2 * NUM_PERM)):  # the token measure, then the syntax tree's
        sigs = plan.signatures[:, part]
        assert _similarity(sigs[inside], sigs[~inside]).max() < 0.9
        assert _similarity(sigs[held], sigs[train]).max() < 0.9
    # the tree measure is not the token measure: some kept pairs differ by more than 0.2 between the two
    tok = _similarity(plan.signatures[:60, :NUM_PERM], plan.signatures[:60, :NUM_PERM])
    tree = _similarity(plan.signatures[:60, NUM_PERM:], plan.signatures[:60, NUM_PERM:])
    assert (np.abs(tok - tree) > 0.2).any()


def test_no_unseen_templates_means_no_unseen_split():
    from generator.planning.plan import UNSEEN_SPLIT, make_plan
    from generator.programs.templates import default_families, load_templates

    ts = load_templates()
    plan = make_plan(5, 60, ts, default_families(ts), {"train": 0.9, "test": 0.1}, 30)
    assert UNSEEN_SPLIT not in plan.shards and plan.unseen_twins == 0
