"""Mine the kernels of real, permissively licensed Warp code shipped in installed packages.

Sources are the installed ``warp-lang`` package (its examples and its library code:
``warp.fem``, ``warp.sparse``, ``warp.optim``, ``warp.render``, ``warp.utils``,
``warp.geometry``, ...; never ``warp.tests``) and, when importable, ``mujoco_warp``.
Every module is imported (examples without a ``__main__`` guard are executed
definitions-only, so that nothing runs), then every kernel that a mined module
defined -- at module level, in a class body or through an import-time factory --
is taken from the Warp modules the imports created, its code is generated for each
target, cut per kernel and paired with where it came from (:class:`Provenance`).

Generic kernels (``typing.Any`` arguments) give one record per overload that exists;
a generic kernel without overloads is counted, not failed. Records whose normalised
Python source (and argument types) repeat an earlier record are dropped and counted.

Public API: :func:`mine_real`.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import json
import logging
import sys
import time
import types
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import warp as wp

from extraction import _warp
from extraction.extract import extract_module
from extraction.record import TARGETS, KernelRecord
from generator.normalize import normalized_hash
from generator.pipeline import reason_of
from generator.real_sources import (  # noqa: F401 - re-exported for users of generator.real
    PACKAGES,
    PackageSpec,
    dist_license,
    dist_version,
    enumerate_modules,
    file_license,
    import_module,
    is_permissive,
    package_root,
    runs_at_import,
    short_reason,
)

logger = logging.getLogger(__name__)

FAMILY = "real"


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where one mined kernel comes from.

    Attributes:
        package: Distribution name, e.g. ``"warp-lang"``.
        package_version: Its installed version.
        module: Python module that defines the kernel, e.g. ``"warp.examples.core.example_sph"``
            (Warp's library kernels are defined in its internal package, :data:`extraction._warp.INTERNAL_PACKAGE`).
        warp_module: Warp module the kernel is built in (its public name, e.g. ``"warp.sparse"``).
        path: Source file relative to the package root (the directory holding the import package),
            e.g. ``"warp/examples/core/example_sph.py"``.
        first_line: First line of the kernel's definition (its first decorator), 1-based.
        last_line: Last line of the kernel's body, 1-based, inclusive.
        qualname: The kernel function's ``__qualname__`` (``Class.kernel`` for class-body kernels).
        license: SPDX license id of the file (its ``SPDX-License-Identifier`` line, else the package's).
    """

    package: str
    package_version: str
    module: str
    warp_module: str
    path: str
    first_line: int
    last_line: int
    qualname: str
    license: str


@dataclass(slots=True)
class PackageReport:
    """Counts for one package; ``to_json`` gives the plain form returned by :func:`mine_real`."""

    package: str
    version: str | None = None
    status: str = "mined"  # or "not installed"
    modules_found: int = 0
    modules_scanned: int = 0  # imported (fully or definitions-only)
    modules_definitions_only: list[str] = field(default_factory=list)
    modules_failed: dict[str, str] = field(default_factory=dict)  # module -> reason
    modules_with_kernels: int = 0
    kernels_found: int = 0  # kernel objects (a generic kernel counts once)
    generic: int = 0
    generic_no_overload: int = 0
    generic_no_overload_kernels: list[str] = field(default_factory=list)
    overloads: int = 0
    to_extract: int = 0  # non-generic kernels + overloads of generic kernels
    non_permissive: int = 0
    extracted: int = 0
    launch_block_dim: int = 0  # extracted only with the block_dim their module launches them with
    failed: Counter = field(default_factory=Counter)  # reason -> count
    failed_kernels: dict[str, str] = field(default_factory=dict)  # module:qualname[args] -> reason
    duplicates: int = 0
    records: int = 0
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """Plain JSON-serialisable form."""
        n_failed = sum(self.failed.values())
        return {
            "package": self.package, "version": self.version, "status": self.status,
            "modules_found": self.modules_found, "modules_scanned": self.modules_scanned,
            "modules_definitions_only": list(self.modules_definitions_only),
            "modules_failed_count": len(self.modules_failed),
            "modules_failed": dict(sorted(self.modules_failed.items())),
            "import_failure_reasons": dict(Counter(short_reason(r) for r in self.modules_failed.values())),
            "modules_with_kernels": self.modules_with_kernels,
            "kernels_found": self.kernels_found, "generic": self.generic,
            "generic_no_overload": self.generic_no_overload,
            "generic_no_overload_kernels": list(self.generic_no_overload_kernels), "overloads": self.overloads,
            "to_extract": self.to_extract, "non_permissive": self.non_permissive,
            "extracted": self.extracted, "extracted_with_launch_block_dim": self.launch_block_dim,
            "failed_count": n_failed, "failed": dict(self.failed),
            "failed_kernels": dict(sorted(self.failed_kernels.items())),
            "extracted_fraction": (self.extracted / (self.to_extract - self.non_permissive))
            if self.to_extract - self.non_permissive else None,
            "duplicates": self.duplicates, "records": self.records, "seconds": round(self.seconds, 2),
        }


