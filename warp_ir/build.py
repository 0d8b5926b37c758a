"""Drive the builder and lay the result out as a Hub dataset folder."""

from __future__ import annotations

import gc
import json
import logging
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from extraction import TARGETS, warp_version
from generator.pipeline import Counts
from generator.plan import (
    BUILDER_VERSION, DEFAULT_SPLITS, DEFAULT_TWIN_THRESHOLD, PLAN_SIGNATURES, read_signatures,
)
from generator.atomic import write_json_atomic
from generator.templates import default_families
from warp_ir.card import render_card
from warp_ir.figures import write_figures
from warp_ir.stats import (
    BUILD_INFO,
    CONFIG_PREFIX,
    ROW_STATS,
    RowStats,
    build_info,
    builtin_groups,
    builtin_name_set,
    compute_stats,
    diversity,
    merge_row_stats,
    real_in_synthetic,
    split_files,
)
from warp_ir.lock import FolderLock
from warp_ir.outdir import (
    CARD,
    VIEWS_DIR,
    OutputError,
    cache_dir,
    check_output,
    commit,
    make_output,
    read_build_info,
    recover,
    staging_dir,
)
from warp_ir.tokens import load_tokenizer, token_lengths, tokenizer_name
from warp_ir.views import ViewOptions, write_chat_views
from warp_ir.writer import MAX_SHARD_SIZE, place_parquet_files, remove_tree, write_parquet_splits

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class BuildResult:
    """What a build produced."""

    out_dir: Path
    rows: dict[str, int]
    rejected: dict[str, int]
    seconds: float
    stats: dict[str, Any]


def merge_counts(stats_dir: Path) -> Counts:
    """Merge the per-shard count files a build left in ``stats_dir``."""
    total = Counts()
    for path in sorted(stats_dir.glob("*-[0-9]*.json")):
        total.merge(Counts.from_json(json.loads(path.read_text())))
    return total


@dataclass(slots=True)
class Produced:
    """What an engine hands back: the rows of each split and what was counted on the way."""

    config: Any  # the WarpIRConfig actually used
    files: dict[str, list[Path]] | None = None  # split -> Parquet files written by the builder (local engine)
    splits: dict[str, Any] | None = None  # split -> datasets.Dataset held in memory (ray engine)
    counts: Counts = field(default_factory=Counts)
    plan: dict[str, Any] | None = None
    real_report: dict[str, Any] | None = None
    row_stats: RowStats | None = None  # statistics the workers gathered (else they are read from the Parquet)
    plan_signatures: tuple[Any, Any] | None = None  # the plan's row ids and MinHash signatures (kept programs)


def run_local(out_dir: Path, config_name: str, num_proc: int, **config: Any) -> Produced:
    """Prepare the rows with the ``datasets`` builder on this machine (``num_proc`` processes)."""
    from warp_ir_dataset import WarpIR  # noqa: PLC0415 - keeps `warp-ir --help` fast

    cache = cache_dir(out_dir)
    stats_dir = cache / "stats" / config_name
    remove_tree(stats_dir)
    builder = WarpIR(config_name=config_name, cache_dir=str(cache / "hf"), stats_dir=str(stats_dir),
                     resume_dir=str(cache / "shards"), plan_workers=num_proc, **config)
    # Workers are forked from this process: objects that live for the whole build are moved out of the
    # garbage collector's reach, so its passes in the workers do not copy their pages.
    freeze = num_proc > 1 and gc.get_freeze_count() == 0
    if freeze:
        gc.freeze()
    try:
        # Parquet straight from the builder's writers: no Arrow cache to write, read back and convert
        builder.download_and_prepare(num_proc=num_proc if num_proc > 1 else None, download_mode="force_redownload",
                                     file_format="parquet", max_shard_size=MAX_SHARD_SIZE)
    finally:
        if freeze:
            gc.unfreeze()
    files = {name: builder_files(builder, name) for name in builder.info.splits}
    produced = Produced(config=builder.config, files=files, counts=merge_counts(stats_dir),
                        row_stats=merge_row_stats(stats_dir / ROW_STATS))
    if config_name == "synthetic":
        produced.plan = json.loads((stats_dir / "plan.json").read_text())
        produced.plan_signatures = read_signatures(stats_dir / PLAN_SIGNATURES)
    else:
        produced.real_report = json.loads((stats_dir / "real_report.json").read_text())
    return produced


