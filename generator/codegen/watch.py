"""The compilation's progress, seen from the process that waits on it.

The shards are compiled in the ``datasets`` builder's worker processes; each one that finishes leaves its
count file, ``<split>-<shard>.json``, in the build's statistics folder (:func:`generator.codegen.shard.run_shards`),
after ``plan.json`` with the number of programs planned. :func:`watch_shards` reads them as they appear, in a
thread of the waiting process, and counts programs compiled of those planned (:mod:`common.progress`): nothing
crosses a process boundary, and nothing is written.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from common.progress import Progress

logger = logging.getLogger(__name__)

POLL_S = 0.5  # seconds between looks at the statistics folder


class _Watcher:
    """Counts the programs of the shards whose count files have appeared (see :func:`watch_shards`)."""

    def __init__(self, stats_dir: Path) -> None:
        self.stats_dir = stats_dir
        self.seen: set[str] = set()
        self.rows = self.rejected = 0
        self.bar: Progress | None = None

    def look(self) -> None:
        """Count the count files that appeared since the last look (once the plan is known)."""
        if self.bar is None:
            plan = self.stats_dir / "plan.json"
            if not plan.is_file():
                return
            kept = json.loads(plan.read_text())["kept"]
            self.bar = Progress(kept, "compiling", "program", done="compiled", heartbeat=True)
        programs = 0
        for path in sorted(self.stats_dir.glob("*-[0-9]*.json")):
            if path.name in self.seen:
                continue
            try:
                counts = json.loads(path.read_text())
            except (OSError, ValueError):  # written through a rename: seen whole next time, if at all
                continue
            self.seen.add(path.name)
            rejected = sum(counts.get("rejected", {}).values())
            self.rows += counts.get("rows", 0)
            self.rejected += rejected
            programs += counts.get("rows", 0) + rejected
        if programs:
            self.bar.update(programs, note=f"{self.rows:,} rows, {self.rejected:,} rejected")


@contextmanager
def watch_shards(stats_dir: Path) -> Iterator[None]:
    """Show how many planned programs have been compiled while the body runs (a build of the local engine).

    ``datasets``' own bars ("Generating train split"), which know no total and draw carriage returns into a log
    file too, are turned off meanwhile.

    Args:
        stats_dir: The build's statistics folder, where ``plan.json`` and the shards' count files appear.
    """
    from datasets.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars  # noqa: PLC0415

    was_disabled = are_progress_bars_disabled()
    disable_progress_bars()
    watcher = _Watcher(stats_dir)
    stop = threading.Event()

    def poll() -> None:
        while not stop.wait(POLL_S):
            try:
                watcher.look()
            except Exception:  # progress is never worth failing a build for
                logger.debug("cannot read the shards' progress in %s", stats_dir, exc_info=True)

    thread = threading.Thread(target=poll, name="watch-shards", daemon=True)
    thread.start()
    failed = True
    try:
        yield
        failed = False
    finally:
        stop.set()
        thread.join()
        if not failed:  # the last count files (and the plan itself, for a build quicker than a look)
            try:
                watcher.look()
            except Exception:
                logger.debug("cannot read the shards' progress in %s", stats_dir, exc_info=True)
        if watcher.bar is not None:
            watcher.bar.close(failed=failed)
        if not was_disabled:
            enable_progress_bars()
