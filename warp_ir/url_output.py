"""Build the synthetic configuration with Ray straight into an fsspec URL (``s3://``, ``gs://``, ``file://``).

The Ray tasks write their files under ``URL/.warp-ir-cache/ray/<build>/`` (each whole or not at all,
see :mod:`warp_ir.ray_engine.store`); once every file is there the driver moves them to their Hub
names, writes the figures, ``README.md`` and, last, ``build_info.json``, then removes the files of the
previous build that this one did not replace. The same rules as for a folder hold: the URL must be
empty or hold a warp-ir build, and a file warp-ir did not write is never replaced (without
``overwrite``) nor removed. Object stores have no lock and no multi-file rename: one build at a time
per URL, and a reader may see the new files before the new ``build_info.json``.
"""

from __future__ import annotations

import logging
import posixpath
import tempfile
import time
from pathlib import Path
from typing import Any

from generator.codegen.rowstats import CONFIG_PREFIX
from warp_ir.build_record import BuildResult, rebuild_command, record_build
from warp_ir.engines import run_engine
from warp_ir.figures import FIGURES_DIR
from warp_ir.outdir import CACHE_DIRNAME, CARD, OutputError, checked_build_info, safe_name
from warp_ir.ray_engine.store import join, open_store, read_json, write_whole
from warp_ir.request import BuildRequest
from warp_ir.stats import BUILD_INFO, HUB_FILE_RE

logger = logging.getLogger(__name__)


def build_to_url(request: BuildRequest) -> BuildResult:
    """Build the synthetic configuration with the Ray engine into the URL ``request.out`` in the Hub layout.

    Every Ray node must be able to write there; ``request.overwrite`` replaces same-named files warp-ir did not
    write (nothing else is touched), ``request.keep_cache`` keeps ``URL/.warp-ir-cache`` (the finished files'
    markers).

    Raises:
        OutputError: The URL holds files warp-ir did not write, or another configuration's build.
    """
    url = str(request.out)
    start = time.perf_counter()
    prefix = CONFIG_PREFIX["synthetic"]
    fs, root = open_store(url)
    old = _check(fs, root, url, prefix, request.overwrite)
    produced = run_engine(request, join(url.rstrip("/"), CACHE_DIRNAME))
    new = {split: [f"{prefix}/{posixpath.basename(p)}" for p in paths] for split, paths in produced.files.items()}
    with tempfile.TemporaryDirectory(prefix="warp-ir-card-") as tmp:
        staged = Path(tmp)
        view = _local_view(fs, staged, produced.files, new)
        record, stats = record_build(staged, produced, request.command or rebuild_command(produced.config),
                                     [rel for rels in new.values() for rel in rels], {},
                                     {"synthetic": view, "real": view} if view else None)
        fs.makedirs(join(root, prefix), exist_ok=True)
        for split, paths in produced.files.items():
            for src, rel in zip(paths, new[split]):
                fs.mv(src, join(root, rel))
        fs.makedirs(join(root, FIGURES_DIR), exist_ok=True)
        for rel in [*record.figures.values(), CARD, BUILD_INFO]:  # build_info.json last: it names the files
            with write_whole(fs, join(root, rel)) as f:
                f.write((staged / rel).read_bytes())
    stale = sorted(old - set(record.files) - {CARD, BUILD_INFO})
    for rel in stale:
        if fs.exists(join(root, rel)):
            fs.rm(join(root, rel))
    if not request.keep_cache and fs.exists(join(root, CACHE_DIRNAME)):
        fs.rm(join(root, CACHE_DIRNAME), recursive=True)
    logger.info("wrote %d file(s) to %s, removed %d of the previous build", len(record.files), url, len(stale))
    return BuildResult(out_dir=url, rows=stats["rows"], rejected=record.rejected,
                       seconds=time.perf_counter() - start, stats=stats, reused=produced.reused)


def _local_view(fs: Any, staged: Path, files: dict[str, list[str]], names: dict[str, list[str]]) -> Path | None:
    """A folder of links to the produced files under their Hub names, when the store is this machine's disk.

    The card reads the split sizes and its example row from it; on an object store (no local files) the card
    goes without them.
    """
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    if protocol not in ("file", "local"):
        return None
    view = staged / "view"
    for split, paths in files.items():
        for src, rel in zip(paths, names[split]):
            (view / rel).parent.mkdir(parents=True, exist_ok=True)
            (view / rel).symlink_to(fs._strip_protocol(src))
    return view


def _check(fs: Any, root: str, url: str, prefix: str, overwrite: bool) -> set[str]:
    """Check that a synthetic build may write into ``root``; the files the previous one wrote there.

    Raises:
        OutputError: See :func:`build_to_url`.
    """
    if fs.isfile(root):
        raise OutputError(f"--out {url} is a file, not a folder")
    entries = [posixpath.basename(p.rstrip("/")) for p in fs.ls(root, detail=False)] if fs.isdir(root) else []
    if not set(entries) - {CACHE_DIRNAME}:
        return set()
    info = checked_build_info(read_json(fs, join(root, BUILD_INFO)))
    if info is None:
        if overwrite:
            return set()
        raise OutputError(f"{url} is not empty and not a warp-ir build (it holds {', '.join(sorted(entries)[:3])}"
                          f"{', ...' if len(entries) > 3 else ''}): choose a new or empty location, or pass "
                          f"--overwrite to replace README.md, {BUILD_INFO} and {prefix}/ files there")
    others = sorted(set(info) - {"synthetic"})
    if others:
        raise OutputError(f"{url} holds the {others[0]} configuration: a URL output holds the synthetic one only "
                          "(build both into a folder, then upload it)")
    files = info.get("synthetic", {}).get("files")
    owned = {p for p in files if isinstance(p, str) and safe_name(p)} if isinstance(files, list) else set()
    present = sorted(f"{prefix}/{posixpath.basename(p)}" for p in fs.glob(join(root, prefix, "*.parquet")))
    foreign = [rel for rel in present if HUB_FILE_RE.match(posixpath.basename(rel)) and rel not in owned]
    if foreign and not overwrite:
        raise OutputError(f"{url.rstrip('/')}/{foreign[0]} was not written by the warp-ir build recorded in "
                          f"{BUILD_INFO}: move it away, or pass --overwrite to replace it")
    return owned
