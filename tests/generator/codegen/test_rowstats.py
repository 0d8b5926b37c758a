"""Row statistics count each row's round trip, and partial statistics merge to what one pass gives."""

from __future__ import annotations

from generator.codegen.rowstats import RowStats


def _row(round_trip: bool | None, note: str = "") -> dict:
    return {"family": "f", "complexity": 1, "kernel_name": "k", "python_source": "import warp as wp\n",
            "validation": {"level": "codegen", "round_trip": round_trip, "round_trip_note": note}}


def test_round_trips_are_counted_by_reason_and_merge():
    rows = [_row(True), _row(False, "does not load: NameError"), _row(None), _row(True),
            _row(False, "does not load: NameError")]
    whole = RowStats()
    for row in rows:
        whole.add("train", row, set())
    first, second = RowStats(), RowStats()
    for row in rows[:2]:
        first.add("train", row, set())
    for row in rows[2:]:
        second.add("train", row, set())
    first.merge(RowStats.from_json(second.to_json()))
    assert first.round_trip == whole.round_trip == {"passed": 2, "does not load: NameError": 2, "not checked": 1}
    summary = whole.summary("synthetic", set(), {})
    assert list(summary["round_trip"].items()) == [("passed", 2), ("not checked", 1), ("does not load: NameError", 2)]
