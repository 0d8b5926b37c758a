"""A mined kernel as a whole program: the text a user could save as a file, whose code is the row's.

A kernel in a package uses names its own text does not define: ``wp``, module constants, enums, custom
vector types, structs, ``@wp.func`` helpers from other modules, values a factory captured. A row whose
``python_source`` is the kernel alone asks a model to guess them. :func:`kernel_program` writes the
program instead, in this order:

* the imports of the modules the code names (``import warp as wp``, ``import numpy as np``);
* the Warp module options its package set, when they change the code (``wp.set_module_options``);
* every value the code reads (a module global or a factory's captured value) as a module constant
  (``MJ_MINVAL = 1e-15``, ``vec10 = wp.types.vector(length=10, dtype=wp.float32)``);
* the source of every function, class, enum and struct it uses, from any module of the package
  (each with its own names, recursively), dependencies first (a module read as ``math.f``: a class ``math``);
* the kernel; for one overload of a generic kernel, a ``wp.overload`` declaration of its concrete types
  (the kernel's text stays as its package wrote it: the overload is declared beside it).

Objects of other distributions are imported (:mod:`generator.real.literals`). Where each pulled-in
definition came from is returned beside the text (:class:`Definition`); what cannot be written raises
:class:`NotSelfContained`.
"""

from __future__ import annotations
import __future__

import ast
import builtins
import inspect
import math
import textwrap
import types
import typing
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import warp as wp

from extraction.warp_objects import (
    function_python_object,
    is_warp_function,
    is_warp_struct,
    kernel_arg_types,
    kernel_python_function,
    struct_python_class,
    type_expression,
)
from generator.real.backward import byte_span, line_starts
from generator.real.literals import (
    NotSelfContained,
    external_module,
    module_import,
    public_import,
    value_expression,
)

# module options a package may set that change the generated code (the others change how it is compiled)
CODE_OPTIONS = ("max_unroll", "fast_math", "fuse_fp", "lineinfo", "mode", "block_dim", "default_grid_stride",
                "strip_hash")
_IMPORTED_TOPS = frozenset({"warp", "numpy", "math", "typing", "enum", "functools", "ctypes"})


@dataclass(frozen=True, slots=True)
class Definition:
    """Where a definition the program pulled in comes from."""

    name: str
    kind: str  # function, struct, class, constant, type
    module: str
    path: str
    first_line: int
    last_line: int

    def to_json(self) -> dict[str, Any]:
        """Plain JSON form."""
        return asdict(self)


def _bound_names(node: ast.AST) -> tuple[set[str], set[str]]:
    """Names a function or class reads, and those it binds itself (arguments, assignments, loop targets)."""
    loads: set[str] = set()
    stores: set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            (loads if isinstance(sub.ctx, ast.Load) else stores).add(sub.id)
        elif isinstance(sub, ast.arg):
            stores.add(sub.arg)
        elif isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and sub is not node:
            stores.add(sub.name)
        elif isinstance(sub, (ast.Import, ast.ImportFrom)):
            stores.update((a.asname or a.name).split(".")[0] for a in sub.names)
        elif isinstance(sub, (ast.ExceptHandler, ast.MatchAs, ast.MatchStar)) and sub.name:
            stores.add(sub.name)
    return loads, stores


def _source_of(obj: Any) -> tuple[str, int, int, str]:
    """``(dedented source, first line, last line, file)`` of a function or class."""
    try:
        lines, start = inspect.getsourcelines(obj)
        file = inspect.getsourcefile(obj) or ""
    except (OSError, TypeError) as exc:
        raise NotSelfContained(f"no source for {getattr(obj, '__qualname__', obj)!r}") from exc
    return textwrap.dedent("".join(lines)), start, start + len(lines) - 1, file


_MISSING = object()


def _own_module(module: types.ModuleType, own: Sequence[str]) -> bool:
    """A module of the package being mined (Warp, NumPy and the standard library are imported, even in warp-lang)."""
    top = module.__name__.split(".")[0]
    return top in own and top not in _IMPORTED_TOPS


class _Namespace:
    """What a name bound to a namespace of a package module's definitions stands for."""


