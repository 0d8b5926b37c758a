"""The card's figures: PNG files drawn with matplotlib (Agg) from a configuration's statistics.

Every figure is drawn from :func:`warp_ir.stats.compute_stats`-style statistics alone (no rows are
read here), so the same statistics give the same pictures. The PNG files are written without
the ``Software`` text chunk (which names the matplotlib version) and with a fixed size and
resolution; the bytes depend only on the statistics and on the matplotlib and FreeType versions
that draw them (tested: drawing twice gives identical files).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from common.forked import Child, ChildFailed, start_child
from generator.codegen.rowstats import CODE_COLUMNS

logger = logging.getLogger(__name__)

FIGURES_DIR = "figures"  # beside README.md in the dataset folder
_DPI = 100
_TEMPLATE_COLOR, _SYNTH_COLOR, _OTHER_COLOR = "#4C72B0", "#DD8452", "#BBBBBB"
# Each group is drawn in a forked process of its own (the lengths figure is about half the work), while this one
# writes the record and the card
_GROUPS = (("lengths",), ("families", "coverage", "similarity"))


def figure_names(config: str) -> dict[str, str]:
    """Figure key -> path relative to the dataset folder, for ``config``."""
    return {key: f"{FIGURES_DIR}/{config}-{key}.png" for key in ("families", "lengths", "coverage", "similarity")}


def write_figures(stats: dict[str, Any], dest: Path, diversity: dict[str, Any] | None = None) -> dict[str, str]:
    """Draw the card's figures for one configuration into ``dest/figures/`` (see :func:`start_figures`).

    Returns:
        Figure key -> path relative to ``dest``, for each figure written (``families``, ``lengths``,
        ``coverage``, ``similarity``).
    """
    return start_figures(stats, dest, diversity).wait()


def start_figures(stats: dict[str, Any], dest: Path, diversity: dict[str, Any] | None = None) -> DrawingFigures:
    """Start drawing the card's figures for one configuration into ``dest/figures/``, in forked processes.

    What the caller does next (write the record and the card, which name the figures) overlaps the
    drawing; :meth:`DrawingFigures.wait` waits for it (and draws here what a process failed to draw).

    Args:
        stats: The configuration's statistics (:meth:`warp_ir.stats.RowStats.summary`).
        dest: The (staged) dataset folder.
        diversity: :func:`warp_ir.stats.diversity` output (the similarity figure needs it).
    """
    names = {key: path for key, path in figure_names(stats["config"]).items() if _has_data(key, stats, diversity)}
    (dest / FIGURES_DIR).mkdir(parents=True, exist_ok=True)
    _pyplot()  # imported here, so that a forked process has it
    groups = [[k for k in names if k in group] for group in _GROUPS]
    drawing = DrawingFigures(names, stats, dest, diversity)
    for keys in filter(None, groups):
        drawing.start(keys)
    return drawing


class DrawingFigures:
    """Figures being drawn (:func:`start_figures`).

    Attributes:
        names: Figure key -> path relative to the dataset folder, for each figure being drawn.
    """

    def __init__(self, names: dict[str, str], stats: dict[str, Any], dest: Path,
                 diversity: dict[str, Any] | None) -> None:
        self.names, self.stats, self.dest, self.diversity = names, stats, dest, diversity
        self.children: list[tuple[list[str], Child | None]] = []

    def start(self, keys: list[str]) -> None:
        """Start drawing ``keys`` in a forked process (or leave them to :meth:`wait` where none starts)."""

        def work() -> tuple[dict[str, Any], None]:
            return {"drawn": self.draw(keys)}, None

        try:
            self.children.append((keys, start_child(work, f"drawing the figures {', '.join(keys)}")))
        except OSError:  # no process to be had: drawn here, when waited for
            self.children.append((keys, None))

    def draw(self, keys: list[str]) -> list[str]:
        """Draw ``keys`` in this process; the keys drawn."""
        return [key for key in keys if _write_figure(key, self.stats, self.diversity, self.dest / self.names[key])]

    def wait(self) -> dict[str, str]:
        """Wait for every figure; figure key -> path relative to the dataset folder.

        Raises:
            RuntimeError: A figure announced in :attr:`names` was not drawn.
        """
        done: set[str] = set()
        for keys, child in self.children:
            got = None
            if child is not None:
                try:
                    drawn = child.result()[0].get("drawn")
                    got = [str(k) for k in drawn] if isinstance(drawn, list) else None
                except ChildFailed as exc:
                    logger.info("figures drawn here instead: %s", exc)
            done |= set(got if got is not None else self.draw(keys))  # a process that failed: drawn here instead
        self.children.clear()
        if done != set(self.names):
            raise RuntimeError(f"figures announced but not drawn: {sorted(set(self.names) - done)}")
        logger.info("figures: %s", ", ".join(self.names.values()))
        return dict(self.names)


def _has_data(key: str, stats: dict[str, Any], diversity: dict[str, Any] | None) -> bool:
    """Whether figure ``key`` has the statistics it needs (each drawer draws nothing without them)."""
    if key == "families":
        return bool(stats.get("families"))
    if key == "lengths":
        return any(c in (stats.get("line_histograms") or {}) for c in CODE_COLUMNS)
    if key == "coverage":
        return bool((stats.get("builtin_coverage") or {}).get("by_group"))
    return bool(diversity)


def _write_figure(key: str, stats: dict[str, Any], diversity: dict[str, Any] | None, path: Path) -> bool:
    """Draw figure ``key`` into ``path``; ``False`` when its statistics are missing (nothing written)."""
    fig = draw_figure(key, stats, diversity)
    if fig is None:
        return False
    fig.savefig(path, dpi=_DPI, format="png", metadata={"Software": None})
    _pyplot().close(fig)
    return True


def draw_figure(key: str, stats: dict[str, Any], diversity: dict[str, Any] | None = None) -> Any:
    """One of the card's figures as a matplotlib ``Figure`` (not saved; the caller closes it), or ``None``.

    Args:
        key: ``families``, ``lengths``, ``coverage`` or ``similarity``.
        stats: The configuration's statistics (:meth:`warp_ir.stats.RowStats.summary`).
        diversity: :func:`warp_ir.stats.diversity` output (the similarity figure needs it).

    Returns:
        The figure, or ``None`` when the statistics it needs are missing.
    """
    import matplotlib  # noqa: PLC0415

    plt = _pyplot()
    drawers = {"families": _families, "lengths": _lengths, "coverage": _coverage,
               "similarity": lambda plt_, _stats: _similarity(plt_, diversity) if diversity else None}
    with matplotlib.rc_context({"font.size": 9, "axes.spines.top": False, "axes.spines.right": False}):
        return drawers[key](plt, stats)


def _pyplot() -> Any:
    """``matplotlib.pyplot`` on the Agg backend (about 0.3 s to import: only when a card is drawn)."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt  # noqa: PLC0415

    return plt


