"""Which Warp features and idioms a program uses, read from its text.

:data:`FEATURES` is the table the card and ``warp-ir stats`` show side by side for templates, synthesized programs
and real code: each feature is a name, what it means, and whether it is one of the idioms of real Warp code the
synthesizer is asked to write (issue 26: generic kernels with overloads, factories, module constants, decorator
options, batched launches, dynamic loops, slot allocation, tuple helpers, structs of arrays, early returns,
``wp.array[...]`` annotations). :func:`features_of` returns the names a program has.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from dataclasses import dataclass

from generator.realism.measures import Parsed


@dataclass(frozen=True, slots=True)
class Feature:
    """One row of the feature table.

    Attributes:
        name: Short key (JSON, tables).
        meaning: What a program must contain to have it.
        idiom: One of the idioms of real Warp code the synthesizer writes on purpose.
    """

    name: str
    meaning: str
    idiom: bool = False


class _Program:
    """A parsed program and the facts the detectors share."""

    def __init__(self, parsed: Parsed) -> None:
        assert parsed.tree is not None
        self.source = parsed.source
        self.tree = parsed.tree
        self.nodes = parsed.nodes
        self.walk = parsed.function_nodes
        self.functions = [n for n in parsed.functions if isinstance(n, ast.FunctionDef)]
        self.kernels = [f for f in self.functions if any(_decorator_name(d) == "kernel" for d in f.decorator_list)]
        self.funcs = [f for f in self.functions if any(_decorator_name(d) == "func" for d in f.decorator_list)]
        self.code_types = {type(n) for f in self.kernels + self.funcs for n in self.walk[id(f)]}
        self.calls = {_call_name(n) for n in self.nodes if isinstance(n, ast.Call)}
        self.annotations = " ".join(ast.unparse(a.annotation) for a in self.nodes
                                    if isinstance(a, ast.arg) and a.annotation is not None)
        self.annotations += " " + " ".join(ast.unparse(a.annotation) for a in self.nodes
                                           if isinstance(a, ast.AnnAssign))


def _decorator_name(node: ast.expr) -> str:
    target = node.func if isinstance(node, ast.Call) else node
    if isinstance(target, ast.Attribute):
        return target.attr
    return target.id if isinstance(target, ast.Name) else ""


def _call_name(node: ast.Call) -> str:
    f = node.func
    if isinstance(f, ast.Attribute):
        return f.attr
    return f.id if isinstance(f, ast.Name) else ""


def _tid_names(p: _Program) -> list[list[str]]:
    out = []
    for n in p.nodes:
        if isinstance(n, ast.Assign) and isinstance(n.value, ast.Call) and _call_name(n.value) == "tid":
            target = n.targets[0]
            names = [e.id for e in target.elts if isinstance(e, ast.Name)] if isinstance(target, ast.Tuple) else [
                getattr(target, "id", "")]
            out.append(names)
    return out


def _early_return(p: _Program) -> bool:
    return any(isinstance(n, ast.If) and n.body and isinstance(n.body[0], ast.Return) and n.body[0].value is None
               for f in p.kernels for n in p.walk[id(f)])


def _dynamic_range(p: _Program) -> bool:
    """A ``range`` whose bounds are read from an array, directly or through a local (``start = offsets[i]``)."""
    for f in p.functions:
        nodes = p.walk[id(f)]
        from_arrays = {t.id for n in nodes if isinstance(n, ast.Assign)
                       and any(isinstance(x, ast.Subscript) for x in ast.walk(n.value))
                       for t in n.targets if isinstance(t, ast.Name)}
        for n in nodes:
            if isinstance(n, ast.For) and isinstance(n.iter, ast.Call) and _call_name(n.iter) == "range":
                for x in (x for a in n.iter.args for x in ast.walk(a)):
                    if isinstance(x, ast.Subscript) or isinstance(x, ast.Name) and x.id in from_arrays:
                        return True
    return False


def _module_constant(p: _Program) -> bool:
    names = {t.id for s in p.tree.body if isinstance(s, (ast.Assign, ast.AnnAssign))
             for t in (s.targets if isinstance(s, ast.Assign) else [s.target]) if isinstance(t, ast.Name)}
    used = {n.id for f in p.functions for n in p.walk[id(f)] if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return bool(names & used)


def _factory(p: _Program) -> bool:
    for f in p.functions:
        if f in p.kernels or f in p.funcs:
            continue
        if any(isinstance(n, ast.FunctionDef) and n is not f and n in p.kernels for n in p.walk[id(f)]):
            return True
    return False


def _tuple_helper(p: _Program) -> bool:
    for f in p.funcs:
        if f.returns is not None and re.match(r"(typing\.)?[Tt]uple\b", ast.unparse(f.returns)):
            return True
        if any(isinstance(n, ast.Return) and isinstance(n.value, ast.Tuple) for n in p.walk[id(f)]):
            return True
    return False


def _struct_of_arrays(p: _Program) -> bool:
    for c in p.nodes:
        if isinstance(c, ast.ClassDef) and any(_decorator_name(d) == "struct" for d in c.decorator_list):
            fields = [s for s in c.body if isinstance(s, ast.AnnAssign)]
            if sum("array" in ast.unparse(s.annotation) for s in fields) >= 2:
                return True
    return False


def _slot_allocation(p: _Program) -> bool:
    return any(isinstance(n, ast.Assign) and isinstance(n.value, ast.Call) and _call_name(n.value) == "atomic_add"
               for n in p.nodes)


def _docstring(p: _Program) -> bool:
    return any(ast.get_docstring(f) for f in p.functions)


def _has(pattern: str, where: str = "source") -> Callable[[_Program], bool]:
    regex = re.compile(pattern)
    return lambda p: bool(regex.search(p.annotations if where == "annotations" else p.source))


def _calls(*names: str) -> Callable[[_Program], bool]:
    wanted = set(names)
    return lambda p: bool(p.calls & wanted)


def _node(kind: type | tuple[type, ...]) -> Callable[[_Program], bool]:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return lambda p: any(issubclass(t, kinds) for t in p.code_types)


_TRANSCENDENTAL = ("sin", "cos", "tan", "exp", "log", "sqrt", "pow", "atan2", "tanh", "acos", "asin", "atan")
_SPECS: list[tuple[Feature, Callable[[_Program], bool]]] = [
    (Feature("generic_any", "a kernel or function argument annotated `Any`", True), _has(r"\bAny\b", "annotations")),
    (Feature("overload", "`@wp.overload` or `wp.overload(kernel, ...)`", True),
     lambda p: "overload" in p.calls or any(_decorator_name(d) == "overload" for f in p.functions
                                            for d in f.decorator_list)),
    (Feature("kernel_factory", "a function that defines and returns a kernel", True), _factory),
    (Feature("module_constant", "a module-level name a kernel or function reads", True), _module_constant),
    (Feature("decorator_options", "`@wp.kernel(...)` with options (`enable_backward=False`, `module=...`)", True),
     lambda p: any(isinstance(d, ast.Call) and d.keywords for f in p.kernels for d in f.decorator_list)),
    (Feature("batched_launch", "a launch of two or more dimensions (`world, i = wp.tid()`)", True),
     lambda p: any(len(t) >= 2 for t in _tid_names(p))),
    (Feature("dynamic_loop", "`for` over bounds read from an array (`range(start[i], start[i + 1])`)", True),
     _dynamic_range),
    (Feature("early_return", "`if ...: return` in a kernel", True), _early_return),
    (Feature("tuple_helper", "a `@wp.func` returning a tuple", True), _tuple_helper),
    (Feature("struct_of_arrays", "a `@wp.struct` with two or more array fields", True), _struct_of_arrays),
    (Feature("slot_allocation", "the value of `wp.atomic_add` assigned (`slot = wp.atomic_add(count, 0, 1)`)", True),
     _slot_allocation),
    (Feature("array_subscript_style", "`wp.array[float]`-style annotations", True),
     _has(r"\bwp\.(?:array|array[1-4]d|indexedarray)\[", "annotations")),
    (Feature("wp_constant", "`wp.constant(...)`"), _calls("constant")),
    (Feature("wp_static", "`wp.static(...)`"), _calls("static")),
    (Feature("wp_func", "a `@wp.func` helper"), lambda p: bool(p.funcs)),
    (Feature("custom_gradient", "`@wp.func_grad` or `@wp.func_replay`"), _has(r"@wp\.func_(?:grad|replay)")),
    (Feature("struct", "a `@wp.struct`"), _has(r"@wp\.struct")),
    (Feature("docstring", "a function with a docstring"), _docstring),
    (Feature("comment", "a `#` comment"), _has(r"(?m)^\s*#|\s#\s")),
    (Feature("for_loop", "a `for` loop"), _node(ast.For)),
    (Feature("while_loop", "a `while` loop"), _node(ast.While)),
    (Feature("break_continue", "`break` or `continue`"), _node((ast.Break, ast.Continue))),
    (Feature("branch", "an `if`"), _node(ast.If)),
    (Feature("select", "`wp.where`, `wp.select` or `x if c else y`"),
     lambda p: bool(p.calls & {"where", "select"}) or any(isinstance(n, ast.IfExp) for n in p.nodes)),
    (Feature("atomic", "a `wp.atomic_*` call"), lambda p: any(c.startswith("atomic_") for c in p.calls)),
    (Feature("multidim_array", "an array of two or more dimensions"),
     _has(r"array[2-4]d|ndim\s*=\s*[2-4]", "annotations")),
    (Feature("plain_float", "`float` / `int` annotations (not `wp.float32` / `wp.int32`)"),
     _has(r"(?<![\w.])(?:float|int)\b", "annotations")),
    (Feature("plain_vec3", "`wp.vec3` (not `wp.vec3f` / `wp.vec3d`)"), _has(r"\bwp\.vec3\b")),
    (Feature("vector", "a vector type (`vec2`, `vec3`, `vec4`)"), _has(r"\bwp\.vec[234]")),
    (Feature("matrix", "a matrix type (`mat22`, `mat33`, `mat44`)"), _has(r"\bwp\.mat[234]{2}")),
    (Feature("quaternion", "`wp.quat*`"), _has(r"\bwp\.quat")),
    (Feature("transform", "`wp.transform*`"), _has(r"\bwp\.transform")),
    (Feature("spatial", "`wp.spatial_*`"), _has(r"\bwp\.spatial_")),
    (Feature("float64", "`float64` values"), _has(r"float64|vec[234]d\b|mat[234]{2}d\b|quatd\b")),
    (Feature("float16", "`float16` values"), _has(r"float16|vec[234]h\b|mat[234]{2}h\b|quath\b")),
    (Feature("bfloat16", "`bfloat16` values"), _has(r"bfloat16")),
    (Feature("small_int", "8-, 16- or 64-bit or unsigned integer types"),
     _has(r"\bwp\.u?int(?:8|16|64)\b|\bwp\.uint32\b")),
    (Feature("bitwise", "`&`, `|`, `^`, `<<`, `>>` or `~`"),
     lambda p: any(isinstance(n, (ast.BinOp, ast.UnaryOp)) and isinstance(
         n.op, (ast.BitAnd, ast.BitOr, ast.BitXor, ast.LShift, ast.RShift, ast.Invert)) for n in p.nodes)),
    (Feature("transcendental", "`sin`, `cos`, `exp`, `log`, `sqrt`, `pow`, ..."), _calls(*_TRANSCENDENTAL)),
    (Feature("vector_math", "`dot`, `cross`, `length`, `normalize`"), _calls("dot", "cross", "length", "normalize")),
    (Feature("random", "Warp's random numbers (`rand_init`, `randf`, ...)"),
     _calls("rand_init", "randf", "randi", "randn", "randu", "noise", "pnoise")),
    (Feature("geometry_query", "mesh, BVH, hash-grid or volume queries"),
     lambda p: any(c.startswith(("mesh_", "bvh_", "hash_grid_", "volume_")) for c in p.calls)),
    (Feature("tile", "tile primitives (`wp.tile_*`)"), lambda p: any(c.startswith("tile") for c in p.calls)),
    (Feature("long_kernel", "a kernel of 40 lines or more (several stages)", True),
     lambda p: any((k.end_lineno or k.lineno) - k.lineno + 1 >= 40 for k in p.kernels)),
]
FEATURES: tuple[Feature, ...] = tuple(f for f, _ in _SPECS)
IDIOMS: tuple[str, ...] = tuple(f.name for f in FEATURES if f.idiom)


def features_of(source: str, parsed: Parsed | None = None) -> set[str]:
    """The names of the :data:`FEATURES` ``source`` has (none when it does not parse)."""
    parsed = parsed if parsed is not None else Parsed(source)
    if parsed.tree is None:
        return set()
    program = _Program(parsed)
    return {feature.name for feature, detect in _SPECS if detect(program)}
