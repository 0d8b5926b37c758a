"""``warp-ir views``: write (or rewrite) the chat views of a built folder, and its card, beside its rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from common.atomic import write_json_atomic
from generator.codegen.rowstats import CONFIG_PREFIX
from warp_ir.build_record import recorded_stats, view_options
from warp_ir.card import write_card
from warp_ir.lock import FolderLock
from warp_ir.outdir import (
    VIEWS_DIR,
    OutputError,
    check_output,
    commit,
    make_cache,
    read_build_info,
    recover,
    staging_dir,
)
from warp_ir.stats import BUILD_INFO, compute_stats, split_files
from warp_ir.tokens import load_tokenizer, token_lengths, tokenizer_name
from warp_ir.views import ViewOptions, write_chat_views
from warp_ir.writer import remove_tree


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
            entry["tokens"] = token_lengths(folder, tok, tokenizer_name(views.tokenizer or ""))
        write_json_atomic(staged / BUILD_INFO, info)
        stats = recorded_stats(info, built="")  # the statistics as the records hold them
        for name in CONFIG_PREFIX:  # or, for a record older than that, computed from the rows
            if name not in stats and split_files(folder, CONFIG_PREFIX[name]):
                stats[name] = {**compute_stats(folder, name), "build": info.get(name, {})}
        write_card(staged, stats, {name: folder for name in CONFIG_PREFIX})
        commit(folder, "synthetic", overwrite=False, only=VIEWS_DIR + "/")
    return report
