"""The one typed record warp-ir produces per kernel, and its Arrow schema."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any

import datasets
import pyarrow as pa

TARGETS: tuple[str, ...] = ("cpu", "cuda")
GENERATED_COLUMNS: tuple[str, ...] = ("cpp_forward", "cpp_backward", "cuda_forward", "cuda_backward")  # Warp's code
VALIDATION_LEVELS: tuple[str, ...] = ("codegen", "compile", "run", "grad")


@dataclass(slots=True)
class Validation:
    """What was proven about one record.

    Attributes:
        level: Highest level reached: ``codegen``, ``compile``, ``run`` or ``grad``.
        cpu_compiled: The CPU module compiled natively (``None`` when not attempted).
        cuda_compiled: The CUDA module compiled to PTX through NVRTC (``None`` when not attempted).
        ran: The kernel launched on CPU and wrote finite outputs (``None`` when not attempted).
        differentiable: Warp generated a backward kernel and the kernel has float inputs.
        grad_ok: Backward agreed with finite differences (``None`` when not applicable).
        grad_max_rel_error: Largest relative error of that check (``None`` when not applicable).
        note: Short reason for anything skipped.
        round_trip: The row's ``python_source`` alone, saved as a file and extracted in a fresh process,
            gave back its four code columns (module hash normalised; :mod:`extraction.roundtrip`);
            ``None`` when not checked.
        round_trip_note: Why the round trip failed (``""`` when it passed or was not checked).
        weak: Why the row is a weak problem (:mod:`extraction.weak`: it writes nothing, only zeros, or the same
            for every input set), ``""`` when its run shows none of that, ``None`` when it was not run.
    """

    level: str = "codegen"
    cpu_compiled: bool | None = None
    cuda_compiled: bool | None = None
    ran: bool | None = None
    differentiable: bool = False
    grad_ok: bool | None = None
    grad_max_rel_error: float | None = None
    note: str = ""
    round_trip: bool | None = None
    round_trip_note: str = ""
    weak: str | None = None


@dataclass(slots=True)
class Source:
    """Where a record's Python code comes from.

    Attributes:
        kind: ``generated`` (rendered from a warp-ir template), ``real`` (mined from a
            package's own code), ``fem`` (a kernel warp.fem generated for an integrand) or
            ``user`` (a file or module ``warp-ir extract`` was given).
        package: Distribution the code comes from (``warp-ir`` for generated programs, ``""``
            for user code).
        package_version: Its version.
        module: Python module that defines the kernel (empty for generated programs; a file's
            stem for a user's ``.py`` file).
        path: File inside the package (the template for generated programs); for user code the
            file relative to the current folder (its name alone when outside it), or a module's
            file relative to its top-level package's folder: never an absolute path.
        first_line: First line of the definition in ``path`` (0 when not applicable).
        last_line: Last line of the definition (0 when not applicable).
        license: SPDX license expression of the code (for user code: only what an
            ``SPDX-License-Identifier`` header of the file says, else ``""``).
        license_file: The license file the distribution ships (``LICENSE``), ``""`` if none.
        repository: Source repository URL of the distribution, ``""`` if its metadata names none.
        backward_as_shipped: The code's own settings decide the row's backward code. ``False`` for a
            real kernel whose package switches the adjoint off (``enable_backward=False``): warp-ir
            generated its backward code anyway and the row's text no longer switches it off, unless
            Warp cannot differentiate it (backward columns empty, the text as the package wrote it).
        factory: For a real row, the function that made its kernel (a kernel defined inside a function), else
            ``""``.
        instantiated_by: For a real row, the package's example or benchmark whose run made the kernel (``""``:
            the kernel existed once the package's modules were imported).
        definitions: For a real row, where each definition its program pulled in comes from: ``name``,
            ``kind`` (function, struct, class, constant), ``module``, ``path``, ``first_line``, ``last_line``.
    """

    kind: str = "generated"
    package: str = "warp-ir"
    package_version: str = ""
    module: str = ""
    path: str = ""
    first_line: int = 0
    last_line: int = 0
    license: str = "Apache-2.0"
    license_file: str = ""
    repository: str = ""
    backward_as_shipped: bool = True
    factory: str = ""
    instantiated_by: str = ""
    definitions: list[dict[str, Any]] = field(default_factory=list)


@dataclass(slots=True)
class KernelRecord:
    """One Warp kernel: its Python source and the code Warp generates for it.

    Code columns hold the kernel's own definitions cut from Warp's generated
    module: forward columns carry the structs, ``@wp.func`` helpers and the
    argument struct the kernel needs, then the forward kernel; backward columns
    carry the adjoint helpers, then the backward kernel. A target that was not
    requested is ``None``; a kernel without a backward pass has ``""`` there.
    """

    kernel_name: str
    python_source: str
    cpp_forward: str | None = None
    cpp_backward: str | None = None
    cuda_forward: str | None = None
    cuda_backward: str | None = None
    arguments: list[dict[str, str]] = field(default_factory=list)
    helper_functions: list[str] = field(default_factory=list)
    launch_dim: int | None = None
    differentiable: bool = False
    warp_version: str = ""
    module_name: str = ""
    id: str = ""
    family: str = ""
    template: str = ""
    complexity: int = 0
    params: str = "{}"
    validation: Validation = field(default_factory=Validation)
    source: Source = field(default_factory=Source)
    # Whole generated translation unit per target, kept for native compilation; not a dataset column.
    generated: dict[str, str] = field(default_factory=dict, repr=False)
    # The template's ``run:`` hints (tiled block dim, nondeterminism), for the runtime validator.
    run_hints: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def content_hash(self) -> str:
        """Stable SHA-256 over the Python source, every code column and the Warp version."""
        h = hashlib.sha256()
        for part in (self.python_source, self.cpp_forward, self.cpp_backward, self.cuda_forward,
                     self.cuda_backward, self.warp_version):
            h.update((part or "").encode())
            h.update(b"\0")
        return h.hexdigest()

    def to_row(self) -> dict[str, Any]:
        """The record as one dataset row (plain Python values, in :data:`FEATURES` order)."""
        row = {name: getattr(self, name) for name in FEATURES if name != "content_hash"}
        row["arguments"] = [dict(a) for a in self.arguments]
        row["helper_functions"] = list(self.helper_functions)
        row["validation"] = asdict(self.validation)
        row["source"] = asdict(self.source)
        row["content_hash"] = self.content_hash
        return {name: row[name] for name in FEATURES}


FEATURES = datasets.Features(
    {
        "id": datasets.Value("string"),
        "family": datasets.Value("string"),
        "template": datasets.Value("string"),
        "complexity": datasets.Value("int32"),
        "params": datasets.Value("string"),
        "kernel_name": datasets.Value("string"),
        "module_name": datasets.Value("string"),
        "python_source": datasets.Value("string"),
        "cpp_forward": datasets.Value("string"),
        "cpp_backward": datasets.Value("string"),
        "cuda_forward": datasets.Value("string"),
        "cuda_backward": datasets.Value("string"),
        "arguments": datasets.List({"name": datasets.Value("string"), "type": datasets.Value("string")}),
        "helper_functions": datasets.List(datasets.Value("string")),
        "launch_dim": datasets.Value("int32"),
        "differentiable": datasets.Value("bool"),
        "warp_version": datasets.Value("string"),
        "content_hash": datasets.Value("string"),
        "source": {
            "kind": datasets.Value("string"),
            "package": datasets.Value("string"),
            "package_version": datasets.Value("string"),
            "module": datasets.Value("string"),
            "path": datasets.Value("string"),
            "first_line": datasets.Value("int32"),
            "last_line": datasets.Value("int32"),
            "license": datasets.Value("string"),
            "license_file": datasets.Value("string"),
            "repository": datasets.Value("string"),
            "backward_as_shipped": datasets.Value("bool"),
            "factory": datasets.Value("string"),
            "instantiated_by": datasets.Value("string"),
            "definitions": datasets.List({"name": datasets.Value("string"), "kind": datasets.Value("string"),
                                          "module": datasets.Value("string"), "path": datasets.Value("string"),
                                          "first_line": datasets.Value("int32"), "last_line": datasets.Value("int32")}),
        },
        "validation": {
            "level": datasets.Value("string"),
            "cpu_compiled": datasets.Value("bool"),
            "cuda_compiled": datasets.Value("bool"),
            "ran": datasets.Value("bool"),
            "differentiable": datasets.Value("bool"),
            "grad_ok": datasets.Value("bool"),
            "grad_max_rel_error": datasets.Value("float64"),
            "note": datasets.Value("string"),
            "round_trip": datasets.Value("bool"),
            "round_trip_note": datasets.Value("string"),
            "weak": datasets.Value("string"),
        },
    }
)


def rows_table(rows: list[dict[str, Any]]) -> pa.Table:
    """Rows (:meth:`KernelRecord.to_row` dicts) as one Arrow table in the dataset's schema."""
    return pa.Table.from_pylist(rows, schema=FEATURES.arrow_schema)
