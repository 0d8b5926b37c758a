"""Which modules of an installed package are mined, and how they are imported safely.

A mined module is imported normally, except example scripts that run code at import time
(no ``if __name__ == "__main__"`` guard): of those only the definitions are executed.
A file's own ``SPDX-License-Identifier`` line overrides its distribution's license.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import re
import sys
import types
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from extraction.warp_objects import INTERNAL_PACKAGE
from generator.real.licenses import normalize_expression
from generator.real.packages import WARP, PackageInfo

# the rest of the line (parentheses included), less a block comment's closing mark
_SPDX_RE = re.compile(r"SPDX-License-Identifier:[ \t]*(.*?)[ \t]*(?:\*/|-->|\"\"\"|'''|$)", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class PackageSpec:
    """Which modules of one installed distribution are mined.

    Attributes:
        dist: Distribution name as installed (``pip show`` name), e.g. ``"warp-lang"``.
        import_name: Top-level import package, e.g. ``"warp"``.
        include: Module-name prefixes worth mining (a prefix matches the name itself or ``prefix.*``).
        exclude: Module-name prefixes never mined (tests, vendored third-party code).
        exclude_suffixes: Last name components never mined (``*_test`` files).
        exclude_prefixes: Last name components never mined (``test_*`` files).
        exclude_parts: Name components (packages or modules) never mined, wherever they appear.
        scripts: Prefixes of modules that are scripts (examples): when such a file has no
            ``if __name__ == "__main__"`` guard and runs code at top level, only its
            definitions are executed.
        script_parts: Name components that make a module a script too (``examples``, ...).
    """

    dist: str
    import_name: str
    include: tuple[str, ...]
    exclude: tuple[str, ...] = ()
    exclude_suffixes: tuple[str, ...] = ("_test", "conftest")
    exclude_prefixes: tuple[str, ...] = ("test_",)
    exclude_parts: tuple[str, ...] = ("tests", "test", "testing", "testdata", "test_data")
    scripts: tuple[str, ...] = ()
    script_parts: tuple[str, ...] = ("examples", "example", "scripts", "benchmarks", "benchmark")


_INTERNAL = INTERNAL_PACKAGE  # where Warp's library code (and so its library kernels) is defined

# Packages whose layout needs more than the default rules (:func:`package_spec` covers the others).
PACKAGES: dict[str, PackageSpec] = {
    WARP: PackageSpec(
        dist="warp-lang",
        import_name="warp",
        include=(
            "warp.examples",
            *(f"{public}.{sub}" for sub in ("fem", "sim", "optim", "sparse", "render", "utils", "geometry", "autograd")
              for public in ("warp", _INTERNAL)),
            f"{_INTERNAL}.coloring", f"{_INTERNAL}.texture",
        ),
        exclude=("warp.tests", f"{_INTERNAL}.thirdparty"),
        scripts=("warp.examples",),
    ),
    "mujoco-warp": PackageSpec(
        dist="mujoco-warp",
        import_name="mujoco_warp",
        include=("mujoco_warp",),
        exclude_suffixes=("_test", "conftest", "test_util"),
    ),
}


def package_spec(info: PackageInfo) -> PackageSpec:
    """How to mine an installed package: its entry in :data:`PACKAGES`, else every module of its import packages."""
    if info.name in PACKAGES:
        return PACKAGES[info.name]
    if not info.import_names:
        return PackageSpec(dist=info.name, import_name="", include=())
    return PackageSpec(dist=info.name, import_name=info.import_names[0], include=info.import_names)


def short_reason(reason: str) -> str:
    """Group import failures: ``ModuleNotFoundError: No module named 'pxr'`` stays, long messages are cut."""
    return reason.split("\n")[0][:120]


# --- enumeration -----------------------------------------------------------------------------------

def _matches(name: str, prefixes: Iterable[str]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _wanted(name: str, spec: PackageSpec, only: Sequence[str] | None) -> bool:
    if not _matches(name, spec.include) or _matches(name, spec.exclude):
        return False
    last = name.rsplit(".", 1)[-1]
    if any(last.endswith(s) for s in spec.exclude_suffixes) or any(last.startswith(p) for p in spec.exclude_prefixes):
        return False
    if any(part in spec.exclude_parts for part in name.split(".")):
        return False
    return only is None or _matches(name, only)


def package_root(spec: PackageSpec) -> Path | None:
    """The directory holding the import package (``site-packages``), or ``None`` when not installed.

    Finding a top-level package does not import it.
    """
    if not spec.import_name:
        return None
    found = importlib.util.find_spec(spec.import_name)
    if found is None:
        return None
    if found.submodule_search_locations:
        return Path(next(iter(found.submodule_search_locations))).resolve().parent
    return Path(found.origin).resolve().parent if found.origin else None


def enumerate_modules(spec: PackageSpec, only: Sequence[str] | None = None) -> list[tuple[str, Path]]:
    """``(module name, file)`` of every module worth mining, sorted by name.

    Walks the installed package directory, including directories without ``__init__.py``
    (Warp's example folders are namespace packages, which :func:`pkgutil.walk_packages`
    does not enter).
    """
    root = package_root(spec)
    if root is None:
        return []
    tops = {p.split(".")[0] for p in spec.include} or {spec.import_name}
    files = []
    for top in sorted(tops):
        files += sorted((root / top).rglob("*.py")) if (root / top).is_dir() else [root / f"{top}.py"]
    out: list[tuple[str, Path]] = []
    for path in files:
        if not path.is_file():
            continue
        rel = path.relative_to(root).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        if any(not p.isidentifier() for p in parts) or "__pycache__" in parts:
            continue
        name = ".".join(parts)
        if _wanted(name, spec, only):
            out.append((name, path))
    return sorted(out)


# --- import ----------------------------------------------------------------------------------------

_MAIN_GUARD = "__name__"
_SAFE_CALL_RE = re.compile(
    r"^(?:wp|warp)\.(?:init|set_module_options|overload|constant|vec\w*|mat\w*|quat\w*|transform\w*|spatial\w*"
    r"|types\.\w+|u?int\d*|float\d*|struct|func|kernel)$"
)


def _is_main_guard(node: ast.stmt) -> bool:
    return isinstance(node, ast.If) and _MAIN_GUARD in ast.unparse(node.test) and "__main__" in ast.unparse(node.test)


def _calls_safe(node: ast.AST) -> bool:
    """Every call inside ``node`` is a Warp definition/constructor call (no side effects)."""
    return all(_SAFE_CALL_RE.match(ast.unparse(c.func)) for c in ast.walk(node) if isinstance(c, ast.Call))


def _definition_statement(node: ast.stmt) -> bool:
    if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return True
    if isinstance(node, (ast.Assign, ast.AnnAssign)):
        return node.value is None or _calls_safe(node.value)
    if isinstance(node, ast.Expr):
        return isinstance(node.value, ast.Constant) or _calls_safe(node.value)
    return False


def runs_at_import(tree: ast.Module) -> bool:
    """Whether a script does work at import: no ``__main__`` guard, and top-level statements beyond definitions."""
    if any(_is_main_guard(n) for n in tree.body):
        return False
    return not all(_definition_statement(n) for n in tree.body)


def _import_definitions_only(name: str, path: Path, tree: ast.Module) -> types.ModuleType:
    """Execute only the definitions of a script (imports, defs, classes, constant assignments).

    The code is compiled with the real file name and line numbers, so ``inspect`` and
    Warp's parser read the kernels' source from the file as usual.
    """
    kept = ast.Module(body=[n for n in tree.body if _definition_statement(n)], type_ignores=[])
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules[name] = module
    try:
        exec(compile(kept, str(path), "exec"), module.__dict__)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def is_script(name: str, spec: PackageSpec) -> bool:
    """Whether a module is one of the package's scripts (examples, benchmarks, scripts)."""
    return _matches(name, spec.scripts) or any(part in spec.script_parts for part in name.split(".")[1:])


