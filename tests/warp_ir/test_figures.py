"""The card's figures: deterministic PNG files drawn from a configuration's statistics."""

from __future__ import annotations

from pathlib import Path

import pytest

from warp_ir.figures import draw_figure, figure_names, write_figures
from warp_ir.outdir import safe_name as _safe

STATS = {
    "config": "synthetic",
    "total_rows": 30,
    "families": {"vector": 12, "synthesized": 10, "loops": 8},
    "line_histograms": {"edges": [1, 2, 4, 8, 16, 1 << 30], "python_source": [0, 1, 5, 20, 4],
                        "cpp_forward": [0, 0, 0, 10, 20]},
    "builtin_coverage": {"covered": 5, "user_builtins": 9, "fraction": 0.5556,
                         "by_group": {"Scalar Math": [4, 5], "Tile Primitives": [1, 4]}},
}
DIVERSITY = {"threshold": 0.85, "rows_with_twin": 3, "total_rows": 30,
             "max_similarity_histogram": {"<0.5": 20, "0.5–0.6": 5, "0.85–0.9": 2, "1.0": 1}}


def test_figures_are_pngs_and_deterministic(tmp_path: Path):
    one = write_figures(STATS, tmp_path / "a", DIVERSITY)
    two = write_figures(STATS, tmp_path / "b", DIVERSITY)
    assert one == figure_names("synthetic") == two
    for rel in one.values():
        data = (tmp_path / "a" / rel).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
        assert data == (tmp_path / "b" / rel).read_bytes()  # same statistics, same bytes
        assert b"Software" not in data and b"matplotlib" not in data  # no version stamp
    # other statistics draw another picture
    other = write_figures({**STATS, "families": {"vector": 1}}, tmp_path / "c", DIVERSITY)
    assert (tmp_path / "c" / other["families"]).read_bytes() != (tmp_path / "a" / one["families"]).read_bytes()


def test_figures_need_their_statistics(tmp_path: Path):
    written = write_figures({**STATS, "line_histograms": {}, "builtin_coverage": {"by_group": {}}}, tmp_path)
    assert set(written) == {"families"}  # no histograms, no groups, no diversity: only what can be drawn


def test_figure_paths_are_part_of_the_build_layout():
    for rel in figure_names("synthetic").values():
        assert _safe(rel)
    assert _safe("figures/real-coverage.png")
    for bad in ("figures/evil.png", "figures/../README.md", "figures/synthetic-x.txt", "figures/a/synthetic-x.png"):
        assert not _safe(bad)


@pytest.fixture
def pyplot():
    import matplotlib.pyplot as plt

    yield plt
    plt.close("all")


def test_length_axes_are_log_scale(pyplot):
    fig = draw_figure("lengths", STATS)
    axes = [ax for ax in fig.axes if ax.get_title(loc="left")]
    assert [ax.get_title(loc="left") for ax in axes] == ["python_source", "cpp_forward"]
    for ax in axes:
        assert ax.get_yscale() == "log"
        assert ax.get_ylim()[0] < 1  # a bin of one row (the longest kernels) is a visible bar


def _bars(ax) -> dict[str, float]:
    return {tick.get_text(): pos for pos, tick in zip(ax.get_xticks(), ax.get_xticklabels(), strict=True)}


def _threshold_line(ax):
    (line,) = [ln for ln in ax.get_lines() if "threshold" in ln.get_label()]
    xs = set(line.get_xdata())
    assert len(xs) == 1  # vertical
    return line, xs.pop()


def test_similarity_figure_marks_the_twin_threshold(pyplot):
    fig = draw_figure("similarity", STATS, DIVERSITY)
    (ax,) = fig.axes
    line, x = _threshold_line(ax)
    assert line.get_label() == "near-twin threshold (0.85)"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["near-twin threshold (0.85)"]
    bars = _bars(ax)
    assert x == bars["0.85–0.9"] - 0.5 == bars["0.8–0.85"] + 0.5  # between the bins below and at the threshold
    # a threshold inside a bin is drawn in proportion; bins in order whatever the order of the keys
    # (build_info.json sorts them)
    shuffled = dict(sorted(DIVERSITY["max_similarity_histogram"].items()))
    fig = draw_figure("similarity", STATS, {**DIVERSITY, "threshold": 0.875, "max_similarity_histogram": shuffled})
    (ax,) = fig.axes
    bars = _bars(ax)
    assert list(bars) == ["<0.5", "0.5–0.6", "0.6–0.7", "0.7–0.8", "0.8–0.85", "0.85–0.9", "0.9–0.95",
                          "0.95–1.0", "1.0"]
    line, x = _threshold_line(ax)
    assert x == pytest.approx(bars["0.85–0.9"]) and line.get_label() == "near-twin threshold (0.875)"
    heights = {label: patch.get_height() for label, patch in zip(bars, ax.patches, strict=True)}
    assert heights == {label: DIVERSITY["max_similarity_histogram"].get(label, 0) for label in bars}


@pytest.mark.parametrize("how", ["no fork", "child fails"])
def test_figures_drawn_here_when_the_forked_process_cannot(tmp_path: Path, monkeypatch, how):
    """The figures are drawn in forked processes; where none starts, or one dies, the same bytes are drawn here."""
    from warp_ir import figures

    parallel = write_figures(STATS, tmp_path / "a", DIVERSITY)
    real = figures.start_child

    def start_child(work, what):
        if how == "no fork":
            raise OSError("Resource temporarily unavailable")
        return real(lambda: __import__("os")._exit(3), what)

    monkeypatch.setattr(figures, "start_child", start_child)
    serial = write_figures(STATS, tmp_path / "b", DIVERSITY)
    assert serial == parallel == figure_names("synthetic")
    for rel in parallel.values():
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes()
