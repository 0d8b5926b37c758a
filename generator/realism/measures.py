"""How a program reads: dead locals, degenerate operations, arbitrary constants, call nesting, line lengths.

Every measure works on the program's Python text alone (its syntax tree), the same way for a template's row, a
synthesized one and a row mined from a package, so the three can be compared side by side (the card's realism
section, ``warp-ir stats``). Definitions:

* **dead local**: a name a function assigns (``x = ...``, ``x += ...``, a tuple target, ``x: T = ...``) that the
  function never reads; names starting with ``_`` and ``for`` loop variables are not counted.
* **degenerate operation**: the same operand on both sides of ``-``, ``/``, ``%``, ``//``, ``^``, ``&``, ``|``, ``and``,
  ``or`` or a comparison other than ``!=`` (``x != x`` is the NaN test); ``a = a``; ``wp.min``/``wp.max``/``wp.cross``
  of equal arguments, ``wp.clamp`` with two equal arguments, ``wp.select``/``wp.where`` choosing between equal values;
  a condition (``if``, ``while``, ``x if c else y``) that is a constant or compares two constants.
* **arbitrary constant**: a float literal that needs three or more significant digits and is not a well-known value
  (9.81, pi, e, sqrt(2), ...): ``0.382`` is arbitrary, ``0.5``, ``1e-6``, ``0.25`` and ``9.81`` are not. Counted per
  line of code (lines that are neither blank nor comments).
* **call depth**: the deepest nesting of calls in one expression (``wp.sqrt(wp.dot(a, b))`` is 2).
"""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass

# values people write with three or more significant digits that are not arbitrary
_WELL_KNOWN = (9.81, 9.80665, math.pi, 2 * math.pi, math.pi / 2, math.pi / 4, math.e, math.sqrt(2), math.sqrt(3),
               1 / math.sqrt(2), 1 / math.sqrt(3), 1 / 3, 2 / 3, 1 / 6, math.log(2), 1.0 / 255.0, 0.299, 0.587, 0.114,
               343.0, 1.225, 1000.0, 1.4142, 0.7071, 1 / math.pi, 273.15, 293.15, 5.67e-8, 6.674e-11,
               1.380649e-23)
_FIRST_OF = (ast.Sub, ast.Div, ast.Mod, ast.FloorDiv, ast.BitXor, ast.BitAnd, ast.BitOr)
_EQUAL_ARGS = {"min", "max", "cross"}
_CHOOSERS = {"select", "where"}


@dataclass(frozen=True, slots=True)
class Reading:
    """What one program's text measures.

    Attributes:
        parsed: Whether the text parsed (every other field is zero when it did not).
        dead_locals: Locals assigned and never read, over every function.
        locals: Locals assigned, over every function.
        degenerate: Degenerate operations (see the module docstring).
        arbitrary_constants: Arbitrary float literals.
        code_lines: Lines that are neither blank nor comments.
        call_depth: The deepest call nesting of any expression.
        longest_line: Characters in the longest line.
        lines: Lines of text.
    """

    parsed: bool
    dead_locals: int
    locals: int
    degenerate: int
    arbitrary_constants: int
    code_lines: int
    call_depth: int
    longest_line: int
    lines: int