def kernel_provenance(kernel: Any, spec: PackageSpec, version: str, root: Path, default_license: str) -> Provenance:
    """Provenance of one kernel (its defining function's file and line span)."""
    func = _warp.kernel_python_function(kernel)
    lines, start = inspect.getsourcelines(func)
    file = Path(inspect.getsourcefile(func) or "").resolve()
    return Provenance(
        package=spec.dist,
        package_version=version,
        module=func.__module__,
        warp_module=_warp.warp_module_name(kernel),
        path=file.relative_to(root).as_posix(),
        first_line=start,
        last_line=start + len(lines) - 1,
        qualname=func.__qualname__,
        license=file_license(file) or default_license,
    )


# --- mining ------------------------------------------------------------------------------------------

def _arg_signature(rec: KernelRecord) -> str:
    return ",".join(f"{a['name']}:{a['type']}" for a in rec.arguments)


def _kernel_label(kernel: Any) -> str:
    func = _warp.kernel_python_function(kernel)
    return f"{func.__module__}:{func.__qualname__}"


def _extract_group(kernels: list[Any], module_name: str, targets: Sequence[str]) -> list[KernelRecord]:
    """Extract a group of kernels of one Python module built in one Warp module."""
    shim = types.ModuleType(module_name)
    for i, k in enumerate(kernels):
        setattr(shim, f"_kernel_{i}", k)
    return extract_module(shim, targets)


def _collect_kernels(spec: PackageSpec, mined_modules: set[str]) -> list[Any]:
    """Every kernel object defined by a mined module, from the Warp modules the imports created, deduplicated."""
    seen: set[int] = set()
    found: list[Any] = []
    for _, wmod in _warp.warp_modules():
        for k in _warp.module_kernels(wmod):
            func = _warp.kernel_python_function(k)
            if id(k) in seen or getattr(func, "__module__", None) not in mined_modules:
                continue
            seen.add(id(k))
            found.append(k)
    # Module-level kernels shadowed in their Warp module by a later kernel of the same key are not built by
    # Warp's codegen; they are not collected (Warp would never generate them either).

    def order(k: Any) -> tuple:
        func = _warp.kernel_python_function(k)
        try:
            line = inspect.getsourcelines(func)[1]
        except (OSError, TypeError):
            line = 0
        return func.__module__, line, func.__qualname__, _warp.warp_module_name(k)

    return sorted(found, key=order)


def mine_package(
    spec: PackageSpec,
    targets: Sequence[str] = TARGETS,
    modules: Sequence[str] | None = None,
) -> tuple[list[tuple[KernelRecord, Provenance]], PackageReport]:
    """Mine one package: import its modules, extract every kernel, attach provenance.

    Args:
        spec: The package and which of its modules to mine.
        targets: Code generation targets.
        modules: Only mine modules whose name is one of these or starts with one plus ``"."``.

    Returns:
        ``(record, provenance)`` pairs (duplicates not yet removed) and the package's counts.
    """
    t0 = time.perf_counter()
    report = PackageReport(package=spec.dist)
    root = package_root(spec)
    if root is None:
        report.status = "not installed"
        return [], report
    report.version = version = dist_version(spec) or "unknown"
    default_license = dist_license(spec)
    _warp.init_quiet()

    found = enumerate_modules(spec, modules)
    report.modules_found = len(found)
    mined: set[str] = set()
    for name, path in found:
        try:
            _, defs_only = import_module(name, path, spec)
        except BaseException as exc:  # noqa: BLE001 - an example needing a missing package is counted, not fatal
            if isinstance(exc, KeyboardInterrupt):
                raise
            report.modules_failed[name] = reason_of(exc)
            continue
        report.modules_scanned += 1
        mined.add(name)
        if defs_only:
            report.modules_definitions_only.append(name)

    kernels = _collect_kernels(spec, mined)
    report.kernels_found = len(kernels)
    report.modules_with_kernels = len({_warp.kernel_python_function(k).__module__ for k in kernels})

    # Expand generic kernels into their overloads; group by (Python module, Warp module) for codegen.
    groups: dict[tuple[str, str], list[Any]] = {}
    provenance: dict[int, Provenance] = {}
    for k in kernels:
        try:
            prov = kernel_provenance(k, spec, version, root, default_license)
        except Exception as exc:  # noqa: BLE001 - no source: cannot be a record
            report.failed[f"no source: {reason_of(exc)}"] += 1
            report.failed_kernels[_kernel_label(k)] = reason_of(exc)
            continue
        if _warp.is_generic_kernel(k):
            report.generic += 1
            overloads = _warp.kernel_overloads(k)
            if not overloads:
                report.generic_no_overload += 1
                report.generic_no_overload_kernels.append(_kernel_label(k))
                continue
            report.overloads += len(overloads)
            members = overloads
        else:
            members = [k]
        report.to_extract += len(members)
        if not is_permissive(prov.license):
            report.non_permissive += len(members)
            continue
        provenance[id(k)] = prov
        groups.setdefault((prov.module, prov.warp_module), []).append(k)

    out: list[tuple[KernelRecord, Provenance]] = []
    for (module_name, _), group in sorted(groups.items(), key=lambda item: item[0]):
        for kernel, recs in _extract_isolated(group, module_name, targets, report, root):
            prov = provenance[id(kernel)]
            for rec in recs:
                _finish_record(rec, spec, root)
                out.append((rec, prov))
                report.extracted += 1
    report.seconds = time.perf_counter() - t0
    return out, report


