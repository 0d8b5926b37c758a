"""What mining reports: where each kernel comes from (:class:`Provenance`), and counts per package."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from generator.real.sources import short_reason


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where one mined kernel comes from.

    Attributes:
        package: Distribution name, e.g. ``"warp-lang"``.
        package_version: Its installed version.
        module: Python module that defines the kernel, e.g. ``"warp.examples.core.example_sph"``
            (Warp's library kernels are defined in its internal package,
            :data:`extraction.warp_objects.INTERNAL_PACKAGE`).
        warp_module: Warp module the kernel is built in (its public name, e.g. ``"warp.sparse"``).
        path: Source file relative to the package root (the directory holding the import package),
            e.g. ``"warp/examples/core/example_sph.py"``.
        first_line: First line of the kernel's definition (its first decorator), 1-based.
        last_line: Last line of the kernel's body, 1-based, inclusive.
        qualname: The kernel function's ``__qualname__`` (``Class.kernel`` for class-body kernels).
        license: SPDX license of the file (its ``SPDX-License-Identifier`` line, else the package's).
        license_file: The license file the distribution ships (``LICENSE``), ``""`` if none.
        repository: The package's source repository URL, ``""`` if its metadata names none.
        backward_as_shipped: The package's own settings generate the kernel's backward code; ``False``
            when it ships with ``enable_backward`` off (warp-ir switches it on wherever Warp can).
        factory: The function that made the kernel, for one defined inside a function (``make_kernel``
            for ``make_kernel.<locals>.kernel``), else ``""``.
        instantiated_by: The package's script (example, benchmark) whose run made the kernel, ``""`` when
            it existed once the package's modules were imported.
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
    license_file: str = ""
    repository: str = ""
    backward_as_shipped: bool = True
    factory: str = ""
    instantiated_by: str = ""


@dataclass(slots=True)
class PackageReport:
    """Counts for one package; ``to_json`` gives the plain form returned by :func:`mine_real`."""

    package: str
    version: str | None = None
    status: str = "mined"  # or why it was not: "license ... not allowed", "no license information", ...
    license: str | None = None
    license_source: str = ""
    repository: str = ""
    modules_found: int = 0
    modules_scanned: int = 0  # imported (fully or definitions-only)
    modules_definitions_only: list[str] = field(default_factory=list)
    modules_failed: dict[str, str] = field(default_factory=dict)  # module -> reason
    modules_with_kernels: int = 0
    scripts_run: list[str] = field(default_factory=list)  # the package's examples/benchmarks that finished
    scripts_failed: dict[str, str] = field(default_factory=dict)  # script -> why it stopped
    kernels_found: int = 0  # kernel objects (a generic kernel counts once)
    generic: int = 0
    generic_no_overload: int = 0
    generic_no_overload_kernels: list[str] = field(default_factory=list)
    overloads: int = 0
    to_extract: int = 0  # non-generic kernels + overloads of generic kernels
    non_permissive: int = 0
    same_source: int = 0  # instances of a factory's kernel after the first (same source and argument types)
    extracted: int = 0
    too_large: int = 0  # extracted, but dropped: generated code too long (generator.real.mine.MAX_CODE_CHARS)
    too_large_kernels: list[str] = field(default_factory=list)
    launch_block_dim: int = 0  # extracted only with the block_dim their module launches them with
    backward_added: int = 0  # extracted with backward code that their package ships without
    backward_missing: int = 0  # extracted without backward code (why: backward_impossible)
    backward_impossible: Counter = field(default_factory=Counter)  # why Warp could not make it -> rows
    not_whole: Counter = field(default_factory=Counter)  # why a row's whole program could not be written -> rows
    failed: Counter = field(default_factory=Counter)  # reason -> count
    failed_kernels: dict[str, str] = field(default_factory=dict)  # module:qualname[args] -> reason
    duplicates: int = 0
    records: int = 0
    seconds: float = 0.0

    @property
    def attempted(self) -> int:
        """Kernels and overloads whose code was generated (or tried): found, minus licenses skipped and variants."""
        return self.to_extract - self.non_permissive - self.same_source

    def to_json(self) -> dict[str, Any]:
        """Plain JSON-serialisable form."""
        n_failed = sum(self.failed.values())
        return {
            "package": self.package, "version": self.version, "status": self.status, "license": self.license,
            "license_source": self.license_source, "repository": self.repository,
            "modules_found": self.modules_found, "modules_scanned": self.modules_scanned,
            "modules_definitions_only": list(self.modules_definitions_only),
            "modules_failed_count": len(self.modules_failed),
            "modules_failed": dict(sorted(self.modules_failed.items())),
            "import_failure_reasons": dict(Counter(short_reason(r) for r in self.modules_failed.values())),
            "modules_with_kernels": self.modules_with_kernels,
            "scripts_run_count": len(self.scripts_run), "scripts_failed_count": len(self.scripts_failed),
            "scripts_failed": dict(sorted(self.scripts_failed.items())),
            "kernels_found": self.kernels_found, "generic": self.generic,
            "generic_no_overload": self.generic_no_overload,
            "generic_no_overload_kernels": list(self.generic_no_overload_kernels), "overloads": self.overloads,
            "to_extract": self.to_extract, "non_permissive": self.non_permissive, "same_source": self.same_source,
            "extracted": self.extracted, "too_large": self.too_large, "too_large_kernels": list(self.too_large_kernels),
            "extracted_with_launch_block_dim": self.launch_block_dim,
            "backward_added": self.backward_added, "backward_missing": self.backward_missing,
            "backward_impossible": dict(self.backward_impossible),
            "not_whole": dict(self.not_whole.most_common()), "not_whole_count": sum(self.not_whole.values()),
            "failed_count": n_failed, "failed": dict(self.failed),
            "failed_kernels": dict(sorted(self.failed_kernels.items())),
            "extracted_fraction": self.extracted / self.attempted if self.attempted else None,
            "duplicates": self.duplicates, "records": self.records, "seconds": round(self.seconds, 2),
        }


TOTALLED = ("modules_found", "modules_scanned", "modules_failed_count", "kernels_found", "generic",
            "generic_no_overload", "overloads", "to_extract", "non_permissive", "same_source", "extracted",
            "too_large", "failed_count", "duplicates", "records", "backward_added", "backward_missing",
            "not_whole_count", "round_trip_dropped_count", "scripts_run_count", "scripts_failed_count",
            "factory_rows", "script_rows")  # the last two: counted on the package's rows (generator.real.jobs)


def totals(reports: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Sums of the per-package counts, and the fraction of the kernels tried that were extracted."""
    out: dict[str, Any] = {key: sum(r.get(key, 0) for r in reports.values()) for key in TOTALLED}
    attempted = out["to_extract"] - out["non_permissive"] - out["same_source"]
    out["extracted_fraction"] = out["extracted"] / attempted if attempted else None
    for key in ("backward_impossible", "not_whole", "round_trip_dropped"):  # reason -> rows, over every package
        why: Counter = Counter()
        for r in reports.values():
            why.update(r.get(key) or {})
        out[key] = dict(why.most_common())
    return out


__all__ = ["TOTALLED", "PackageReport", "Provenance", "totals"]