class _Program:
    """The program being written: names bound so far, imports, and definitions in dependency order."""

    def __init__(self, own: Sequence[str], root: Path | None) -> None:
        self.own, self.root = tuple(own), root
        self.bound: dict[str, Any] = {}
        self.imports: dict[str, str] = {}
        self.blocks: list[str] = []
        self.defined: list[Definition] = []
        self._visiting: set[int] = set()
        self.namespaces: dict[str, tuple[types.ModuleType, set[str]]] = {}
        self.postponed = False  # a pulled-in class was written for postponed annotations (PEP 563)

    def _path(self, file: str) -> str:
        if self.root is not None:
            try:
                return Path(file).resolve().relative_to(self.root).as_posix()
            except ValueError:
                pass
        return Path(file).name

    def bind(self, name: str, value: Any) -> None:
        """Make ``name`` mean ``value`` in the program: an import, a constant or a pulled-in definition."""
        if name in self.bound:
            if self.bound[name] is value or _same(self.bound[name], value):
                return
            raise NotSelfContained(f"two different values named {name!r}")
        self.bound[name] = value
        if isinstance(value, types.ModuleType):
            if _own_module(value, self.own):
                raise NotSelfContained(f"reads its package through the module {value.__name__} ({name}.<...>), "
                                       "whose definitions are not pulled in")
            self.imports[name] = module_import(name, value)
            return
        if value is typing.Any or isinstance(value, (typing.TypeVar,)) or getattr(value, "__module__", "") == "typing":
            self.imports[name] = f"from typing import {name}" if getattr(typing, name, None) is value else \
                f"import typing as _typing\n{name} = _typing.{getattr(value, '_name', name)}"
            return
        if isinstance(value, type) and not is_warp_struct(value) and type_expression(value) is not None:
            self._type_constant(name, value)  # a Warp type (wp.vec3, a vector type the package made)
            return
        obj = struct_python_class(value) if is_warp_struct(value) else \
            function_python_object(value) if is_warp_function(value) else value
        if not inspect.isclass(obj) and inspect.isfunction(getattr(obj, "__wrapped__", None)):
            obj = obj.__wrapped__  # functools.cache and the like: its source (decorators included) is the function's
        external = external_module(obj, self.own) if inspect.isfunction(obj) or inspect.isclass(obj) else None
        if external is not None:
            line = public_import(value, name, external)
            if line is None:
                raise NotSelfContained(f"{name!r} ({external}) cannot be imported by a public name")
            self.imports[name] = line
            return
        if inspect.isfunction(obj) or inspect.isclass(obj):
            self.define(name, value, obj)
            return
        self.blocks.append(f"{name} = {value_expression(value)}")
        self._needs_for_expr(self.blocks[-1])

    def _type_constant(self, name: str, value: Any) -> None:
        expr = type_expression(value)
        if getattr(wp, name, None) is value:
            self.imports[name] = f"from warp import {name}"
            return
        self.blocks.append(f"{name} = {expr}")
        self._needs_for_expr(self.blocks[-1])

    def _needs_for_expr(self, text: str) -> None:
        if "wp." in text:
            self.bind("wp", wp)
        if "np." in text:
            self.bind("np", np)
        if "math." in text:
            self.bind("math", math)

    def define(self, name: str, value: Any, obj: Any) -> None:
        """Pull in the source of a function or class, after what it uses."""
        if id(obj) in self._visiting:
            return
        self._visiting.add(id(obj))
        text, first, last, file = _source_of(obj)
        tree = ast.parse(text)
        node = tree.body[0]
        if not isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            raise NotSelfContained(f"{name!r} is not defined by a def or class statement")
        alias = node.name != name  # `AllShapes = ShapesLibrary`: the definition, then the name the code reads
        if alias and node.name in self.bound and self.bound[node.name] is not value:
            # a factory made two definitions from one text: this one is written under the name the code reads
            keyword = "class" if isinstance(node, ast.ClassDef) else "def"
            text = text.replace(f"{keyword} {node.name}", f"{keyword} {name}", 1)
            alias = False
        elif alias:
            self.bound[node.name] = value
        if is_warp_function(value) and not node.decorator_list:  # made by a call, not a decorator
            text = "@wp.func\n" + text
        if is_warp_struct(value) and not node.decorator_list:
            text = "@wp.struct\n" + text
        if inspect.isclass(obj) and not is_warp_struct(value) and _postponed_annotations(obj):
            self.postponed = True  # its methods' annotations may name the class itself, or what comes after it
        self.uses(obj, node)
        self.blocks.append(text.rstrip("\n") + (f"\n\n\n{name} = {node.name}" if alias else ""))
        self.defined.append(Definition(name, "struct" if is_warp_struct(value) else
                                       "function" if inspect.isfunction(obj) else "class",
                                       getattr(obj, "__module__", ""), self._path(file), first, last))

    def uses(self, obj: Any, node: ast.AST) -> None:
        """Bind every name ``node`` (the source of ``obj``) reads and does not bind itself."""
        loads, stores = _bound_names(node)
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            loads |= {n.id for d in node.decorator_list for n in ast.walk(d) if isinstance(n, ast.Name)}
        closure = inspect.getclosurevars(obj).nonlocals if inspect.isfunction(obj) else {}
        module_globals = getattr(obj, "__globals__", None) or vars(inspect.getmodule(obj) or types.ModuleType("_"))
        attrs: dict[str, set[str]] = {}  # name -> the attributes the code reads of it (`math.safe_div`)
        for sub in ast.walk(node):
            if isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Name):
                attrs.setdefault(sub.value.id, set()).add(sub.attr)
        for name in sorted(loads - stores - {getattr(node, "name", "")}):
            value = closure[name] if name in closure else module_globals.get(name, _MISSING)
            if isinstance(value, types.ModuleType) and _own_module(value, self.own):
                self.namespace(name, value, attrs.get(name, set()))
            elif value is not _MISSING:
                self.bind(name, value)
            elif hasattr(builtins, name):
                continue
            else:
                raise NotSelfContained(f"{name!r} is not defined where the code reads it")

    def namespace(self, name: str, module: types.ModuleType, attrs: set[str]) -> None:
        """The code reads ``name.attr`` of a module of its package: pull in each ``attr`` it reads, then a class
        ``name`` holding them (Warp resolves ``name.attr`` on a class as on a module)."""
        known = self.namespaces.setdefault(name, (module, set()))
        if known[0] is not module:
            raise NotSelfContained(f"two different modules named {name!r}")
        if name in self.bound and not isinstance(self.bound[name], _Namespace):
            raise NotSelfContained(f"{name!r} names a module of the package and something else")
        new = sorted(attrs - known[1])
        for attr in new:
            if not hasattr(module, attr):
                raise NotSelfContained(f"{module.__name__} has no {attr!r}")
            self.bind(attr, getattr(module, attr))
        if name not in self.bound:
            self.bound[name] = _Namespace()
            body = "".join(f"    {a} = {a}\n" for a in new) or "    pass\n"
            self.blocks.append(f"class {name}:  # what the code reads of {module.__name__}\n{body.rstrip()}")
        else:  # read further by a later definition: added after what it needs, before that definition
            self.blocks += [f"{name}.{a} = {a}" for a in new]
        known[1].update(new)

    def text(self, tail: str) -> str:
        """The whole program: imports, then options, constants and definitions (each after what it uses), ``tail``."""
        imports = sorted(set(self.imports.values()), key=lambda line: (not line.startswith("import"), line))
        if self.postponed:
            imports.insert(0, "from __future__ import annotations\n")
        parts = ["\n".join(imports)] if imports else []
        singles: list[str] = []  # consecutive one-line blocks share a paragraph
        for block in self.blocks:
            if "\n" not in block and not block.startswith(("@", "def ", "class ")):
                singles.append(block)
                continue
            if singles:
                parts.append("\n".join(singles))
                singles = []
            parts.append(block)
        if singles:
            parts.append("\n".join(singles))
        parts.append(tail.rstrip("\n"))
        return "\n\n\n".join(parts) + "\n"


