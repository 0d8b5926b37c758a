"""Run a package's own examples and benchmarks so that the kernels their calls make exist in Warp's registry.

Many kernels are made by factory functions a package calls only when it runs (``make_kernel(dtype)``
inside a solver's ``step``): importing its modules never creates them. The package's own scripts (the
modules under ``examples``/``benchmarks``/``scripts`` that have an ``if __name__ == "__main__"`` guard)
exercise those paths. In the package's mining child, after its modules are imported, each script runs
as ``__main__`` with the package's arguments for a short headless run (:data:`SCRIPT_ARGS`), kernel
launches switched off (:func:`extraction._warp.no_launches`: the Python runs, its factories make kernels,
nothing is compiled or executed), in an empty temporary working folder (removed after), under a time limit
per script and one for all of them, and a cap on the memory one script may allocate (beyond it, an allocation
fails in the script, which stops). A script that fails (no GPU, a missing optional package, no display)
is counted by reason; the kernels it made before it failed are kept. Which kernels a script made is
returned, so their rows can say so (``source.instantiated_by``).

Public API: :func:`script_modules`, :func:`run_scripts`, :class:`ScriptRuns`.
"""

from __future__ import annotations

import gc
import logging
import os
import runpy
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from extraction import _warp
from generator.codegen.pipeline import reason_of
from generator.real.limits import ScriptTimeout, time_limit
from generator.real.sources import PackageSpec, has_main_guard, is_script

resource: ModuleType | None
try:
    import resource
except ImportError:  # not on Linux or macOS: no memory cap
    resource = None

logger = logging.getLogger(__name__)

SCRIPT_TIME_S = 20.0  # one script
SCRIPTS_TIME_S = 240.0  # all of one package's scripts
SCRIPT_MEMORY_BYTES = 3 << 30  # address space one script may add (the child is killed at 8 GiB resident)

# What makes a package's scripts run briefly, on the CPU, without a window. Their argument parsers ignore
# what they do not know (Warp's examples call ``parse_known_args``); a script whose parser does not is
# counted as failed with its exit status.
SCRIPT_ARGS: dict[str, tuple[str, ...]] = {
    "warp-lang": ("--device", "cpu", "--num-frames", "2", "--headless", "--quiet"),
    "newton": ("--viewer", "null", "--num-frames", "2", "--device", "cpu", "--quiet"),
}


@dataclass(slots=True)
class ScriptRuns:
    """What running a package's scripts gave.

    Attributes:
        ran: Scripts that finished (module names, in the order run).
        failed: Script -> why it stopped (its exception's first line, ``exit status N``, the time limit).
        made_by: ``id(kernel)`` -> the script that made it (the kernel objects stay alive in Warp's registry).
        seconds: Time spent running them.
    """

    ran: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    made_by: dict[int, str] = field(default_factory=dict)
    seconds: float = 0.0


def script_modules(spec: PackageSpec, imported: Iterable[tuple[str, Path]]) -> list[tuple[str, Path]]:
    """The imported modules that are the package's scripts with a ``__main__`` guard, sorted by name."""
    return sorted((name, path) for name, path in imported if is_script(name, spec) and has_main_guard(path))


@contextmanager
def _memory_cap(extra_bytes: int) -> Iterator[None]:
    """Allocations beyond ``extra_bytes`` more address space than the process has now fail (``MemoryError``)
    while the block runs, instead of the package's child being killed for its memory (Linux; elsewhere no cap)."""
    if resource is None:
        yield
        return
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        with open("/proc/self/statm") as f:
            now = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        cap = now + extra_bytes if hard == resource.RLIM_INFINITY else min(hard, now + extra_bytes)
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    except (OSError, ValueError):
        yield
        return
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


@contextmanager
def _in_folder(folder: str) -> Iterator[None]:
    previous, argv = os.getcwd(), list(sys.argv)
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(previous)
        sys.argv[:] = argv


def _run_one(path: Path, args: Sequence[str]) -> str | None:
    """Run one script as ``__main__``; ``None`` when it finished, else why it stopped."""
    sys.argv[:] = [str(path), *args]
    try:
        with time_limit(SCRIPT_TIME_S, ScriptTimeout, "running the script"):
            runpy.run_path(str(path), run_name="__main__")
    except SystemExit as exc:
        return None if exc.code in (None, 0) else f"exit status {exc.code}"
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # no GPU, a missing optional package, no display, the time limit, ...
        return reason_of(exc)
    return None


def run_scripts(scripts: Sequence[tuple[str, Path]], package: str, kernels: Callable[[], list[Any]],
                skip: Sequence[str] = (), marker: Path | None = None) -> ScriptRuns:
    """Run ``scripts`` one after the other (see the module docstring); ``kernels()`` lists the kernels so far.

    Args:
        scripts: ``(module name, file)`` of each script (:func:`script_modules`).
        package: The distribution's name (picks its :data:`SCRIPT_ARGS`).
        kernels: Returns the kernel objects that count (those of the package's mined modules).
        skip: Scripts not to run: each stopped an earlier child of this package (counted as failed).
        marker: A file that holds the name of the script running, removed once they are done: when a
            script crashes the process (C code that aborts, memory), the parent knows which one to skip.
    """
    runs = ScriptRuns()
    if not scripts:
        return runs
    args = SCRIPT_ARGS.get(package, ())
    known = {id(k) for k in kernels()}
    t0 = time.perf_counter()
    with (tempfile.TemporaryDirectory(prefix="warp-ir-scripts-") as folder, _in_folder(folder),
          _warp.no_launches()):
        for name, path in scripts:
            if time.perf_counter() - t0 > SCRIPTS_TIME_S:
                runs.failed[name] = f"not run: the package's scripts took {SCRIPTS_TIME_S:g} s"
                continue
            if name in skip:
                runs.failed[name] = "not run: it stopped an earlier mining child (a crash or its memory)"
                continue
            if marker is not None:
                marker.write_text(name, encoding="utf-8")
            with _memory_cap(SCRIPT_MEMORY_BYTES):
                why = _run_one(path, args)
            gc.collect()  # what the script left behind (its arrays) before the next one
            if why is None:
                runs.ran.append(name)
            else:
                runs.failed[name] = why
            for k in kernels():
                if id(k) not in known:
                    known.add(id(k))
                    runs.made_by[id(k)] = name
    if marker is not None:
        marker.unlink(missing_ok=True)
    runs.seconds = time.perf_counter() - t0
    logger.info("%s: %d scripts run, %d failed, %d kernels made, %.1f s", package, len(runs.ran),
                len(runs.failed), len(runs.made_by), runs.seconds)
    return runs
