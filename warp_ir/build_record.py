"""What a build records: ``build_info.json``'s entry, the card's statistics and figures, the rebuild command.

Shared by the build driver for a local folder (:mod:`warp_ir.build`) and for a URL
(:mod:`warp_ir.url_output`); computed from what an engine reported (:class:`warp_ir.produced.Produced`).
"""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from extraction import TARGETS, warp_version
from common.atomic import write_json_atomic
from generator.planning.plan import BUILDER_VERSION, DEFAULT_SPLITS, DEFAULT_TWIN_THRESHOLD
from generator.programs.templates import default_families
from warp_ir.figures import write_figures
from warp_ir.produced import Produced
from warp_ir.stats import BUILD_INFO, build_info, builtin_groups, builtin_name_set, compute_stats
from warp_ir.tokens import tokenizer_name
from warp_ir.views import ViewOptions


@dataclass(slots=True)
class BuildResult:
    """What a build produced."""

    out_dir: Any  # the output folder (a Path) or URL
    rows: dict[str, int]
    rejected: dict[str, int]
    seconds: float
    stats: dict[str, Any]
    reused: int = 0  # files or shards an interrupted earlier run had finished, verified and kept
    backup: Any = None  # the folder holding the user's files that --overwrite replaced (None: none replaced)


def finish_record(staged: Path, config_name: str, info: dict[str, Any], all_info: dict[str, Any],
                  produced: Produced, splits: list[str]) -> dict[str, Any]:
    """Draw the figures and write ``staged/build_info.json`` (``all_info`` with ``info`` as ``config_name``'s).

    Returns:
        The configuration's statistics, as the card shows them (with ``build``: ``info`` as written).
    """
    all_info[config_name] = info
    if produced.row_stats is not None:
        stats = produced.row_stats.summary(config_name, builtin_name_set(), info, splits, builtin_groups())
    else:
        write_json_atomic(staged / BUILD_INFO, all_info)  # compute_stats reads it
        stats = compute_stats(staged, config_name)
    info["figures"] = write_figures(stats, staged, info.get("diversity"))
    info["files"] = sorted(info["files"] + list(info["figures"].values()))
    write_json_atomic(staged / BUILD_INFO, all_info)
    # `info` as build_info.json holds it (sorted keys), exactly what compute_stats would read back
    stats["build"] = build_info(staged)[config_name]
    return stats


def build_record(produced: Produced, command: str) -> dict[str, Any]:
    """What ``build_info.json`` records for the configuration just built (``command``: the card's rebuild command)."""
    cfg, counts = produced.config, produced.counts
    info: dict[str, Any] = {
        "builder_version": BUILDER_VERSION,
        "warp_version": warp_version(),
        "python": sys.version.split()[0],
        "config": config_summary(cfg),
        "command": command,
        "rejected": {},
    }
    if produced.plan is not None:
        rejected = dict(counts.rejected)
        for reason, n in produced.plan["render_failures"].items():
            rejected[reason] = rejected.get(reason, 0) + n
        info.update(plan=produced.plan, rows_by_family=dict(counts.by_family), rejected=rejected,
                    rejection_examples=counts.examples)
    else:
        info["real_report"] = produced.real_report
    return info


def config_summary(cfg: Any) -> dict[str, Any]:
    """The settings of a configuration that decide its rows (what ``build_info.json`` records)."""
    if cfg.name == "real":
        return {"name": cfg.name, "packages": list(cfg.packages) if cfg.packages is not None else None,
                "test_packages": list(cfg.test_packages) if cfg.test_packages is not None else None,
                "allow_licenses": list(cfg.allow_licenses), "targets": list(cfg.targets),
                "include_fem": cfg.include_fem}
    return {"name": cfg.name, "num_samples": cfg.num_samples, "seed": cfg.seed, "families": list(cfg.families),
            "targets": list(cfg.targets), "validate": cfg.validate, "split_ratios": cfg.split_ratios,
            "shard_size": cfg.shard_size, "fuzzy_dedup": cfg.fuzzy_dedup, "twin_threshold": cfg.twin_threshold}


def view_options(views: ViewOptions | None, tokenizer: str | None) -> str:
    """The ``warp-ir build`` options that write ``views`` and count tokens (`` --views chat ...``; ``""`` if none)."""
    parts = ["--views", ",".join(views.kinds)] if views else []
    if tokenizer:
        parts += ["--tokenizer", tokenizer_name(tokenizer)]
    for option, value in (("--max-chars", views and views.max_chars), ("--max-tokens", views and views.max_tokens)):
        if value:
            parts += [option, str(value)]
    return " " + shlex.join(parts) if parts else ""


def rebuild_command(cfg: Any) -> str:
    """The ``warp-ir build`` command that rebuilds ``cfg`` (what the card prints; no paths, no timings)."""
    if cfg.name == "real":
        parts = ["warp-ir", "build", "--config", "real", "--out", "warp-ir-data"]
        for option, values in (("--packages", cfg.packages), ("--test-packages", cfg.test_packages),
                               ("--allow-license", cfg.allow_licenses or None)):
            if values is not None:
                parts += [option, ",".join(values)]
        if tuple(cfg.targets) != TARGETS:
            parts += ["--targets", ",".join(cfg.targets)]
        return shlex.join(parts)
    parts = ["warp-ir", "build", "--out", "warp-ir-data", "--num-samples", str(cfg.num_samples), "--seed",
             str(cfg.seed), "--targets", ",".join(cfg.targets), "--validate", cfg.validate]
    if set(cfg.families) != set(default_families()):
        parts += ["--families", ",".join(cfg.families)]
    if cfg.split_ratios != DEFAULT_SPLITS:
        parts += ["--split-ratios", ",".join(str(v) for v in cfg.split_ratios.values())]
    if not cfg.fuzzy_dedup:
        parts.append("--no-fuzzy-dedup")
    if cfg.twin_threshold != DEFAULT_TWIN_THRESHOLD:
        parts += ["--twin-threshold", str(cfg.twin_threshold)]
    return shlex.join(parts)


