"""Extract one :class:`~extraction.record.KernelRecord` per Warp kernel."""

from __future__ import annotations

import hashlib
import inspect
import logging
import os
import re
import textwrap
import types
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from common.errors import WarpIRError
from extraction import _warp, cut
from extraction.loader import load_target
from extraction.module_code import ModuleCode
from extraction.record import TARGETS, KernelRecord, Source, Validation
from extraction.warp_objects import (
    function_python_object,
    is_generic_kernel,
    kernel_enable_backward,
    kernel_overloads,
    kernel_python_function,
    kernels_in,
    module_of,
    struct_python_class,
)

logger = logging.getLogger(__name__)

_TID_RE = re.compile(r"builtin_tid(\d)d\(")
_FLOATY_RE = re.compile(r"float|vec|mat|quat|transform|spatial", re.IGNORECASE)
_SPDX_RE = re.compile(r"SPDX-License-Identifier:\s*(.*?)(?:\s|\*/|[\"',])*$")  # without closing quotes or */
SPDX_HEADER_LINES = 30  # an SPDX header counts only in a file's first lines, as the REUSE tools read it


class ExtractionError(WarpIRError):
    """Warp rejected a program, or its kernel could not be found in the generated code."""


def warp_error_message(exc: BaseException) -> str:
    """One line saying why Warp rejected a program, without the file/line preamble Warp puts first.

    Warp reports parse errors as ``Error while parsing function "f" at FILE:LINE:`` followed by
    the reason on the next line; the reason is what groups rejections, so it comes first.
    """
    text = str(exc).strip()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if len(lines) > 1 and lines[0].startswith("Error while parsing"):
        where = re.sub(r" at .*", "", lines[0].removeprefix("Error while parsing "))
        reason = next((ln.lstrip(";").strip() for ln in lines[1:] if ln.startswith(";")), lines[-1])
        return f"{type(exc).__name__}: {reason} (in {where})"
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"


def _kernel_symbols(prefix: str, target: str) -> tuple[str, str]:
    return f"{prefix}_{target}_kernel_forward", f"{prefix}_{target}_kernel_backward"


def cut_kernel(code: ModuleCode, prefix: str) -> tuple[str, str, list[str]]:
    """Cut a kernel's forward and backward code (with the helpers and structs it needs).

    Args:
        code: Generated module source for one target.
        prefix: The kernel's symbol prefix ``<name>_<hash>``.

    Returns:
        ``(forward, backward, helper_native_names)``; ``backward`` is ``""`` when Warp
        generated no backward kernel.

    Raises:
        ExtractionError: The forward kernel is not in the generated source.
    """
    fwd_name, bwd_name = _kernel_symbols(prefix, code.target)
    forward = cut.find_definition(code.source, fwd_name)
    if forward is None:
        raise ExtractionError(f"kernel symbol {fwd_name} not found in generated {code.target} code")
    backward = cut.find_definition(code.source, bwd_name) or ""

    fwd_bodies = {n: b for n in code.functions if (b := cut.find_definition(code.source, n))}
    adj_bodies = {n: b for n in code.functions if (b := cut.find_definition(code.source, "adj_" + n))}

    fwd_helpers = cut.closure(forward + backward, fwd_bodies)
    adj_helpers = cut.closure(backward, adj_bodies, prefix="adj_") if backward else []
    helper_code = "".join(fwd_bodies[n] for n in fwd_helpers) + "".join(adj_bodies[n] for n in adj_helpers)

    struct_bodies = {n: b for n in code.structs if (b := cut.find_struct(code.source, n))}
    structs = cut.closure(forward + backward + helper_code, struct_bodies)
    args_struct = cut.find_struct(code.source, f"wp_args_{prefix}") or ""

    forward_parts = [struct_bodies[n] for n in structs] + [fwd_bodies[n] for n in fwd_helpers]
    forward_parts += [args_struct, forward]
    backward_parts = [adj_bodies[n] for n in adj_helpers] + ([backward] if backward else [])
    join = lambda parts: cut.strip_trailing_blank("\n\n".join(p.strip("\n") for p in parts if p))  # noqa: E731
    helpers = list(dict.fromkeys(fwd_helpers + adj_helpers))
    return join(forward_parts), join(backward_parts), helpers


def _python_source(kernel: Any, helpers: Sequence[Any], structs: Sequence[Any]) -> str:
    """Kernel source with the structs and ``@wp.func`` helpers it uses, in file order."""
    pieces: dict[tuple[str, int], str] = {}
    for obj in [*structs, *helpers, kernel]:
        try:
            lines, start = inspect.getsourcelines(obj)
        except (OSError, TypeError):
            continue
        # dedent: a kernel or helper defined in a class body (or a function) is indented in its file
        pieces[(inspect.getsourcefile(obj) or "", start)] = textwrap.dedent("".join(lines))
    return "\n\n".join(text.rstrip("\n") for _, text in sorted(pieces.items())) + "\n"