def _families(plt: Any, stats: dict[str, Any]) -> Any:
    """Rows per family, coloured by source (template or synthesized)."""
    families = sorted(stats["families"].items(), key=lambda kv: (kv[1], kv[0]))
    if not families:
        return None
    fig, ax = plt.subplots(figsize=(7, 0.22 * len(families) + 1.2))
    colors = [_SYNTH_COLOR if f == "synthesized" else _TEMPLATE_COLOR for f, _ in families]
    ax.barh([f for f, _ in families], [n for _, n in families], color=colors)
    ax.set_xlabel("rows")
    synthesized = stats["families"].get("synthesized", 0)
    ax.set_title(f"Rows per family ({stats['total_rows'] - synthesized} from templates, "
                 f"{synthesized} synthesized)")
    handles = [plt.Rectangle((0, 0), 1, 1, color=color) for color in (_TEMPLATE_COLOR, _SYNTH_COLOR)]
    ax.legend(handles=handles, labels=["template", "synthesized"], loc="lower right", frameon=False)
    fig.tight_layout()
    return fig


def _lengths(plt: Any, stats: dict[str, Any]) -> Any:
    """Line-count histograms of each code column (log-2 bins, rows on a log scale: the long tail stays visible)."""
    from matplotlib.ticker import FuncFormatter  # noqa: PLC0415

    hist = stats.get("line_histograms") or {}
    columns = [c for c in CODE_COLUMNS if c in hist]
    if not columns:
        return None
    edges = hist["edges"]
    labels = [f"{lo}–{hi - 1}" if hi - lo > 1 else str(lo) for lo, hi in zip(edges[:-2], edges[1:-1], strict=True)]
    labels.append(f"{edges[-2]}+")
    fig, axes = plt.subplots(len(columns), 1, figsize=(7, 1.5 * len(columns) + 0.6), sharex=True)
    axes = list(axes) if len(columns) > 1 else [axes]
    for ax, column in zip(axes, columns, strict=True):
        ax.bar(range(len(labels)), hist[column], color=_TEMPLATE_COLOR)
        ax.set_yscale("log")  # a bin of 1 row (the longest kernels) beside one of thousands
        ax.set_ylim(bottom=0.5, top=max(2, max(hist[column], default=0)) * 1.6)  # a 1-row bar stays visible
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))  # 1, 10, 100 rather than 10^k
        ax.set_ylabel("rows (log)")
        ax.set_title(column, loc="left", fontsize=9)
    axes[-1].set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    axes[-1].set_xlabel("lines")
    fig.suptitle("Lengths of the code columns")
    fig.tight_layout()
    return fig


