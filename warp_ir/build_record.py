"""What a build records: ``build_info.json``'s entry, the card's statistics and figures, the rebuild command.

Shared by the build driver for a local folder (:mod:`warp_ir.build`) and for a URL
(:mod:`warp_ir.url_output`); assembled from what an engine reported (:class:`warp_ir.produced.Produced`).
"""

from __future__ import annotations

import json
import shlex
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from common.atomic import write_json_atomic
from extraction import TARGETS, warp_version
from generator.planning.plan import DEFAULT_SPLITS, DEFAULT_UNSEEN_TEMPLATES
from generator.planning.similarity import DEFAULT_TWIN_THRESHOLD
from generator.programs.templates import default_families
from generator.version import BUILDER_VERSION
from warp_ir.card import write_card
from warp_ir.figures import start_figures
from warp_ir.produced import Produced
from warp_ir.stats import (
    BUILD_INFO,
    CONFIG_PREFIX,
    builtin_groups,
    builtin_name_set,
    in_real,
    record_for_card,
    split_files,
)
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


@dataclass(slots=True)
class BuildInfo:
    """One configuration's entry of ``build_info.json``: assembled once, from what the engine produced, and
    written once (:func:`record_build`); fields that are ``None`` are left out of the file."""

    builder_version: str
    warp_version: str
    python: str
    config: dict[str, Any]
    command: str
    rejected: dict[str, int]
    files: list[str]
    figures: dict[str, str]
    plan: dict[str, Any] | None = None  # synthetic: the plan's summary, rows by family, rejections
    rows_by_family: dict[str, int] | None = None
    rejection_examples: dict[str, Any] | None = None
    real_report: dict[str, Any] | None = None  # real: what was mined, package by package
    diversity: dict[str, Any] | None = None  # near-twins among the rows (none without rows)
    tokens: dict[str, Any] | None = None  # token counts (with a tokenizer)
    views: dict[str, Any] | None = None  # the chat views written (with --views)
    baseline: dict[str, Any] | None = None  # the retrieval baseline's rates (warp_ir.retrieval; --baseline-rows)
    # the statistics the card shows, so that a build of the other configuration need not read these rows again
    summary: dict[str, Any] | None = None
    # real: program key (generator.planning.shingles.program_key) -> kernel, for the card's overlap check
    program_keys: dict[str, str] | None = None

    @classmethod
    def of(cls, produced: Produced, command: str, files: list[str], figures: dict[str, str],
           extras: dict[str, Any]) -> BuildInfo:
        """The record of ``produced``: ``files`` (every file of the build, relative to the output), its figures and
        ``extras`` (``tokens``, ``views``, ``baseline``)."""
        info = cls(BUILDER_VERSION, warp_version(), sys.version.split()[0], config_summary(produced.config), command,
                   {}, sorted(files), figures, diversity=produced.diversity, **extras)
        if produced.plan is not None:
            counts = produced.counts
            rejected = dict(counts.rejected)
            for reason, n in produced.plan["render_failures"].items():
                rejected[reason] = rejected.get(reason, 0) + n
            info.plan, info.rows_by_family, info.rejected = produced.plan, dict(counts.by_family), rejected
            info.rejection_examples = counts.examples
        else:
            info.real_report = produced.real_report
        return info

    def to_json(self) -> dict[str, Any]:
        """The entry as ``build_info.json`` holds it (keys sorted, as the file has them)."""
        return json.loads(json.dumps({k: v for k, v in asdict(self).items() if v is not None}, sort_keys=True))