def _extract_isolated(group: list[Any], module_name: str, targets: Sequence[str],
                      report: PackageReport, root: Path) -> list[tuple[Any, list[KernelRecord]]]:
    """Extract a group at once; when that fails, kernel by kernel so one bad kernel costs only itself.

    Returns ``(kernel, records)`` in group order (a generic kernel gives one record per overload).
    """
    expected = [len(_warp.kernel_overloads(k)) if _warp.is_generic_kernel(k) else 1 for k in group]
    try:
        recs = _extract_group(group, module_name, targets)
    except Exception as exc:  # noqa: BLE001
        logger.info("group %s failed (%s); retrying kernel by kernel", module_name, reason_of(exc))
    else:
        if len(recs) == sum(expected):
            return _split_by_kernel(group, expected, recs)
    out = []
    for k, n in zip(group, expected):
        try:
            recs = _extract_group([k], module_name, targets)
        except Exception as exc:  # noqa: BLE001 - Warp rejecting real code is counted with its reason
            recs = _extract_with_launch_block_dim(k, module_name, targets)
            if recs is None:
                reason = _relative_paths(reason_of(exc), root)
                report.failed[reason] += n
                report.failed_kernels[_kernel_label(k)] = reason
                continue
            report.launch_block_dim += n
        out.append((k, recs))
    return out


def launch_block_dims(kernel: Any) -> list[int]:
    """The ``block_dim`` values the kernel's own module launches it with (``wp.launch[_tiled](k, ..., block_dim=N)``).

    ``N`` may be a literal or a module-level name. Tile kernels can need it: Warp generates
    a module for the ``block_dim`` of the launch, and some tile builtins reject the default (256).
    """
    func = _warp.kernel_python_function(kernel)
    py_module = sys.modules.get(func.__module__)
    try:
        tree = ast.parse(inspect.getsource(py_module))
    except (OSError, TypeError, SyntaxError):
        return []
    dims: list[int] = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("launch", "launch_tiled")):
            continue
        target = node.args[0] if node.args else next((kw.value for kw in node.keywords if kw.arg == "kernel"), None)
        if not (isinstance(target, ast.Name) and target.id == func.__name__):
            continue
        for kw in node.keywords:
            if kw.arg != "block_dim":
                continue
            if isinstance(kw.value, ast.Constant):
                value = kw.value.value
            elif isinstance(kw.value, ast.Name):
                value = getattr(py_module, kw.value.id, None)
            else:
                continue
            if isinstance(value, int) and not isinstance(value, bool) and value > 0 and value not in dims:
                dims.append(value)
    return dims


def _extract_with_launch_block_dim(kernel: Any, module_name: str, targets: Sequence[str]) -> list[KernelRecord] | None:
    """Retry a kernel with each ``block_dim`` it is launched with in its own module; ``None`` if none works."""
    warp_module = _warp.warp_module_name(kernel)
    for block_dim in launch_block_dims(kernel):
        saved = dict(wp.get_module_options(warp_module))
        try:
            wp.set_module_options({"block_dim": block_dim}, warp_module)
            recs = _extract_group([kernel], module_name, targets)
        except Exception:  # noqa: BLE001 - the first failure is the one reported
            continue
        finally:
            wp.set_module_options({"block_dim": saved.get("block_dim")}, warp_module)
        for rec in recs:
            rec.params = json.dumps({"block_dim": block_dim})
        return recs
    return None