def _postponed_annotations(obj: Any) -> bool:
    """Whether ``obj``'s module says ``from __future__ import annotations``."""
    return getattr(inspect.getmodule(obj), "annotations", None) is __future__.annotations


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(type(a) is type(b) and a == b)
    except Exception:  # arrays and other values without a plain equality
        return False


def _reachable(func: Any) -> dict[str, Any]:
    """The names a function's code can read: builtins, its module's globals, the values its closure captured."""
    return {**vars(builtins), **(getattr(func, "__globals__", None) or {}), **inspect.getclosurevars(func).nonlocals}


def _unreachable(nodes: Sequence[ast.AST], func: Any) -> bool:
    """Whether any of ``nodes`` reads a name ``func`` cannot reach (a factory's local it never captured)."""
    known = _reachable(func)
    return any(n.id not in known for node in nodes for n in ast.walk(node) if isinstance(n, ast.Name))


def _resolved_annotations(text: str, node: ast.FunctionDef, func: Any, kernel: Any) -> tuple[str, ast.FunctionDef]:
    """The kernel's text with each argument annotation that names what the kernel cannot reach (a factory's local,
    read when the factory ran and never captured) written as the type Warp resolved it to."""
    known = _reachable(func)
    resolved = dict(kernel_arg_types(kernel))
    starts = line_starts(text)
    cuts = []
    for arg in node.args.args:
        ann = arg.annotation
        if ann is None or all(n.id in known for n in ast.walk(ann) if isinstance(n, ast.Name)):
            continue
        expr = type_expression(resolved.get(arg.arg))
        if expr is None:
            continue  # left as it is: reported as not defined
        cuts.append((*byte_span(ann, starts), expr))
    if not cuts:
        return text, node
    data = text.encode()
    for start, end, expr in sorted(cuts, reverse=True):
        data = data[:start] + expr.encode() + data[end:]
    text = data.decode()
    new = ast.parse(text).body[0]
    assert isinstance(new, ast.FunctionDef)
    return text, new


