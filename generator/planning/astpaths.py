"""A second structural measure of similarity: MinHash over the paths of a program's syntax tree.

The planner's own measure (:mod:`generator.planning.minhash`) compares 5-token shingles of the normalised text.
This one compares what the syntax tree is made of: for every node, the path of node types from it up to
:data:`DEPTH` ancestors (``Name<Subscript<Assign<For<FunctionDef``), with every user name and constant stripped
(a name is ``Name``, a constant is its kind, a call of a Warp builtin keeps the builtin: ``wp.sin``), so two
programs that differ in names, constants or formatting and have the same structure are equal, and two that lay
the same statements out in another order still share most paths. The two measures disagree where they should
be checked against each other: the planner keeps near-twins by either measure out of different splits
(:mod:`generator.planning.plan`), and the card reports both.

Signatures use the token measure's MinHash permutations (:data:`~generator.planning.minhash.NUM_PERM` values), so
the same near-twin search (:mod:`generator.planning.similarity`) runs on either.
"""

from __future__ import annotations

import ast

import numpy as np

from generator.planning.minhash import NUM_PERM, cached_hash, minhash_values

DEPTH = 4  # ancestors in a path (a path has up to DEPTH + 1 node types)
_MODULES = {"wp", "warp"}
_HASHES: dict[str, int] = {}  # path -> 32-bit hash


def _label(node: ast.AST) -> str:
    """A node's type, with what structure keeps: operators, Warp builtins, a constant's kind."""
    if isinstance(node, (ast.BinOp, ast.UnaryOp, ast.AugAssign)):
        return f"{type(node).__name__}:{type(node.op).__name__}"
    if isinstance(node, ast.BoolOp):
        return f"BoolOp:{type(node.op).__name__}"
    if isinstance(node, ast.Compare):
        return "Compare:" + ",".join(type(op).__name__ for op in node.ops)
    if isinstance(node, ast.Attribute):
        if isinstance(node.value, ast.Name) and node.value.id in _MODULES:
            return f"wp.{node.attr}"
        return "Attribute"
    if isinstance(node, ast.Constant):
        return f"Const:{type(node.value).__name__}"
    if isinstance(node, ast.Name):
        return "Name"
    return type(node).__name__


def paths(source: str) -> list[str]:
    """Every node's path of up to :data:`DEPTH` ancestors, names and constants stripped (empty if it does not parse).

    Docstrings and the ``import`` lines are left out (they say nothing of the structure).
    """
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    out: list[str] = []
    stack: list[tuple[ast.AST, tuple[str, ...]]] = [(tree, ())]
    while stack:
        node, above = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom, ast.expr_context, ast.operator, ast.cmpop, ast.boolop,
                             ast.unaryop)):
            continue
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            continue  # a docstring
        label = _label(node)
        chain = (label, *above[:DEPTH])
        out.append("<".join(chain))
        for child in ast.iter_child_nodes(node):
            stack.append((child, chain))
    return out


def _hash(text: str) -> int:
    """A stable 32-bit hash of a path (BLAKE2b), cached."""
    return cached_hash(text, _HASHES, 4)


def signature(source: str) -> np.ndarray:
    """MinHash signature (``uint32``, :data:`NUM_PERM` values) of the set of ``source``'s syntax-tree paths."""
    return minhash_values(np.asarray(sorted({_hash(p) for p in paths(source)}) or [0], dtype=np.uint32))


def signatures(sources: list[str]) -> np.ndarray:
    """:func:`signature` of each source, one row each (``N x NUM_PERM``)."""
    if not sources:
        return np.zeros((0, NUM_PERM), dtype=np.uint32)
    return np.stack([signature(s) for s in sources])