def builder_files(builder: Any, split: str) -> list[Path]:
    """The Parquet files ``download_and_prepare(file_format="parquet")`` wrote for ``split``, in row order.

    ``datasets`` names them ``<name>-<split>.parquet``, or ``<name>-<split>-SSSSS-of-NNNNN.parquet``
    when the split has several shards (one per worker job, more past ``max_shard_size``).

    Raises:
        FileNotFoundError: A file the split's info announces is missing.
    """
    base = Path(builder.cache_dir) / f"{builder.dataset_name}-{split}"
    count = len(builder.info.splits[split].shard_lengths or [])
    paths = [Path(f"{base}-{i:05d}-of-{count:05d}.parquet") for i in range(count)] if count > 1 else \
        [Path(f"{base}.parquet")]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"the builder did not write {', '.join(missing)}")
    return paths


def build(out_dir: Path, config_name: str = "synthetic", num_proc: int = 1, keep_cache: bool = False,
          command: str | None = None, engine: str = "local", address: str | None = None, overwrite: bool = False,
          views: ViewOptions | None = None, tokenizer: str | None = None, **config: Any) -> BuildResult:
    """Build one configuration into ``out_dir`` in the Hub layout and (re)render the card.

    ``synthetic`` goes to ``data/*.parquet``, ``real`` to ``real/*.parquet``; building one
    keeps the other, and the card describes every configuration present. The folder is locked
    for the whole build, the configuration is checked before anything is written, and the new
    files replace the previous build's all at once (see :mod:`warp_ir.outdir`).

    Args:
        out_dir: Output folder: missing, empty, or made by an earlier ``warp-ir build``.
        config_name: ``synthetic`` or ``real``.
        num_proc: Worker processes (``datasets``' ``num_proc``; local engine).
        keep_cache: Keep the builder's cache (and finished shards) under ``out_dir/.warp-ir-cache``.
        command: The command line to print in the card (default: the canonical rebuild command).
        engine: ``local`` (the ``datasets`` builder) or ``ray`` (the same shards as Ray tasks).
        address: Ray cluster address (``ray`` engine; default: start a local Ray instance).
        overwrite: Build into a folder that holds other files too (only ``README.md``,
            ``build_info.json`` and same-named data files are replaced; nothing else is touched).
        views: Write the chat views of the rows too (:mod:`warp_ir.views`; synthetic configuration).
        tokenizer: Count the code columns' tokens with this tokenizer for the card (a Hub name or a
            local ``tokenizer.json``; :mod:`warp_ir.tokens`), and the views' rows.
        **config: :class:`warp_ir_dataset.WarpIRConfig` fields.

    Raises:
        ValueError: Invalid configuration (unknown family, bad ratios, ...), or an output folder
            that cannot be used (:class:`warp_ir.outdir.OutputError`).
        warp_ir.lock.FolderLocked: Another build is writing into ``out_dir``.
    """
    if config_name not in CONFIG_PREFIX:
        raise ValueError(f"unknown config {config_name!r} (known: {', '.join(CONFIG_PREFIX)})")
    if engine not in ("local", "ray"):
        raise ValueError(f"unknown engine {engine!r} (known: local, ray)")
    if address is not None and engine != "ray":
        raise ValueError("--address names a Ray cluster: it needs --engine ray")
    if engine == "ray" and config_name != "synthetic":
        raise ValueError("the real configuration mines the packages installed here: build it with --engine local")
    from warp_ir_dataset import WarpIRConfig  # noqa: PLC0415 - keeps `warp-ir --help` fast

    WarpIRConfig(name=config_name, **config)  # every setting checked before anything is written
    if views is not None and config_name != "synthetic":
        raise ValueError("chat views are written for the synthetic configuration")
    if views is not None and views.tokenizer != tokenizer:
        raise ValueError("the views' tokenizer must be the build's --tokenizer")
    tok = load_tokenizer(tokenizer) if tokenizer else None
    start = time.perf_counter()
    check_output(out_dir, config_name, overwrite)
    make_output(out_dir)
    with FolderLock(out_dir):
        recover(out_dir)
        check_output(out_dir, config_name, overwrite)  # again, now that nobody else can change it
        staged = staging_dir(out_dir)
        remove_tree(staged)
        if engine == "ray":
            from warp_ir.ray_engine import run_ray  # noqa: PLC0415 - ray is an optional extra

            produced = run_ray(address, **config)
        else:
            produced = run_local(out_dir, config_name, num_proc, **config)
        prefix = CONFIG_PREFIX[config_name]
        placed = place_parquet_files(produced.files, staged, prefix) if produced.files is not None else \
            write_parquet_splits(produced.splits, staged, prefix)
        info = build_record(produced, command or rebuild_command(produced.config) + view_options(views, tokenizer))
        info["files"] = sorted(p.relative_to(staged).as_posix() for paths in placed.values() for p in paths)
        if placed:  # near-twins among the rows, for the card (the same values `warp-ir stats --diversity` gives)
            info["diversity"] = diversity(staged, config_name, use_datasketch=False, known=produced.plan_signatures)
        if tok is not None:
            info["tokens"] = token_lengths(staged, tok, tokenizer_name(tokenizer), config_name)
        if views is not None:
            written, info["views"] = write_chat_views(staged, staged, views, tok)
            info["files"] = sorted(info["files"] + written)
        all_info = read_build_info(out_dir) or {}  # what a foreign folder (--overwrite) holds is not kept
        all_info[config_name] = info
        if produced.row_stats is not None:
            stats = produced.row_stats.summary(config_name, builtin_name_set(), info, list(placed), builtin_groups())
        else:
            write_json_atomic(staged / BUILD_INFO, all_info)  # compute_stats reads it
            stats = compute_stats(staged, config_name)
        info["figures"] = write_figures(stats, staged, info.get("diversity"))
        info["files"] = sorted(info["files"] + list(info["figures"].values()))
        write_json_atomic(staged / BUILD_INFO, all_info)
        # `info` as build_info.json holds it (sorted keys), exactly what compute_stats would read back
        stats["build"] = build_info(staged)[config_name]
        write_card(staged, {name: staged if name == config_name else out_dir for name in CONFIG_PREFIX},
                   {config_name: stats})
        commit(out_dir, config_name, overwrite)
        if not keep_cache:
            remove_tree(cache_dir(out_dir))
    return BuildResult(out_dir=out_dir, rows=stats["rows"], rejected=info["rejected"],
                       seconds=time.perf_counter() - start, stats=stats)