def record_build(staged: Path, produced: Produced, command: str, data_files: list[str], previous: dict[str, Any],
                 card_folders: dict[str, Path] | None, extras: dict[str, Any] | None = None,
                 extra_files: list[str] | None = None) -> tuple[BuildInfo, dict[str, Any]]:
    """Draw the figures, write ``staged/build_info.json`` and the card for the configuration ``produced`` holds.

    The one orchestration of a build's record, for a folder (:mod:`warp_ir.build`) and a URL
    (:mod:`warp_ir.url_output`): the statistics are the engine's, never read back from the rows.

    Args:
        staged: Where the record, the figures and the card are written.
        produced: What the engine produced.
        command: The command line the card prints.
        data_files: The configuration's Parquet files, relative to the output.
        previous: ``build_info.json`` of the output (the other configuration's entry is kept).
        card_folders: Config name -> the folder holding its files, for the card (``None``: the card shows this
            configuration alone, without split sizes or an example row; see :func:`warp_ir.card.write_card`).
        extras: ``tokens`` and ``views`` reports, when written.
        extra_files: Other files the build wrote (the chat views), relative to the output.

    Returns:
        The record, and the configuration's statistics as the card shows them (``build``: the record).
    """
    name = produced.config.name
    stats = produced.row_stats.summary(name, builtin_name_set(), {}, list(produced.files), builtin_groups())
    drawing = start_figures(stats, staged, produced.diversity)  # drawn while the record and the card are written
    figures = drawing.names
    record = BuildInfo.of(produced, command, [*data_files, *(extra_files or []), *figures.values()], figures,
                          extras or {})
    record.summary = {key: value for key, value in stats.items() if key != "build"}
    if name == "real":
        record.program_keys = dict(sorted(produced.row_stats.programs.items()))
    entry = record.to_json()
    stats["build"] = record_for_card(entry)
    write_json_atomic(staged / BUILD_INFO, {**previous, name: entry})
    known = {name: stats, **recorded_stats(previous, name)}
    write_card(staged, known, card_folders, real_overlap(produced, previous, card_folders))
    drawing.wait()
    return record, stats


def recorded_stats(previous: dict[str, Any], built: str) -> dict[str, dict[str, Any]]:
    """The statistics of the configurations other than ``built``, as their records hold them (those whose record
    predates ``summary`` are left out: the card computes theirs from the rows)."""
    out = {}
    for name, entry in previous.items():
        if name != built and isinstance(entry, dict) and isinstance(entry.get("summary"), dict):
            out[name] = {**entry["summary"], "build": record_for_card(entry)}
    return out


def real_overlap(produced: Produced, previous: dict[str, Any],
                 card_folders: dict[str, Path] | None) -> list[str] | None:
    """The real kernels whose normalised program is also a synthetic one, from what the builds recorded.

    A synthetic build compares its own programs (gathered while its rows streamed past) with the real
    record's program keys. A real build has no such record of the synthetic programs (a key per row of a
    configuration that may hold millions): ``None``, and the card reads the synthetic programs once.
    """
    if card_folders is None:
        return []
    if produced.config.name == "real":
        return None if split_files(card_folders["synthetic"], CONFIG_PREFIX["synthetic"]) else []
    if not split_files(card_folders["real"], CONFIG_PREFIX["real"]):
        return []
    real = (previous.get("real") or {}).get("program_keys")
    return in_real(real, produced.row_stats.programs) if isinstance(real, dict) else None



def config_summary(cfg: Any) -> dict[str, Any]:
    """The settings of a configuration that decide its rows (what ``build_info.json`` records)."""
    if cfg.name == "real":
        return {"name": cfg.name, "packages": list(cfg.packages) if cfg.packages is not None else None,
                "test_packages": list(cfg.test_packages) if cfg.test_packages is not None else None,
                "allow_licenses": list(cfg.allow_licenses), "targets": list(cfg.targets),
                "include_fem": cfg.include_fem}
    return {"name": cfg.name, "num_samples": cfg.num_samples, "seed": cfg.seed, "families": list(cfg.families),
            "targets": list(cfg.targets), "validate": cfg.validate, "split_ratios": cfg.split_ratios,
            "shard_size": cfg.shard_size, "fuzzy_dedup": cfg.fuzzy_dedup, "twin_threshold": cfg.twin_threshold,
            "unseen_templates": list(cfg.held_out_templates())}


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
    default_unseen = tuple(sorted(t for t in DEFAULT_UNSEEN_TEMPLATES if t.split("/")[0] in set(cfg.families)))
    if cfg.held_out_templates() != default_unseen:
        parts += ["--unseen-templates", ",".join(cfg.held_out_templates()) or "none"]
    return shlex.join(parts)


