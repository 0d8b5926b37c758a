"""Drive an engine and lay the result out as a Hub dataset folder (or, with Ray, at a URL)."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from common.atomic import write_json_atomic
from warp_ir.card import render_card
from warp_ir.local_engine import run_local
from warp_ir.lock import FolderLock
from warp_ir.outdir import (
    CARD,
    VIEWS_DIR,
    OutputError,
    cache_dir,
    check_output,
    commit,
    make_cache,
    make_output,
    read_build_info,
    recover,
    staging_dir,
)
from warp_ir.ray_engine.tasks import ROWS_PER_FILE  # Ray itself is imported only when the engine runs
from warp_ir.build_record import BuildResult, build_record, finish_record, rebuild_command, view_options
from warp_ir.stats import BUILD_INFO, CONFIG_PREFIX, compute_stats, diversity, real_in_synthetic, split_files
from warp_ir.tokens import load_tokenizer, token_lengths, tokenizer_name
from warp_ir.url_output import build_to_url, is_url
from warp_ir.views import ViewOptions, write_chat_views
from warp_ir.writer import place_parquet_files, remove_tree

logger = logging.getLogger(__name__)


def build(out_dir: Path | str, config_name: str = "synthetic", num_proc: int = 1, keep_cache: bool = False,
          command: str | None = None, engine: str = "local", address: str | None = None, overwrite: bool = False,
          views: ViewOptions | None = None, tokenizer: str | None = None, rows_per_file: int | None = None,
          max_in_flight: int | None = None, **config: Any) -> BuildResult:
    """Build one configuration into ``out_dir`` in the Hub layout and (re)render the card.

    ``synthetic`` goes to ``data/*.parquet``, ``real`` to ``real/*.parquet``; building one
    keeps the other, and the card describes every configuration present. The folder is locked
    for the whole build, the configuration is checked before anything is written, and the new
    files replace the previous build's all at once (see :mod:`warp_ir.outdir`).

    Args:
        out_dir: Output folder: missing, empty, or made by an earlier ``warp-ir build``; or, with the
            ``ray`` engine, an fsspec URL (``s3://bucket/warp-ir``, ``file:///shared/warp-ir``; see
            :mod:`warp_ir.url_output`).
        config_name: ``synthetic`` or ``real``.
        num_proc: Worker processes (``datasets``' ``num_proc``; local engine).
        keep_cache: Keep the builder's cache (and finished shards) under ``out_dir/.warp-ir-cache``.
        command: The command line to print in the card (default: the canonical rebuild command).
        engine: ``local`` (the ``datasets`` builder) or ``ray`` (Ray tasks writing their own files:
            :mod:`warp_ir.ray_engine`).
        address: Ray cluster address (``ray`` engine; default: start a local Ray instance).
        rows_per_file: Planned programs per Parquet file (``ray`` engine; default
            :data:`warp_ir.ray_engine.ROWS_PER_FILE`).
        max_in_flight: File tasks submitted at once (``ray`` engine; default two per CPU of the cluster).
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
    ray_only = [name for name, value in (("--rows-per-file", rows_per_file), ("--max-in-flight", max_in_flight))
                if value is not None]
    if ray_only and engine != "ray":
        raise ValueError(f"{', '.join(ray_only)}: only for --engine ray")
    for name, value in (("rows_per_file", rows_per_file), ("max_in_flight", max_in_flight)):
        if value is not None and (not isinstance(value, int) or value < 1):
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    ray_options = {"address": address, "rows_per_file": rows_per_file or ROWS_PER_FILE,
                   "max_in_flight": max_in_flight}
    from warp_ir_dataset import WarpIRConfig  # noqa: PLC0415 - keeps `warp-ir --help` fast

    WarpIRConfig(name=config_name, **config)  # every setting checked before anything is written
    if views is not None and config_name != "synthetic":
        raise ValueError("chat views are written for the synthetic configuration")
    if views is not None and views.tokenizer != tokenizer:
        raise ValueError("the views' tokenizer must be the build's --tokenizer")
    if is_url(out_dir):
        if engine != "ray" or views is not None or tokenizer:
            raise ValueError(f"--out {out_dir} is a URL: only --engine ray writes there, and without --views or "
                             "--tokenizer (they read the rows back: build into a folder)")
        return build_to_url(str(out_dir), command=command, overwrite=overwrite, keep_cache=keep_cache,
                            **ray_options, **config)
    out_dir = Path(out_dir)
    tok = load_tokenizer(tokenizer) if tokenizer else None
    start = time.perf_counter()
    check_output(out_dir, config_name, overwrite)
    make_output(out_dir)
    with FolderLock(out_dir):
        make_cache(out_dir)
        recover(out_dir)
        check_output(out_dir, config_name, overwrite)  # again, now that nobody else can change it
        staged = staging_dir(out_dir)
        remove_tree(staged)
        if engine == "ray":
            from warp_ir.ray_engine import run_ray  # noqa: PLC0415 - ray is an optional extra

            produced = run_ray(str(cache_dir(out_dir) / "ray"), CONFIG_PREFIX[config_name], **ray_options, **config)
        else:
            produced = run_local(cache_dir(out_dir), config_name, num_proc, **config)
        placed = place_parquet_files(produced.files, staged, CONFIG_PREFIX[config_name])
        info = build_record(produced, command or rebuild_command(produced.config) + view_options(views, tokenizer))
        info["files"] = sorted(p.relative_to(staged).as_posix() for paths in placed.values() for p in paths)
        if placed:  # near-twins among the rows, for the card (the same values `warp-ir stats --diversity` gives)
            info["diversity"] = produced.diversity or diversity(staged, config_name, use_datasketch=False,
                                                                known=produced.plan_signatures)
        if tok is not None:
            info["tokens"] = token_lengths(staged, tok, tokenizer_name(tokenizer), config_name)
        if views is not None:
            written, info["views"] = write_chat_views(staged, staged, views, tok)
            info["files"] = sorted(info["files"] + written)
        all_info = read_build_info(out_dir) or {}  # what a foreign folder (--overwrite) holds is not kept
        stats = finish_record(staged, config_name, info, all_info, produced, list(placed))
        write_card(staged, {name: staged if name == config_name else out_dir for name in CONFIG_PREFIX},
                   {config_name: stats})
        backup = commit(out_dir, config_name, overwrite)
        if not keep_cache:
            remove_tree(cache_dir(out_dir))
    return BuildResult(out_dir=out_dir, rows=stats["rows"], rejected=info["rejected"],
                       seconds=time.perf_counter() - start, stats=stats, reused=produced.reused, backup=backup)


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
        make_cache(folder)
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
    # the card reads split sizes and an example row: each configuration's files from dest (what this
    # build staged) if it holds them, else from its folder
    searched = list(dict.fromkeys([dest, folders["synthetic"], folders["real"]]))
    (dest / CARD).write_text(render_card(stats, overlap, folders=searched), encoding="utf-8")
