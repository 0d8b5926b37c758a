"""Mine the kernels of real, permissively licensed Warp code shipped in installed packages.

Sources are the installed ``warp-lang`` package (its examples and its library code:
``warp.fem``, ``warp.sparse``, ``warp.optim``, ``warp.render``, ``warp.utils``,
``warp.geometry``, ...; never ``warp.tests``) and any other installed distribution
(:mod:`generator.real.packages`; the build mines each in a child process of its own,
:mod:`generator.real.jobs`). Every module is imported (examples without a ``__main__`` guard are executed
definitions-only, so that nothing runs), the package's own examples and benchmarks run with kernel launches
switched off (:mod:`generator.real.exercise`), then every kernel that a mined module
defined -- at module level, in a class body, or through a factory called at import or by a script --
is taken from the Warp modules the imports and scripts created, its code is generated for each
target, cut per kernel and paired with where it came from (:class:`Provenance`).

Backward code is generated wherever Warp can make it, also for kernels whose package switches it
off (the row records that in ``source.backward_as_shipped``, and its text loses the decorator option
that said so: :mod:`generator.real.backward`); a kernel Warp cannot differentiate keeps its forward
code alone, counted by why.

Generic kernels (``typing.Any`` arguments) give one record per overload that exists;
a generic kernel without overloads is counted, not failed. Records whose normalised
Python source (and argument types) repeat an earlier record are dropped and counted.

Public API: :func:`mine_real`.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from extraction import _warp
from extraction.record import GENERATED_COLUMNS, TARGETS, KernelRecord
from extraction.warp_objects import (
    is_generic_kernel,
    kernel_overloads,
    kernel_python_function,
    module_kernels,
    warp_module_name,
)
from generator.codegen.pipeline import reason_of
from generator.planning.shingles import normalized_hash
from generator.real.backward import without_backward_off
from generator.real.exercise import run_scripts, script_modules
from generator.real.groups import (
    arg_signature,
    extract_isolated,
    kernel_label,
    relative_paths,
    shipped_with_backward,
    variant_key,
)
from generator.real.licenses import is_allowed
from generator.real.limits import time_limit
from generator.real.packages import PackageInfo, package_info
from generator.real.program import NotSelfContained
from generator.real.report import PackageReport, Provenance, totals
from generator.real.sources import (
    enumerate_modules,
    file_license,
    import_module,
    package_root,
    package_spec,
)
from generator.real.whole import whole_record

logger = logging.getLogger(__name__)

FAMILY = "real"
# A row whose generated code is longer than this (in any code column) is dropped and counted: a few
# factory-made kernels unroll into megabytes of C++ (nvalchemi-toolkit-ops' octupole PME kernels), far
# beyond any model's context and heavy enough to break the Hub's viewer.
MAX_CODE_CHARS = 1_000_000


def kernel_provenance(kernel: Any, info: PackageInfo, root: Path, instantiated_by: str = "") -> Provenance:
    """Provenance of one kernel (its defining function's file and line span, its package's metadata, the
    factory that made it and the package's script that called that factory, if any)."""
    func = kernel_python_function(kernel)
    lines, start = inspect.getsourcelines(func)
    file = Path(inspect.getsourcefile(func) or "").resolve()
    return Provenance(
        package=info.name,
        package_version=info.version,
        module=func.__module__,
        warp_module=warp_module_name(kernel),
        path=file.relative_to(root).as_posix(),
        first_line=start,
        last_line=start + len(lines) - 1,
        qualname=func.__qualname__,
        license=file_license(file) or info.license or "",
        license_file=info.license_file,
        repository=info.repository,
        backward_as_shipped=shipped_with_backward(kernel),
        factory=factory_of(func.__qualname__),
        instantiated_by=instantiated_by,
    )


def factory_of(qualname: str) -> str:
    """The function that made a kernel defined inside it (``make.<locals>.kernel`` -> ``make``), else ``""``."""
    return qualname.rsplit(".<locals>.", 1)[0] if ".<locals>." in qualname else ""


# --- mining ------------------------------------------------------------------------------------------

def _mined_kernels(mined_modules: set[str]) -> list[Any]:
    """Every kernel object in Warp's registry that a mined module defined, deduplicated, in registry order."""
    seen: set[int] = set()
    found: list[Any] = []
    for _, wmod in _warp.warp_modules():
        for k in module_kernels(wmod):
            func = kernel_python_function(k)
            if id(k) in seen or getattr(func, "__module__", None) not in mined_modules:
                continue
            seen.add(id(k))
            found.append(k)
    return found


def _collect_kernels(mined_modules: set[str]) -> list[Any]:
    """Every kernel object defined by a mined module, from the Warp modules the imports (and the package's
    scripts) created, deduplicated, sorted by where it is defined."""
    found = _mined_kernels(mined_modules)
    # Module-level kernels shadowed in their Warp module by a later kernel of the same key are not built by
    # Warp's codegen; they are not collected (Warp would never generate them either).

    def order(k: Any) -> tuple:
        func = kernel_python_function(k)
        try:
            line = inspect.getsourcelines(func)[1]
        except (OSError, TypeError):
            line = 0
        return func.__module__, line, func.__qualname__, warp_module_name(k)

    return sorted(found, key=order)


def mine_package(
    info: PackageInfo,
    targets: Sequence[str] = TARGETS,
    modules: Sequence[str] | None = None,
    allow_licenses: Sequence[str] = (),
    module_timeout_s: float | None = None,
    run_package_scripts: bool = True,
    skip_scripts: Sequence[str] = (),
    marker: Path | None = None,
) -> tuple[list[tuple[KernelRecord, Provenance]], PackageReport]:
    """Mine one package in this process: import its modules, extract every kernel, attach provenance.

    Importing a module runs its code: the build calls this in a child process of its own
    (:mod:`generator.real.jobs`).

    Args:
        info: The installed distribution (:func:`generator.real.packages.package_info`).
        targets: Code generation targets.
        modules: Only mine modules whose name is one of these or starts with one plus ``"."``.
        allow_licenses: SPDX ids mined besides the permissive ones.
        module_timeout_s: Time limit for importing each module (``None``: none).
        run_package_scripts: Run the package's examples and benchmarks after the imports, so the kernels
            their factory calls make are mined too (:mod:`generator.real.exercise`).
        skip_scripts: Scripts not to run (they stopped an earlier child).
        marker: A file that holds the name of the script running (see :func:`generator.real.exercise.run_scripts`).

    Returns:
        ``(record, provenance)`` pairs (duplicates not yet removed) and the package's counts.
        A package whose license is unknown or not allowed is not imported at all.
    """
    t0 = time.perf_counter()
    spec = package_spec(info)
    report = PackageReport(package=info.name, version=info.version, license=info.license,
                           license_source=info.license_source, repository=info.repository)
    if info.license is None:
        report.status = "skipped: no license information"
        return [], report
    if not is_allowed(info.license, allow_licenses):
        report.status = f"skipped: license {info.license} not allowed (--allow-license)"
        return [], report
    root = package_root(spec)
    if root is None:
        report.status = "skipped: no importable package"
        return [], report
    _warp.init_quiet()

    found = enumerate_modules(spec, modules)
    report.modules_found = len(found)
    mined: set[str] = set()
    imported: list[tuple[str, Path]] = []
    for name, path in found:
        try:
            with time_limit(module_timeout_s):
                _, defs_only = import_module(name, path, spec)
        except BaseException as exc:  # an example needing a missing package is counted, not fatal
            if isinstance(exc, KeyboardInterrupt):
                raise
            report.modules_failed[name] = reason_of(exc)
            continue
        report.modules_scanned += 1
        mined.add(name)
        if defs_only:
            report.modules_definitions_only.append(name)
        else:
            imported.append((name, path))

    runs = run_scripts(script_modules(spec, imported) if run_package_scripts else [], info.name,
                       lambda: _mined_kernels(mined), skip=skip_scripts, marker=marker)
    report.scripts_run, report.scripts_failed = runs.ran, runs.failed
    kernels = _collect_kernels(mined)
    report.kernels_found = len(kernels)
    report.modules_with_kernels = len({kernel_python_function(k).__module__ for k in kernels})

    # Expand generic kernels into their overloads; group by (Python module, Warp module) for codegen.
    groups: dict[tuple[str, str], list[Any]] = {}
    provenance: dict[int, Provenance] = {}
    variants: set[str] = set()
    for k in kernels:
        try:
            prov = kernel_provenance(k, info, root, runs.made_by.get(id(k), ""))
        except Exception as exc:  # no source: cannot be a record
            report.failed[f"no source: {reason_of(exc)}"] += 1
            report.failed_kernels[kernel_label(k)] = reason_of(exc)
            continue
        if is_generic_kernel(k):
            report.generic += 1
            overloads = kernel_overloads(k)
            if not overloads:
                report.generic_no_overload += 1
                report.generic_no_overload_kernels.append(kernel_label(k))
                continue
            report.overloads += len(overloads)
            members = overloads
        else:
            members = [k]
        report.to_extract += len(members)
        if not prov.license or not is_allowed(prov.license, allow_licenses):
            report.non_permissive += len(members)
            continue
        if not is_generic_kernel(k):
            key = variant_key(k)
            if key in variants:  # another instance of a factory's kernel: the same Python code again
                report.same_source += 1
                continue
            variants.add(key)
        provenance[id(k)] = prov
        groups.setdefault((prov.module, prov.warp_module), []).append(k)

    out: list[tuple[KernelRecord, Provenance]] = []
    own = info.import_names or (spec.import_name,)
    for (module_name, _), group in sorted(groups.items(), key=lambda item: item[0]):
        for kernel, recs in extract_isolated(group, module_name, targets, report, root):
            prov = provenance[id(kernel)]
            overloads = kernel_overloads(kernel) if is_generic_kernel(kernel) else [None] * len(recs)
            for rec, overload in zip(recs, overloads):
                report.extracted += 1
                if max(len(getattr(rec, c) or "") for c in GENERATED_COLUMNS) > MAX_CODE_CHARS:
                    report.too_large += 1
                    report.too_large_kernels.append(f"{kernel_label(kernel)}[{arg_signature(rec)}]")
                    continue
                backward = any(getattr(rec, c) for c in GENERATED_COLUMNS if c.endswith("_backward"))
                _backward_as_shipped(rec, prov, backward, report)
                _whole(rec, kernel, overload, own, root, targets, backward, report)
                _finish_record(rec, info.name, root)
                out.append((rec, prov))
    report.seconds = time.perf_counter() - t0
    return out, report


def _whole(rec: KernelRecord, kernel: Any, overload: Any | None, own: Sequence[str], root: Path,
           targets: Sequence[str], backward: bool, report: PackageReport) -> None:
    """Make ``rec`` a whole problem: its text the kernel's whole program, its code generated from that text.

    A kernel whose program cannot be written keeps the row as mined (its round trip then fails), counted
    by why in ``report.not_whole``.
    """
    try:
        _, defined = whole_record(rec, kernel, overload, own, root, targets, backward)
    except NotSelfContained as exc:
        report.not_whole[relative_paths(str(exc), root)] += 1
        return
    except Exception as exc:  # a case the program writer does not handle: counted, the package goes on
        logger.warning("writing the program of %s failed: %s", kernel_label(kernel), reason_of(exc))
        report.not_whole[f"warp-ir could not write it: {relative_paths(reason_of(exc), root)}"] += 1
        return
    rec.source.definitions = [d.to_json() for d in defined]


def _backward_as_shipped(rec: KernelRecord, prov: Provenance, backward: bool, report: PackageReport) -> None:
    """Count what the row's backward code owes to warp-ir; its text loses the options that switched it off."""
    if not backward:
        report.backward_missing += 1  # why is counted where the fallback happened (report.backward_impossible)
    elif not prov.backward_as_shipped:
        report.backward_added += 1
        rec.python_source = without_backward_off(rec.python_source)


def _finish_record(rec: KernelRecord, package: str, root: Path) -> None:
    for name in GENERATED_COLUMNS:
        value = getattr(rec, name)
        if value:
            setattr(rec, name, relative_paths(value, root))
    rec.generated = {}  # the whole module's code, per record: only native validation reads it (not run on real code)
    rec.family = FAMILY
    rec.template = package
    rec.id = hashlib.sha256(f"{rec.python_source}\0{arg_signature(rec)}".encode()).hexdigest()[:16]


def dedupe_key(python_source: str, arguments: Sequence[dict[str, str]] | None = None) -> str:
    """What two rows share when one repeats the other: the :func:`normalized_hash` of the Python source
    (renaming-level near-duplicates share it), and with ``arguments`` the argument types too."""
    key = normalized_hash(python_source)
    return key if arguments is None else key + "|" + ",".join(a["type"] for a in arguments)


def dedupe(pairs: list[tuple[KernelRecord, Provenance]], keep_overloads: bool = True,
           seen: set[str] | None = None) -> tuple[list[tuple[KernelRecord, Provenance]], int]:
    """Drop exact and near duplicates (same :func:`dedupe_key`), keeping the first.

    With ``keep_overloads`` the argument types are part of the key, so the overloads of one
    generic kernel (same source, different concrete types and generated code) all stay.
    ``seen`` (updated in place) carries keys over from earlier calls, e.g. across packages.
    """
    seen = set() if seen is None else seen
    kept = []
    for rec, prov in pairs:
        key = dedupe_key(rec.python_source, rec.arguments if keep_overloads else None)
        if key in seen:
            continue
        seen.add(key)
        kept.append((rec, prov))
    return kept, len(pairs) - len(kept)


def mine_real(
    packages: Sequence[str] = ("warp-lang",),
    targets: Sequence[str] = TARGETS,
    modules: Sequence[str] | None = None,
    keep_overloads: bool = True,
    allow_licenses: Sequence[str] = (),
) -> tuple[list[tuple[KernelRecord, Provenance]], dict[str, Any]]:
    """Mine every kernel of the real Warp code in ``packages``, in this process, one after the other.

    For tests and interactive use; the build mines each package in a child process
    (:func:`generator.real.jobs.mine_isolated`). The packages' scripts are not run here (one that crashes
    would take this process with it): the build runs them in its children.

    Args:
        packages: Installed distribution names.
        targets: Code generation targets (``"cpu"``, ``"cuda"``).
        modules: Only mine modules named by (or under) these prefixes, e.g.
            ``["warp.examples.core.example_sph"]`` (for fast tests).
        keep_overloads: Keep every overload of a generic kernel (see :func:`dedupe`).
        allow_licenses: SPDX ids mined besides the permissive ones.

    Returns:
        ``(record, provenance)`` pairs in a stable order (package, module, line, overload), after
        duplicate removal, and a report: one entry per package under ``"packages"`` plus ``"totals"``.

    Raises:
        generator.real.packages.PackageError: A package is not installed.
    """
    out: list[tuple[KernelRecord, Provenance]] = []
    reports: dict[str, Any] = {}
    seen: set[str] = set()
    for dist in packages:
        pairs, rep = mine_package(package_info(dist), targets, modules, allow_licenses, run_package_scripts=False)
        kept, rep.duplicates = dedupe(pairs, keep_overloads, seen)  # duplicates across packages count too
        rep.records = len(kept)
        out += kept
        reports[rep.package] = rep.to_json()
    return out, {"packages": reports, "totals": totals(reports), "targets": list(targets),
                 "warp_version": _warp.warp_version()}


__all__ = ["dedupe", "dedupe_key", "mine_package", "mine_real"]
