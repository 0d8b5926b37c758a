"""Normalised form of a program, for near-duplicate detection and split assignment.

Two programs are near-duplicates when they are the same after renaming every
identifier the program defines (kernel, helpers, structs, fields, arguments,
locals) in order of first appearance, replacing every literal by a placeholder of
its kind, and dropping comments, docstrings and formatting. Names reached
through ``wp.`` (builtins, types) are kept: ``wp.sin`` and ``wp.cos`` differ, and
so do ``wp.float32`` and ``wp.float64``.
"""

from __future__ import annotations

import ast
import hashlib

_KEEP = {"wp", "warp", "typing", "Any", "range", "float", "int", "bool", "len", "print", "True", "False", "None",
         "min", "max", "abs", "tuple", "self"}


class _Canon(ast.NodeTransformer):
    def __init__(self) -> None:
        self.names: dict[str, str] = {}

    def _name(self, name: str) -> str:
        if name in _KEEP:
            return name
        return self.names.setdefault(name, f"v{len(self.names)}")

    def visit_Name(self, node: ast.Name) -> ast.AST:
        node.id = self._name(node.id)
        return node

    def visit_arg(self, node: ast.arg) -> ast.AST:
        node.arg = self._name(node.arg)
        self.generic_visit(node)
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        node.name = self._name(node.name)
        _drop_docstring(node)
        self.generic_visit(node)
        return node

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        node.name = self._name(node.name)
        _drop_docstring(node)
        self.generic_visit(node)
        return node

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        self.generic_visit(node)
        if not (isinstance(node.value, ast.Name) and node.value.id in ("wp", "warp", "typing")):
            if not (isinstance(node.value, ast.Attribute)):  # wp.types.vector etc. stay
                node.attr = self._name(node.attr)
        return node

    def visit_keyword(self, node: ast.keyword) -> ast.AST:
        self.generic_visit(node)
        return node

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        if isinstance(node.value, bool) or node.value is None:
            return node
        if isinstance(node.value, int):
            return ast.copy_location(ast.Constant(0), node)
        if isinstance(node.value, float):
            return ast.copy_location(ast.Constant(0.0), node)
        return ast.copy_location(ast.Constant("s"), node)


def _drop_docstring(node: ast.FunctionDef | ast.ClassDef | ast.Module) -> None:
    body = node.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        node.body = body[1:] or [ast.Pass()]


def normalize(source: str) -> str:
    """The normalised text of ``source`` (``source`` itself, whitespace-collapsed, if it does not parse)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return " ".join(source.split())
    _drop_docstring(tree)
    tree = _Canon().visit(tree)
    return ast.unparse(tree)


def normalized_hash(source: str) -> str:
    """SHA-256 (hex) of the normalised program: equal exactly when :func:`normalize` gives equal text.

    Computed from the canonicalised syntax tree (``ast.dump``) rather than from re-printed
    source; equivalent, since both ignore names, literals, comments and docstrings.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return hashlib.sha256(" ".join(source.split()).encode()).hexdigest()
    _drop_docstring(tree)
    return hashlib.sha256(ast.dump(_Canon().visit(tree), annotate_fields=False).encode()).hexdigest()


def split_of(norm_hash: str, ratios: dict[str, float]) -> str:
    """The split a program belongs to, from its normalised hash and the split ratios (in order).

    The first 15 hex digits give a uniform number in [0, 1); a program and all its renamed
    twins therefore always land in the same split, whatever the seed of the build.
    """
    u = int(norm_hash[:15], 16) / float(1 << 60)
    acc = 0.0
    names = list(ratios)
    for name in names:
        acc += ratios[name]
        if u < acc:
            return name
    return names[-1]