def _structs_used(code_text: str, code: ModuleCode) -> list[Any]:
    return [struct_python_class(code.structs[n]) for n in cut.calls_of(code_text, code.structs)]


def extract_module(
    py_module: types.ModuleType,
    targets: Sequence[str] = TARGETS,
    program_source: str | None = None,
    kernel_names: Sequence[str] | None = None,
) -> list[KernelRecord]:
    """Generate code for every kernel of a Python module and cut one record per kernel.

    Args:
        py_module: A module whose top level defines ``@wp.kernel`` functions.
        targets: Any of ``"cpu"`` and ``"cuda"``.
        program_source: When given, used as every record's ``python_source`` (the whole
            program, for generated single-kernel programs); otherwise each record gets its
            kernel plus the structs and helpers it uses.
        kernel_names: Only extract these kernels (default: all of them).

    Returns:
        One record per kernel (one per overload of a generic kernel), in definition order.

    Raises:
        ExtractionError: Warp rejected the program (its message is kept) or no kernel was found.
    """
    kernels = [k for k in kernels_in(py_module) if kernel_names is None or k.key in kernel_names]
    if not kernels:
        raise ExtractionError(f"no Warp kernels found in {py_module.__name__}")
    return extract_kernels(kernels, targets, program_source, py_module.__name__)


def extract_kernels(
    kernels: Sequence[Any],
    targets: Sequence[str] = TARGETS,
    program_source: str | None = None,
    module_name: str = "",
    only_these: bool = False,
) -> list[KernelRecord]:
    """Cut one record per kernel out of the code Warp generates for the modules they live in.

    Works for any kernel objects, including those made at run time (e.g. by ``warp.fem``).
    Generic kernels are replaced by the overloads that exist.

    Args:
        kernels: Warp kernels.
        targets: Any of ``"cpu"`` and ``"cuda"``.
        program_source: Every record's ``python_source`` when given (see :func:`extract_module`).
        module_name: Recorded as ``module_name``; stripped from struct type names.
        only_these: Generate code for ``kernels`` alone, not for every kernel of their modules (a kernel
            of the module that Warp rejects then costs nothing to the others).

    Raises:
        ExtractionError: Warp rejected a module, or a kernel is missing from its generated code.
    """
    requested = list(kernels)
    kernels = [k for k in kernels if not is_generic_kernel(k)] + [
        o for k in kernels if is_generic_kernel(k) for o in kernel_overloads(k)
    ]
    by_module: dict[int, Any] = {}
    for k in kernels:
        by_module.setdefault(id(module_of(k)), module_of(k))

    wanted = {id(k) for k in kernels}
    strip = f"{module_name}." if module_name else None
    records: dict[int, KernelRecord] = {}
    for module in by_module.values():
        for target in targets:
            try:
                subset = [k for k in requested if module_of(k) is module] if only_these else None
                code = _warp.codegen_module(module, target, subset)
            except Exception as exc:
                raise ExtractionError(warp_error_message(exc)) from exc
            for kernel, prefix in code.kernels:
                if id(kernel) not in wanted:
                    continue
                forward, backward, helper_names = cut_kernel(code, prefix)
                rec = records.get(id(kernel))
                if rec is None:
                    helper_funcs = [function_python_object(code.functions[n]) for n in helper_names]
                    structs = _structs_used(forward + backward, code)
                    src = program_source or _python_source(
                        kernel_python_function(kernel), [f for f in helper_funcs if f], structs
                    )
                    rec = records[id(kernel)] = KernelRecord(
                        kernel_name=kernel.key,
                        python_source=src,
                        arguments=[{"name": n, "type": t.replace(strip, "") if strip else t}
                                   for n, t in _warp.kernel_args(kernel)],
                        helper_functions=sorted({getattr(f, "__name__", n)
                                                 for n, f in zip(helper_names, helper_funcs)}),
                        warp_version=_warp.warp_version(),
                        module_name=module_name,
                    )
                    enable_backward = kernel_enable_backward(kernel, module)
                    float_args = any(_FLOATY_RE.search(a["type"]) for a in rec.arguments)
                    rec.differentiable = bool(enable_backward and backward and float_args)
                    rec.validation = Validation(differentiable=rec.differentiable)
                    dims = [int(d) for d in _TID_RE.findall(forward)]
                    rec.launch_dim = max(dims) if dims else None
                rec.generated[target] = code.source
                setattr(rec, f"{'cpp' if target == 'cpu' else 'cuda'}_forward", forward)
                setattr(rec, f"{'cpp' if target == 'cpu' else 'cuda'}_backward", backward)
    ordered = [records[id(k)] for k in kernels if id(k) in records]
    if len(ordered) != len(kernels):
        missing = [k.key for k in kernels if id(k) not in records]
        raise ExtractionError(f"kernels missing from generated code: {', '.join(missing)}")
    return ordered


