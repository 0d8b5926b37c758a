"""Realism statistics: per source, merged like the rows' other statistics, and the shipped real reference."""

from __future__ import annotations

import json

import pytest

from generator.codegen.rowstats import RowStats, realism_summary
from generator.realism.features import FEATURES, IDIOMS
from generator.realism.stats import RealismStats, SourceStats, feature_gap, real_reference, source_of

NOISY = '''import warp as wp


@wp.kernel
def k(x: wp.array(dtype=float)):
    i = wp.tid()
    unused = x[i] - x[i]
    x[i] = 0.382 * x[i]
'''
CLEAN = '''import warp as wp


@wp.kernel
def k(x: wp.array[float]):
    i = wp.tid()
    x[i] = 0.5 * x[i]
'''


def _row(family: str, source: str) -> dict:
    return {"family": family, "python_source": source, "cpp_forward": "f" * 10, "cpp_backward": "b" * 30}


def test_per_source_figures():
    stats = RealismStats()
    stats.add(_row("synthesized", NOISY))
    stats.add(_row("synthesized", CLEAN))
    stats.add(_row("arithmetic", CLEAN))
    summary = stats.summary()
    assert list(summary) == ["template", "synthesized"]
    syn = summary["synthesized"]
    assert syn["rows"] == 2 and syn["dead_local_rows"] == 0.5 and syn["degenerate_rows"] == 0.5
    assert syn["arbitrary_constants_per_line"] == pytest.approx(1 / 11, abs=1e-4)  # 1 in 6 + 5 code lines
    assert syn["median_cpp_backward"] == 30
    assert syn["features"]["array_subscript_style"] == 0.5
    assert summary["template"]["dead_local_rows"] == 0.0


def test_merge_and_json_round_trip_give_one_pass():
    a, b, whole = RealismStats(), RealismStats(), RealismStats()
    for i, src in enumerate([NOISY, CLEAN, CLEAN, NOISY]):
        (a if i < 2 else b).add(_row("synthesized", src))
        whole.add(_row("synthesized", src))
    a.merge(RealismStats.from_json(json.loads(json.dumps(b.to_json()))))
    assert a.summary() == whole.summary()


def test_row_stats_carry_realism_through_json():
    rs = RowStats()
    rs.add("train", {**_row("synthesized", NOISY), "complexity": 1, "kernel_name": "k", "validation": {}}, set())
    back = RowStats.from_json(json.loads(json.dumps(rs.to_json())))
    assert back.realism.summary()["synthesized"]["dead_local_rows"] == 1.0


def test_sources():
    assert source_of("real") == "real" and source_of("fem") == "real"
    assert source_of("synthesized") == "synthesized" and source_of("noise") == "template"


def test_feature_gap():
    table = {f.name: 0.0 for f in FEATURES}
    other = dict(table, generic_any=0.5)
    assert feature_gap(table, other) == {"mean_gap_pp": round(50 / len(FEATURES), 2), "max_gap_pp": 50.0}


def test_real_reference_is_complete():
    ref = real_reference()
    assert ref["measured_on"]["rows"] >= 3000 and len(ref["measured_on"]["packages"]) >= 10
    assert set(ref["summary"]["features"]) == {f.name for f in FEATURES}
    assert ref["summary"]["features"]["array_subscript_style"] > 0.5  # what real code writes most


def test_synthetic_summary_compares_the_whole_build_with_real_code():
    stats = RealismStats()
    stats.add(_row("synthesized", CLEAN))
    out = realism_summary(stats, "synthetic")
    assert out["build_features"]["array_subscript_style"] == 1.0
    assert out["gap"]["mean_gap_pp"] > 0
    assert set(out["idioms_below_half"]) <= set(IDIOMS) and "generic_any" in out["idioms_below_half"]
    assert "real_reference" not in realism_summary(stats, "real")


def test_source_stats_of_nothing():
    assert SourceStats().summary()["rows"] == 0