class Parsed:
    """A program's syntax tree, its nodes, and each function's nodes, walked once and shared by every measure."""

    def __init__(self, source: str) -> None:
        self.source = source
        try:
            self.tree: ast.Module | None = ast.parse(source)
        except (SyntaxError, ValueError):
            self.tree = None
        self.nodes: list[ast.AST] = list(ast.walk(self.tree)) if self.tree is not None else []
        self.functions = [n for n in self.nodes if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
        self.function_nodes = {id(f): list(ast.walk(f)) for f in self.functions}


def read_program(source: str, parsed: Parsed | None = None) -> Reading:
    """Measure one program (see the module docstring for what each figure means)."""
    text_lines = source.splitlines()
    code_lines = sum(1 for line in text_lines if line.strip() and not line.lstrip().startswith("#"))
    longest = max((len(line) for line in text_lines), default=0)
    parsed = parsed if parsed is not None else Parsed(source)
    if parsed.tree is None:
        return Reading(False, 0, 0, 0, 0, code_lines, 0, longest, len(text_lines))
    dead = assigned = 0
    for func in parsed.functions:
        names, a = dead_names(func, parsed.function_nodes[id(func)])
        dead += len(names)
        assigned += a
    return Reading(True, dead, assigned, degenerate_operations(parsed.tree, parsed.nodes),
                   arbitrary_constants(parsed.tree, parsed.nodes), code_lines, call_depth(parsed.tree), longest,
                   len(text_lines))


def own_nodes(func: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.AST]:
    """The nodes of ``func``'s body, not those of functions or classes nested in it."""
    out: list[ast.AST] = []
    stack: list[ast.AST] = list(func.body)
    while stack:
        node = stack.pop()
        out.append(node)
        for child in ast.iter_child_nodes(node):
            if not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
                stack.append(child)
    return out


def dead_names(func: ast.FunctionDef | ast.AsyncFunctionDef,
               nodes: list[ast.AST] | None = None) -> tuple[set[str], int]:
    """The locals ``func`` assigns and never reads (a nested function's reads count: closures), and how many locals
    it assigns; ``nodes``: every node under ``func`` when the caller has them."""
    stored: set[str] = set()
    loop_vars: set[str] = set()
    for node in own_nodes(func):
        if isinstance(node, ast.For):
            loop_vars.update(n.id for n in ast.walk(node.target) if isinstance(n, ast.Name))
        targets: list[ast.AST] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        for target in targets:
            for n in ast.walk(target):
                if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
                    stored.add(n.id)
    stored -= loop_vars
    stored = {name for name in stored if not name.startswith("_")}
    # ``x += 1`` stores x without a read (its target is a store): a value only ever added to is never used
    loaded = {n.id for n in (nodes if nodes is not None else ast.walk(func))
              if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return {name for name in stored if name not in loaded}, len(stored)


def _same(a: ast.AST, b: ast.AST) -> bool:
    return ast.dump(a) == ast.dump(b)


def _is_constant(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.UnaryOp):
        return _is_constant(node.operand)
    if isinstance(node, ast.Compare):
        return _is_constant(node.left) and all(_is_constant(c) for c in node.comparators)
    if isinstance(node, ast.BoolOp):
        return all(_is_constant(v) for v in node.values)
    return False


def _wp_name(call: ast.Call) -> str:
    f = call.func
    if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == "wp":
        return f.attr
    return f.id if isinstance(f, ast.Name) else ""


def degenerate_operations(tree: ast.AST, nodes: list[ast.AST] | None = None) -> int:
    """Degenerate operations in ``tree`` (see the module docstring); ``nodes``: all of its nodes, when known."""
    count = 0
    for node in nodes if nodes is not None else ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, _FIRST_OF) and _same(node.left, node.right):
            count += 1
        elif isinstance(node, ast.BoolOp) and len({ast.dump(v) for v in node.values}) < len(node.values):
            count += 1
        elif (isinstance(node, ast.Compare) and len(node.ops) == 1 and not isinstance(node.ops[0], ast.NotEq)
              and _same(node.left, node.comparators[0])):
            count += 1
        elif (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
              and isinstance(node.value, ast.Name) and node.targets[0].id == node.value.id):
            count += 1
        elif isinstance(node, (ast.If, ast.While, ast.IfExp)) and _is_constant(node.test):
            count += 1
        elif isinstance(node, ast.Call):
            name, args = _wp_name(node), node.args
            if name in _EQUAL_ARGS and len(args) == 2 and _same(args[0], args[1]):
                count += 1
            elif name == "clamp" and len(args) == 3 and (
                    _same(args[0], args[1]) or _same(args[0], args[2]) or _same(args[1], args[2])):
                count += 1
            elif name in _CHOOSERS and len(args) == 3 and _same(args[1], args[2]):
                count += 1
    return count


def is_arbitrary(value: float) -> bool:
    """Whether a float literal is arbitrary: three or more significant digits and not a well-known value."""
    if not math.isfinite(value) or value == 0.0:
        return False
    v = abs(value)
    if float(f"{v:.2g}") == v:
        return False
    return not any(math.isclose(v, k, rel_tol=1e-4) for k in _WELL_KNOWN)


def arbitrary_constants(tree: ast.AST, nodes: list[ast.AST] | None = None) -> int:
    """Arbitrary float literals in ``tree`` (docstrings and other strings are not literals)."""
    return sum(1 for node in (nodes if nodes is not None else ast.walk(tree))
               if isinstance(node, ast.Constant) and type(node.value) is float and is_arbitrary(node.value))


def call_depth(tree: ast.AST) -> int:
    """The deepest nesting of calls in any expression of ``tree``."""
    best = 0
    stack: list[tuple[ast.AST, int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, ast.Call):
            depth += 1
            best = max(best, depth)
            # a decorator's or annotation's call is not part of the computation
        for child in ast.iter_child_nodes(node):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and (
                    child in getattr(node, "decorator_list", ()) or child is getattr(node, "returns", None)):
                continue
            if isinstance(node, (ast.arg, ast.AnnAssign)) and child is getattr(node, "annotation", None):
                continue
            stack.append((child, depth))
    return best