def spdx_license(text: str) -> str:
    """The license an ``SPDX-License-Identifier: EXPR`` line in the first :data:`SPDX_HEADER_LINES` lines names.

    The line is usually a comment (``# SPDX-License-Identifier: MIT``); one in a module docstring counts too.

    Returns:
        ``EXPR`` (``MIT``, ``Apache-2.0 OR MIT``), or ``""`` when no such comment is there.
    """
    for line in text.splitlines()[:SPDX_HEADER_LINES]:
        match = _SPDX_RE.search(line)
        if match and match[1]:
            return match[1]
    return ""


def user_path(target_file: str | os.PathLike[str], module_name: str = "") -> str:
    """How a user's file is named in its records: never an absolute path.

    Args:
        target_file: The file.
        module_name: The dotted name it was imported under, when it was imported as a module.

    Returns:
        A module's file relative to the folder its top-level package is in
        (``mypkg/kernels.py``); any other file relative to the current folder when it is inside
        it (``src/kernels.py``), else its file name alone (``kernels.py``).
    """
    path = Path(os.path.abspath(target_file))
    if module_name:
        depth = len(module_name.split("."))  # mypkg.kernels -> mypkg/kernels.py, mypkg -> mypkg/__init__.py
        try:
            return path.relative_to(path.parents[depth - 1 if path.name != "__init__.py" else depth]).as_posix()
        except IndexError:  # a module whose file is not where its name says (a loader of its own)
            return path.name
    try:
        return path.relative_to(os.path.abspath(os.getcwd())).as_posix()
    except ValueError:
        return path.name


def user_record_id(kind: str, path: str, rec: KernelRecord) -> str:
    """Stable row id of a kernel extracted from a user's code: 16 hex digits of a SHA-256.

    Over the source kind, the file's recorded path, the kernel's name, its Python source and its
    argument types (the overloads of a generic kernel differ only there): the same file gives the
    same ids in every run, on every machine.
    """
    args = ",".join(f"{a['name']}:{a['type']}" for a in rec.arguments)
    text = "\0".join((kind, path, rec.kernel_name, rec.python_source, args))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def mark_user_records(records: Sequence[KernelRecord], py_module: types.ModuleType,
                      target: str) -> list[KernelRecord]:
    """Give the records of a user's file or module the provenance that is known about them.

    ``source.kind`` is ``user``; ``source.path`` the file as :func:`user_path` names it;
    ``source.module`` the module name (a file's stem for a ``.py`` target); ``source.first_line`` /
    ``last_line`` the kernel's definition (decorators included); ``source.license`` only what an
    SPDX header of the file says (else ``""``); package, version and repository are left empty
    (nothing here says which distribution, if any, the code belongs to). ``id`` is
    :func:`user_record_id`.

    Args:
        records: Records of :func:`extract_module` on ``py_module``.
        py_module: The loaded target.
        target: What the user named: a ``.py`` path or a module name.

    Returns:
        ``records``, changed in place.
    """
    is_file = target.endswith(".py") or "/" in target or os.path.exists(target)
    file = target if is_file else (getattr(py_module, "__file__", None) or "")
    module = Path(target).stem if is_file else py_module.__name__
    path = user_path(file, "" if is_file else module) if file else ""
    try:
        text = Path(file).read_text(encoding="utf-8", errors="replace") if file else ""
    except OSError:
        text = ""
    license_expr = spdx_license(text)
    lines: dict[str, tuple[int, int]] = {}
    for kernel in kernels_in(py_module):
        try:
            body, start = inspect.getsourcelines(kernel_python_function(kernel))
        except (OSError, TypeError):
            continue
        lines[kernel.key] = (start, start + len(body) - 1)
    for rec in records:
        first, last = lines.get(rec.kernel_name, (0, 0))
        rec.source = Source(kind="user", package="", package_version="", module=module, path=path, first_line=first,
                            last_line=last, license=license_expr, license_file="", repository="")
        rec.id = user_record_id("user", path, rec)
    return list(records)


def extract_target(target: str, targets: Sequence[str] = TARGETS) -> list[KernelRecord]:
    """Load ``target`` (a ``.py`` path or module name) and extract all of its kernels.

    Loading runs the target's top-level code in this process: a target that loops forever hangs
    the caller and one that calls ``sys.exit`` ends it. :func:`extract_in_child` is the isolated
    form (a child process with a time limit), for targets that are not trusted to behave.

    The records carry the user's provenance (``source.kind`` ``user``, the file's relative path, the
    license of its SPDX header, a stable ``id``): see :func:`extraction.extract.mark_user_records`.

    Raises:
        LoadError: The target could not be loaded.
        ExtractionError: It has no kernels, or Warp rejected them.
    """
    _warp.init_quiet()
    module = load_target(target)
    return mark_user_records(extract_module(module, targets), module, target)
