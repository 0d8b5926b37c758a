"""The project's import structure: no import circle, and no module importing a layer above its own.

Every ``import`` and ``from ... import`` counts, at module level or inside a function. ``from pkg import name``
is an import of ``pkg.name`` when that is a module of the project (as grimp and import-linter read it), else
of ``pkg`` itself.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("common", "extraction", "fem_examples", "templates", "generator", "evaluation", "warp_ir")

# lowest first: a module may import its own layer and the layers below it, never one above
LAYERS: tuple[tuple[str, ...], ...] = (
    ("common", "generator"),                       # helpers every stage uses; `generator` itself is only its stages
    ("extraction",),                               # Warp: load a program, generate its code, cut one kernel's
    ("fem_examples", "templates", "generator.realism"),  # the warp.fem example; the Jinja templates (data); how
                                                   # a program's text reads (dead locals, features)
    ("generator.programs",),                       # templates rendered, programs synthesized
    ("generator.planning",),                       # programs drawn, deduplicated, split, cut into shards
    ("generator.codegen",),                        # a shard's programs compiled into rows
    ("generator.real",),                           # rows mined from installed packages
    ("generator.config", "evaluation"),            # every build setting, checked; scoring models
    ("warp_ir_dataset",),                          # the `datasets` adapter
    ("warp_ir",),                                  # the application: engines, output folder, card, command line
)


def project_modules() -> dict[str, Path]:
    """Module name -> file, for every module of the project's packages and the adapter."""
    mods = {"warp_ir_dataset": ROOT / "warp_ir_dataset.py"}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            mods[name] = path
    return mods


def imports_of(name: str, path: Path, mods: dict[str, Path]) -> set[str]:
    """The project modules ``name`` (the module in ``path``) imports."""
    is_pkg = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base[: len(base) - node.level + (1 if is_pkg else 0)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            targets = [f"{module}.{a.name}" if f"{module}.{a.name}" in mods else module for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in mods:  # `import a.b.c` of a name inside a module: its module
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def layer_of(name: str) -> int:
    """The index in :data:`LAYERS` of the longest prefix naming ``name``'s layer."""
    best, rank = -1, None
    for i, layer in enumerate(LAYERS):
        for prefix in layer:
            if (name == prefix or name.startswith(prefix + ".")) and len(prefix) > best:
                best, rank = len(prefix), i
    assert rank is not None, f"{name} belongs to no layer: add it to LAYERS"
    return rank


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    mods = project_modules()
    return {name: imports_of(name, path, mods) for name, path in mods.items()}


def test_the_graph_is_read(graph):
    # the checks below mean something only if the reader sees real edges
    assert "generator.programs.templates" in graph["generator.programs.render"]
    assert "extraction._warp" in graph["extraction.extract"]
    assert any(dep.startswith("generator.") for dep in graph["warp_ir_dataset"])


def circles_of(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import circles of ``graph`` (its strongly connected components of two or more modules; Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            members = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                members.append(w)
                if w == v:
                    break
            if len(members) > 1:
                circles.append(sorted(members))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return circles


def test_no_import_circle(graph):
    assert circles_of(graph) == []


def test_no_upward_import(graph):
    upward = sorted(f"{a} -> {b}" for a, deps in graph.items() for b in deps if layer_of(b) > layer_of(a))
    assert upward == []


def test_every_module_has_a_layer(graph):
    for name in graph:
        layer_of(name)


def test_the_checks_can_fail():
    # a made-up circle, and a made-up upward import, are found
    assert circles_of({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert layer_of("warp_ir.cli") > layer_of("warp_ir_dataset") > layer_of("generator.codegen.shard")
    assert layer_of("generator.codegen.shard") > layer_of("generator.programs.render") > layer_of("extraction.cut")
