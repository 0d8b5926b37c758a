"""Render the Hub README (``dataset_card.md`` at the project root is its Jinja template)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import jinja2

from evaluation.tasks import TASKS
from generator.similarity import BIN_LABELS
from warp_ir.outdir import VIEWS_DIR


def _card_template() -> Path:
    """``dataset_card.md``: beside the package in a checkout, under ``<prefix>/share/warp-ir`` once installed."""
    for candidate in (Path(__file__).resolve().parent.parent / "dataset_card.md",
                      Path(sys.prefix) / "share" / "warp-ir" / "dataset_card.md"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError("dataset_card.md not found (reinstall warp-ir-dataset)")


def size_category(n: int) -> str:
    """The Hub's ``size_categories`` bucket for ``n`` rows."""
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
                         (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M")):
        if n < limit:
            return label
    return "n>10M"


def render_card(stats: dict[str, dict[str, Any]], overlap: list[str] | None = None,
                repo_id: str = "org/warp-ir") -> str:
    """Render the dataset card.

    Args:
        stats: Config name -> :func:`warp_ir.stats.compute_stats` output, for each config present.
        overlap: Real kernels whose normalised program also appears in the synthetic data.
        repo_id: Hub repository shown in the usage snippet.
    """
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True)
    template = env.from_string(_card_template().read_text(encoding="utf-8"))
    syn, real = stats.get("synthetic"), stats.get("real")
    any_stats = syn or real
    configs = [{"name": name, "prefix": s["prefix"], "splits": list(s["rows"]), "default": name == "synthetic"}
               for name, s in stats.items()]
    views = (syn or {}).get("build", {}).get("views")
    if views:  # one configuration per task with rows: chat/<slug>/<split>-*.parquet, its splits that hold rows
        configs += [{"name": entry["config"], "prefix": f"{VIEWS_DIR}/{TASKS[name].slug}", "default": False,
                     "splits": [split for split in syn["rows"] if entry["rows"].get(split)]}
                    for name, entry in views["tasks"].items() if name in TASKS and any(entry["rows"].values())]
    context: dict[str, Any] = {
        "syn": syn, "real": real, "configs": configs, "repo_id": repo_id, "overlap": overlap or [],
        "size_category": size_category(sum(s["total_rows"] for s in stats.values())),
        "warp_version": any_stats["build"]["warp_version"], "builder_version": any_stats["build"]["builder_version"],
        "sbuild": syn["build"] if syn else {}, "rbuild": real["build"] if real else {},
        "similarity_bins": BIN_LABELS,  # build_info.json sorts keys: the histogram is shown in bin order
        "tasks": TASKS,
    }
    if syn:
        build = syn["build"]
        rejected = sorted(build.get("rejected", {}).items(), key=lambda kv: (-kv[1], kv[0]))
        context.update(
            rejected=rejected, rejected_total=sum(n for _, n in rejected),
            rejected_pct=100.0 * sum(n for _, n in rejected) / max(1, build["plan"]["kept"]),
            complexities=sorted({int(k.split("/")[1]) for k in syn["family_complexity"]}),
        )
    return template.render(**context)
