"""Which of a kernel's arguments hold values rather than indices, read from its Python source.

Integer inputs are drawn in [0, 4) because most integers a kernel receives are indices, counts, loop bounds or
flags: a wide value there reads out of bounds or loops for ever, in the reference as much as in an answer. An
argument whose values only ever feed arithmetic, comparisons and conversions can take integers over a wide range
instead (:func:`extraction.inputs.make_inputs` draws them for the input sets other than the first), so an answer that
is right only for small integers (``x & 3`` for ``x % 7``, a table of four entries) fails.

The test is a flow-insensitive taint walk over the kernel's own body (the Csmith rule: only what is safe by
construction): every local assigned from an expression that mentions the argument carries it, and the argument is
a value when nothing that carries it reaches

- a subscript's index, a ``for`` loop's range or a ``while`` test,
- a shift, a power, or the right side of a division or modulo (undefined or trapping for some integers),
- a call outside the arithmetic builtins of :data:`VALUE_CALLS` (a ``@wp.func`` may index with it), except
  the target of an atomic (``wp.atomic_add(counts, i, x)``: ``x`` stays a value, ``i`` must not carry it).

Anything the walk cannot read (no such kernel, several of that name with a body, unparsable source) has no value
arguments.
"""

from __future__ import annotations

import ast
import re

# calls whose arguments are used as numbers only (results of any integer, however wide, are defined)
VALUE_CALLS = frozenset({
    "abs", "bool", "float", "int", "max", "min", "round",
    *(f"wp.{n}" for n in (
        "abs", "acos", "asin", "atan", "atan2", "cbrt", "ceil", "clamp", "cos", "cosh", "degrees", "exp", "float16",
        "float32", "float64", "floor", "frac", "int16", "int32", "int64", "int8", "isfinite", "isinf", "isnan", "lerp",
        "log", "log10", "log2", "max", "min", "nonzero", "radians", "rint", "round", "select", "sign", "sin", "sinh",
        "smoothstep", "sqrt", "step", "tan", "tanh", "trunc", "uint16", "uint32", "uint64", "uint8", "where")),
})
_CONSTRUCTOR = re.compile(r"wp\.(?:vec|mat|quat|transform|spatial_vector|spatial_matrix)\w*$")
_ATOMICS = frozenset(f"wp.atomic_{n}" for n in ("add", "sub", "min", "max", "exch"))
_MARK = re.compile(r"^# int values of (\w+): ([\d,]*)$", re.MULTILINE)


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _mentions(node: ast.AST | None, names: set[str]) -> bool:
    return node is not None and any(isinstance(n, ast.Name) and n.id in names for n in ast.walk(node))


def _carriers(func: ast.FunctionDef, arg: str) -> set[str]:
    """The argument and every local assigned (anywhere in the body) from an expression that mentions one of them."""
    names = {arg}
    changed = True
    while changed:
        changed = False
        for node in ast.walk(func):
            if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign | ast.NamedExpr) and \
                    _mentions(node.value, names):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for name in {n for target in targets for n in _stored(target)} - names:
                    names.add(name)
                    changed = True
    return names


def _stored(target: ast.expr) -> list[str]:
    """The names an assignment to ``target`` stores into: ``a, b`` both; ``out[i]`` and ``p.x`` only the root
    (``out``, ``p``: they hold the value now; the index ``i`` does not)."""
    if isinstance(target, ast.Tuple | ast.List):
        return [n for t in target.elts for n in _stored(t)]
    if isinstance(target, ast.Starred):
        return _stored(target.value)
    while isinstance(target, ast.Subscript | ast.Attribute):
        target = target.value
    return [target.id] if isinstance(target, ast.Name) else []


def _call_uses_as_index(call: ast.Call, names: set[str]) -> bool:
    name = _dotted(call.func)
    args = [*call.args, *(k.value for k in call.keywords)]
    if name in VALUE_CALLS or _CONSTRUCTOR.match(name):
        return False
    if name in _ATOMICS:  # (target, *indices, value): the target may be the argument, its values are not indices
        return any(_mentions(a, names) for a in call.args[1:-1]) or any(_mentions(k.value, names)
                                                                        for k in call.keywords)
    return any(_mentions(a, names) for a in args) or _mentions(call.func, names)


def _only_values(func: ast.FunctionDef, arg: str) -> bool:
    names = _carriers(func, arg)
    for node in ast.walk(func):
        if isinstance(node, ast.Subscript) and _mentions(node.slice, names):
            return False
        if isinstance(node, ast.For) and _mentions(node.iter, names) or \
                isinstance(node, ast.While) and _mentions(node.test, names):
            return False
        if isinstance(node, ast.BinOp) and (
                isinstance(node.op, ast.LShift | ast.RShift | ast.Pow) and _mentions(node, names)
                or isinstance(node.op, ast.Div | ast.FloorDiv | ast.Mod) and _mentions(node.right, names)):
            return False
        if isinstance(node, ast.AugAssign) and isinstance(node.op, ast.LShift | ast.RShift | ast.Pow | ast.Div |
                                                          ast.FloorDiv | ast.Mod) and _mentions(node, names):
            return False
        if isinstance(node, ast.Call) and _call_uses_as_index(node, names):
            return False
    return True


def _is_stub(func: ast.FunctionDef) -> bool:
    return all(isinstance(n, ast.Pass) or isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)
               for n in func.body)


def value_arguments(source: str, function: str) -> tuple[int, ...]:
    """Positions of ``function``'s arguments whose values only feed arithmetic (see the module's rules).

    ``source`` may also be :func:`marks` of a program (what a process that must not see the program gets).
    """
    marked = {m[1]: m[2] for m in _MARK.finditer(source)}
    if marked:
        text = marked.get(function, "")
        return tuple(int(p) for p in text.split(",") if p)
    tree = _parsed(source)
    return _positions(tree, function) if tree is not None else ()


def _parsed(source: str) -> ast.Module | None:
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError):
        return None


def _positions(tree: ast.Module, function: str) -> tuple[int, ...]:
    """:func:`value_arguments` of ``function`` in a parsed program."""
    defs = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == function
            and not _is_stub(n)]  # (a generic kernel's ``@wp.overload`` declarations have no body)
    if len(defs) != 1:
        return ()
    params = defs[0].args.args
    return tuple(i for i, p in enumerate(params) if _only_values(defs[0], p.arg))


def marks(source: str) -> str:
    """One line per function of ``source``: the positions :func:`value_arguments` finds for it (nothing else of it)."""
    tree = _parsed(source)
    if tree is None:
        return ""
    functions = sorted({n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)})
    return "\n".join(f"# int values of {f}: {','.join(map(str, _positions(tree, f)))}" for f in functions)