def _coverage(plt: Any, stats: dict[str, Any]) -> Any:
    """Builtins used / builtins in Warp, per documentation group."""
    groups = stats["builtin_coverage"].get("by_group") or {}
    if not groups:
        return None
    items = sorted(groups.items(), key=lambda kv: (kv[1][1], kv[0]))
    fig, ax = plt.subplots(figsize=(7, 0.3 * len(items) + 1.2))
    ys = range(len(items))
    ax.barh(ys, [total for _, (_, total) in items], color=_OTHER_COLOR, label="in Warp")
    ax.barh(ys, [covered for _, (covered, _) in items], color=_TEMPLATE_COLOR, label="used")
    ax.set_yticks(list(ys), [f"{g} ({c}/{t})" for g, (c, t) in items])
    cov = stats["builtin_coverage"]
    ax.set_title(f"Builtin coverage by group: {cov['covered']} of {cov['user_builtins']} ({cov['fraction']:.1%})")
    ax.set_xlabel("builtins")
    ax.legend(loc="lower right", frameon=False)
    fig.tight_layout()
    return fig


def _similarity(plt: Any, diversity: dict[str, Any]) -> Any:
    """Histogram of each row's highest estimated Jaccard to any other row, with the near-twin threshold marked."""
    from generator.planning.similarity import BIN_LABELS  # noqa: PLC0415 - numpy and more: not for `import warp_ir.outdir`

    hist = diversity["max_similarity_histogram"]
    # in bin order (build_info.json sorts its keys), every bin shown so that the axis is the same in every build
    labels = sorted(set(hist) | set(BIN_LABELS), key=_bounds)
    counts = [hist.get(label, 0) for label in labels]
    fig, ax = plt.subplots(figsize=(7, 3))
    threshold = diversity["threshold"]
    colors = [_SYNTH_COLOR if _bounds(label)[0] >= threshold else _TEMPLATE_COLOR for label in labels]
    ax.bar(range(len(labels)), counts, color=colors)
    ax.axvline(threshold_position(labels, threshold), color="#C44E52", linestyle="--", linewidth=1.2,
               label=f"near-twin threshold ({threshold:g})")
    ax.legend(loc="upper right", frameon=False)
    ax.set_xticks(range(len(labels)), labels)
    ax.set_xlabel("highest estimated Jaccard to another row (normalised 5-token shingles)")
    ax.set_ylabel("rows")
    ax.set_title(f"Near-twins: {diversity['rows_with_twin']} of {diversity['total_rows']} rows at >= {threshold:g}")
    fig.tight_layout()
    return fig


def _bounds(label: str) -> tuple[float, float]:
    """The range ``[low, high)`` of a histogram bin label (``<0.5`` -> (0, 0.5), ``0.85–0.9`` -> (0.85, 0.9),
    ``1.0`` -> (1.0, 1.0): a bin of one value)."""
    if label.startswith("<"):
        return 0.0, float(label[1:])
    low, _, high = label.partition("–")
    return float(low), float(high or low)


def threshold_position(labels: list[str], threshold: float) -> float:
    """Where ``threshold`` falls on a bar chart of the bins ``labels`` (bar ``i`` spans ``i - 0.5`` to ``i + 0.5``).

    A threshold at a bin's lower end is drawn at that bar's left edge; one inside a bin, in proportion.
    """
    for i, label in enumerate(labels):
        low, high = _bounds(label)
        if low <= threshold < high:
            return i - 0.5 + (threshold - low) / (high - low)
        if low == high == threshold:
            return i - 0.5
    return len(labels) - 0.5 if threshold > _bounds(labels[-1])[1] else -0.5