def _split_by_kernel(group: list[Any], expected: list[int], recs: list[KernelRecord]) -> list[tuple[Any, list]]:
    # extract_module orders records: non-generic kernels first (group order), then overloads per generic kernel.
    plain = [k for k in group if not _warp.is_generic_kernel(k)]
    generic = [(k, n) for k, n in zip(group, expected) if _warp.is_generic_kernel(k)]
    by_kernel: dict[int, list[KernelRecord]] = {id(k): [r] for k, r in zip(plain, recs)}
    i = len(plain)
    for k, n in generic:
        by_kernel[id(k)] = recs[i : i + n]
        i += n
    return [(k, by_kernel[id(k)]) for k in group]


_CODE_FIELDS = ("cpp_forward", "cpp_backward", "cuda_forward", "cuda_backward")


def _relative_paths(text: str, root: Path) -> str:
    """Warp writes each definition's absolute source path into the generated code (``// /.../file.py:12``)
    and into its error messages; make them relative to the package root, so output is the same on every machine."""
    return text.replace(f"{root.as_posix()}/", "")


def _finish_record(rec: KernelRecord, spec: PackageSpec, root: Path) -> None:
    for name in _CODE_FIELDS:
        value = getattr(rec, name)
        if value:
            setattr(rec, name, _relative_paths(value, root))
    rec.generated = {t: _relative_paths(src, root) for t, src in rec.generated.items()}
    rec.family = FAMILY
    rec.template = spec.dist
    rec.id = hashlib.sha256(f"{rec.python_source}\0{_arg_signature(rec)}".encode()).hexdigest()[:16]


def dedupe(pairs: list[tuple[KernelRecord, Provenance]], keep_overloads: bool = True,
           seen: set[str] | None = None) -> tuple[list[tuple[KernelRecord, Provenance]], int]:
    """Drop exact and near duplicates (same :func:`normalized_hash` of the Python source), keeping the first.

    With ``keep_overloads`` the argument types are part of the key, so the overloads of one
    generic kernel (same source, different concrete types and generated code) all stay.
    ``seen`` (updated in place) carries keys over from earlier calls, e.g. across packages.
    """
    seen = set() if seen is None else seen
    kept = []
    for rec, prov in pairs:
        key = normalized_hash(rec.python_source)
        if keep_overloads:
            key += "|" + ",".join(a["type"] for a in rec.arguments)
        if key in seen:
            continue
        seen.add(key)
        kept.append((rec, prov))
    return kept, len(pairs) - len(kept)


def mine_real(
    packages: Sequence[str] = ("warp-lang", "mujoco-warp"),
    targets: Sequence[str] = TARGETS,
    modules: Sequence[str] | None = None,
    keep_overloads: bool = True,
) -> tuple[list[tuple[KernelRecord, Provenance]], dict[str, Any]]:
    """Mine every kernel of the real Warp code in ``packages``.

    Args:
        packages: Distribution names (keys of :data:`PACKAGES`); one that is not installed is
            reported as such and skipped.
        targets: Code generation targets (``"cpu"``, ``"cuda"``).
        modules: Only mine modules named by (or under) these prefixes, e.g.
            ``["warp.examples.core.example_sph"]`` (for fast tests).
        keep_overloads: Keep every overload of a generic kernel (see :func:`dedupe`).

    Returns:
        ``(record, provenance)`` pairs in a stable order (package, module, line, overload), after
        duplicate removal, and a report: one entry per package under ``"packages"`` plus ``"totals"``.
    """
    out: list[tuple[KernelRecord, Provenance]] = []
    reports: dict[str, Any] = {}
    seen: set[str] = set()
    for dist in packages:
        pairs, rep = mine_package(PACKAGES[dist], targets, modules)
        kept, rep.duplicates = dedupe(pairs, keep_overloads, seen)  # duplicates across packages count too
        rep.records = len(kept)
        out += kept
        reports[dist] = rep.to_json()
    totals = {key: sum(r[key] for r in reports.values()) for key in (
        "modules_found", "modules_scanned", "modules_failed_count", "kernels_found", "generic",
        "generic_no_overload", "overloads", "to_extract", "non_permissive", "extracted", "failed_count",
        "duplicates", "records")}
    attempted = totals["to_extract"] - totals["non_permissive"]
    totals["extracted_fraction"] = totals["extracted"] / attempted if attempted else None
    return out, {"packages": reports, "totals": totals, "targets": list(targets),
                 "warp_version": _warp.warp_version()}


__all__ = ["PACKAGES", "PackageReport", "PackageSpec", "Provenance", "dedupe", "enumerate_modules", "mine_package",
           "mine_real"]