def has_main_guard(path: Path) -> bool:
    """Whether a file has a top-level ``if __name__ == "__main__":`` block (what runs when it is a script)."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    except (OSError, SyntaxError, ValueError):
        return False
    return any(_is_main_guard(n) for n in tree.body)


def import_module(name: str, path: Path, spec: PackageSpec) -> tuple[types.ModuleType, bool]:
    """Import one module without running it; return it and whether it was executed definitions-only.

    Raises:
        Exception: Whatever the import raised (missing optional dependency, no GPU, ...).
    """
    if name in sys.modules:
        return sys.modules[name], False
    if is_script(name, spec):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        if runs_at_import(tree):
            return _import_definitions_only(name, path, tree), True
    return importlib.import_module(name), False


# --- licenses ----------------------------------------------------------------------------------------

_license_cache: dict[Path, str | None] = {}


def file_license(path: Path) -> str | None:
    """The SPDX expression of a file's ``SPDX-License-Identifier`` line (first 40 lines), normalised, or ``None``."""
    if path not in _license_cache:
        try:
            head = "".join(path.read_text(encoding="utf-8", errors="replace").splitlines(keepends=True)[:40])
        except OSError:
            head = ""
        m = _SPDX_RE.search(head)
        _license_cache[path] = normalize_expression(m.group(1)) if m else None
    return _license_cache[path]
