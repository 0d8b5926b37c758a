"""Drive an engine and lay the result out as a Hub dataset folder (or, with Ray, at a URL).

:func:`build` checks every setting once (:class:`warp_ir.request.BuildRequest`), runs the engine, and
records the build and renders its card through :func:`warp_ir.build_record.record_build`, the one
orchestration a folder and a URL (:mod:`warp_ir.url_output`) share.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from generator.codegen.rowstats import CONFIG_PREFIX
from warp_ir.build_record import BuildResult, rebuild_command, record_build, view_options
from warp_ir.engines import run_engine
from warp_ir.lock import FolderLock
from warp_ir.outdir import (
    cache_dir,
    check_output,
    commit,
    make_cache,
    make_output,
    read_build_info,
    recover,
    staging_dir,
)
from warp_ir.request import BuildRequest, is_url
from warp_ir.retrieval import retrieval_baseline
from warp_ir.tokens import load_tokenizer, token_lengths, tokenizer_name
from warp_ir.url_output import build_to_url
from warp_ir.views import write_chat_views
from warp_ir.views_command import add_views
from warp_ir.writer import place_parquet_files, remove_tree

__all__ = ["BuildResult", "add_views", "build", "build_to_folder"]

logger = logging.getLogger(__name__)


def build(out_dir: Path | str, config_name: str = "synthetic", **settings: Any) -> BuildResult:
    """Build one configuration into ``out_dir`` in the Hub layout and (re)render the card.

    ``synthetic`` goes to ``data/*.parquet``, ``real`` to ``real/*.parquet``; building one
    keeps the other, and the card describes every configuration present. The folder is locked
    for the whole build, every setting is checked before anything is written, and the new
    files replace the previous build's all at once (see :mod:`warp_ir.outdir`).

    Args:
        out_dir: Output folder: missing, empty, or made by an earlier ``warp-ir build``; or, with the
            ``ray`` engine, an fsspec URL (``s3://bucket/warp-ir``; see :mod:`warp_ir.url_output`).
        config_name: ``synthetic`` or ``real``.
        **settings: :class:`warp_ir.request.BuildRequest` fields (``engine``, ``num_proc``, ``views``, ...) and
            :class:`generator.config.BuildConfig` fields (``num_samples``, ``seed``, ...).

    Raises:
        common.errors.ConfigError: An invalid setting (unknown family, bad ratios, ...).
        warp_ir.outdir.OutputError: An output folder that cannot be used.
        warp_ir.lock.FolderLocked: Another build is writing into ``out_dir``.
    """
    request = BuildRequest.of(out_dir, config_name, settings)
    if is_url(request.out):
        return build_to_url(request)
    return build_to_folder(request)


def build_to_folder(request: BuildRequest) -> BuildResult:
    """:func:`build` into a local folder: locked, staged, then swapped in at once."""
    out_dir, name = Path(request.out), request.config.name
    tok = load_tokenizer(request.tokenizer) if request.tokenizer else None
    start = time.perf_counter()
    check_output(out_dir, name, request.overwrite)
    make_output(out_dir)
    with FolderLock(out_dir):
        make_cache(out_dir)
        recover(out_dir)
        check_output(out_dir, name, request.overwrite)  # again, now that nobody else can change it
        staged = staging_dir(out_dir)
        remove_tree(staged)
        produced = run_engine(request, cache_dir(out_dir))
        placed = place_parquet_files(produced.files, staged, CONFIG_PREFIX[name])
        data_files = [p.relative_to(staged).as_posix() for paths in placed.values() for p in paths]
        extras: dict[str, Any] = {}
        written: list[str] = []
        if tok is not None:  # the card's extras read the rows back
            extras["tokens"] = token_lengths(staged, tok, tokenizer_name(str(request.tokenizer)), name)
        if request.views is not None:
            written, extras["views"] = write_chat_views(staged, staged, request.views, tok)
        if request.baseline_rows:  # the card's retrieval baseline scores answers made of the rows just written
            extras["baseline"] = retrieval_baseline(staged, name, request.baseline_rows, request.num_proc)
        command = request.command or rebuild_command(produced.config) + view_options(request.views, request.tokenizer)
        previous = read_build_info(out_dir) or {}  # what a foreign folder (--overwrite) holds is not kept
        record, stats = record_build(staged, produced, command, data_files, previous,
                                     {n: staged if n == name else out_dir for n in CONFIG_PREFIX}, extras, written)
        backup = commit(out_dir, name, request.overwrite)
        if not request.keep_cache:
            remove_tree(cache_dir(out_dir))
    return BuildResult(out_dir=out_dir, rows=stats["rows"], rejected=record.rejected,
                       seconds=time.perf_counter() - start, stats=stats, reused=produced.reused, backup=backup)
