"""Render the Hub README (``dataset_card.md`` at the project root is its Jinja template)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2

CARD_TEMPLATE = Path(__file__).resolve().parent.parent / "dataset_card.md"


def size_category(n: int) -> str:
    """The Hub's ``size_categories`` bucket for ``n`` rows."""
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
                         (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M")):
        if n < limit:
            return label
    return "n>10M"


def render_card(stats: dict[str, Any], configs: list[dict[str, Any]], repo_id: str = "org/warp-ir") -> str:
    """Render the dataset card.

    Args:
        stats: Output of :func:`warp_ir.stats.compute_stats` (with ``build`` info).
        configs: ``[{"name", "prefix", "splits", "default"}]`` for the YAML ``configs`` block.
        repo_id: Hub repository shown in the usage snippet.
    """
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True)
    template = env.from_string(CARD_TEMPLATE.read_text(encoding="utf-8"))
    build = stats["build"]
    rejected = sorted(build.get("rejected", {}).items(), key=lambda kv: (-kv[1], kv[0]))
    rejected_total = sum(n for _, n in rejected)
    distinct = max(1, build["plan"]["kept"])
    return template.render(
        stats=stats, build=build, configs=configs, repo_id=repo_id,
        size_category=size_category(stats["total_rows"]),
        warp_version=build["warp_version"], builder_version=build["builder_version"],
        rejected=rejected, rejected_total=rejected_total, rejected_pct=100.0 * rejected_total / distinct,
        complexities=sorted({int(k.split("/")[1]) for k in stats["family_complexity"]}),
    )