def add_views(folder: Path, views: ViewOptions) -> dict[str, Any]:
    """Write (or rewrite) the chat views of the synthetic build in ``folder``, and its card.

    With a tokenizer, the chats' token counts and the card's token percentiles are (re)computed too.
    Only the previous views (``chat/``), the card and ``build_info.json`` are replaced, at once
    (:func:`warp_ir.outdir.commit`); the rows are read, not touched.

    Returns:
        The views report, as ``build_info.json`` now holds it.

    Raises:
        OutputError: ``folder`` holds no synthetic warp-ir build.
        warp_ir.tokens.TokenizerError: The tokenizer cannot be loaded.
        warp_ir.lock.FolderLocked: A build is writing into ``folder``.
    """
    tok = load_tokenizer(views.tokenizer) if views.tokenizer else None
    if not folder.is_dir():
        raise OutputError(f"{folder} is not a folder")
    with FolderLock(folder, "writing chat views"):
        recover(folder)
        info = read_build_info(folder)
        if not info or "synthetic" not in info or not split_files(folder, CONFIG_PREFIX["synthetic"]):
            raise OutputError(f"{folder} holds no synthetic warp-ir build (run warp-ir build --out {folder} first)")
        check_output(folder, "synthetic", overwrite=False)  # a Hub-named file it did not write would join a view
        staged = staging_dir(folder)
        remove_tree(staged)
        written, report = write_chat_views(folder, staged, views, tok)
        entry = info["synthetic"]
        entry["files"] = sorted([f for f in entry.get("files", []) if not f.startswith(VIEWS_DIR + "/")] + written)
        entry["views"] = report
        entry["command"] = entry.get("command", "").split(" --views ")[0] + view_options(views, views.tokenizer)
        if tok is not None:
            entry["tokens"] = token_lengths(folder, tok, tokenizer_name(views.tokenizer))
        write_json_atomic(staged / BUILD_INFO, info)
        stats = {name: compute_stats(folder, name) for name in CONFIG_PREFIX
                 if split_files(folder, CONFIG_PREFIX[name])}
        for name, st in stats.items():
            st["build"] = info.get(name, {})
        write_card(staged, {name: folder for name in CONFIG_PREFIX}, stats)
        commit(folder, "synthetic", overwrite=False, only=VIEWS_DIR + "/")
    return report


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


def write_card(dest: Path, folders: dict[str, Path], known: dict[str, dict[str, Any]] | None = None) -> None:
    """Render ``dest/README.md`` from the statistics of every configuration present.

    Args:
        dest: Where the card goes (a build's staging folder).
        folders: Config name -> the folder holding its files (the staging folder for the
            configuration being built, the output folder for the others).
        known: Statistics already computed, by config name (the others are computed here).
    """
    known = known or {}
    stats = {name: known.get(name) or compute_stats(folders[name], name)
             for name in CONFIG_PREFIX if split_files(folders[name], CONFIG_PREFIX[name])}
    overlap = real_in_synthetic(folders["synthetic"], folders["real"])
    (dest / CARD).write_text(render_card(stats, overlap), encoding="utf-8")