def _warp_decorated(node: ast.FunctionDef, func: Any) -> bool:
    """Whether the kernel's decorators are Warp's own ``wp.kernel`` (bare or called), nothing else."""
    if not node.decorator_list:
        return False
    names = {**vars(builtins), **getattr(func, "__globals__", {})}
    for deco in node.decorator_list:
        expr = deco.func if isinstance(deco, ast.Call) else deco
        chain = []
        while isinstance(expr, ast.Attribute):
            chain.append(expr.attr)
            expr = expr.value
        if not isinstance(expr, ast.Name) or expr.id not in names:
            return False
        obj = names[expr.id]
        for attr in reversed(chain):
            obj = getattr(obj, attr, None)
        if obj is not wp.kernel:
            return False
    return True


def _kernel_decorator(kernel: Any, backward: bool) -> str:
    """``@wp.kernel(...)`` with the kernel's own options (what its factory or its package's decorator passed)."""
    options = {k: v for k, v in sorted(kernel.options.items()) if not (k == "enable_backward" and backward)}
    if any(not isinstance(v, (bool, int, float, str, tuple, type(None))) for v in options.values()):
        raise NotSelfContained(f"kernel options it cannot write: {sorted(options)}")
    if kernel.module.name != kernel_python_function(kernel).__module__:
        options = {"module": "unique", **options}
    return "@wp.kernel" + (f"({', '.join(f'{k}={v!r}' for k, v in options.items())})" if options else "")


def kernel_program(kernel: Any, overload: Any | None = None, own: Sequence[str] = (), root: Path | None = None,
                   module_options: dict[str, Any] | None = None, backward: bool = True) -> tuple[str, list[Definition]]:
    """The whole program of one mined kernel (see the module's documentation).

    Args:
        kernel: The kernel (a generic kernel when ``overload`` is given).
        overload: The overload of a generic kernel the row is for.
        own: Top-level import names of the package being mined (its objects are copied, others imported).
        root: Folder paths of pulled-in definitions are written relative to.
        module_options: Module options to set in the program (:data:`CODE_OPTIONS` that differ from Warp's).
        backward: The row has backward code (a decorator warp-ir writes then leaves ``enable_backward`` out).

    Raises:
        NotSelfContained: Something the kernel uses cannot be written into the program.
    """
    program = _Program(own, root)
    func = kernel_python_function(kernel)
    text, _, _, _ = _source_of(func)
    node = ast.parse(text).body[0]
    if not isinstance(node, ast.FunctionDef):
        raise NotSelfContained("the kernel is not defined by a def statement")
    program.bind("wp", wp)
    program._visiting.add(id(func))
    if not _warp_decorated(node, func) or _unreachable(node.decorator_list, func):
        # a factory applied wp.kernel by a call, a package's own decorator, or options computed from what the
        # kernel cannot reach (`@wp.kernel(module=make_module(dtype))` with a factory's local `dtype`)
        lines = text.splitlines(keepends=True)
        first = node.decorator_list[0].lineno - 1 if node.decorator_list else node.lineno - 1
        text = "".join(lines[:first]) + _kernel_decorator(kernel, backward) + "\n" + "".join(lines[node.lineno - 1:])
        node.decorator_list = []
    text, node = _resolved_annotations(text, node, func, kernel)
    program.uses(func, node)
    if node.name in program.bound:
        raise NotSelfContained(f"the kernel's name {node.name!r} also names something it uses")
    tail = text
    if overload is not None:
        args = []
        for arg_name, arg_type in kernel_arg_types(overload):
            expr = type_expression(arg_type)
            if expr is None:
                raise NotSelfContained(f"an argument type it cannot write: {arg_type!r}")
            if is_warp_struct(arg_type) or (wp.types.is_array(arg_type) and is_warp_struct(arg_type.dtype)):
                struct = arg_type if is_warp_struct(arg_type) else arg_type.dtype
                program.bind(struct_python_class(struct).__name__, struct)
            program._needs_for_expr(expr)
            args.append(f'"{arg_name}": {expr}')
        tail += f"\n\nwp.overload({node.name}, {{{', '.join(args)}}})"
    module_options = dict(module_options or {})
    if backward and any(line.split()[1].split(".")[0] not in _IMPORTED_TOPS for line in program.imports.values()):
        # a package may switch the adjoint off for every module created after it is imported
        # (warp-simdata sets wp.config.enable_backward = False): the program's text says it wants it
        module_options.setdefault("enable_backward", True)
    if module_options:
        program.blocks.insert(0, f"wp.set_module_options({dict(sorted(module_options.items()))!r})")
    return program.text(tail), program.defined

