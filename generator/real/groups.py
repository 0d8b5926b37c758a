"""Extract one mined module's kernels: as a group, one by one when that fails, then with their launch ``block_dim``.

A module's kernels are extracted together (code generated for them alone, :func:`extraction.extract_kernels`);
when Warp rejects the group, each kernel is retried on its own so that one bad kernel costs only itself, and
a tile kernel that the default block size breaks is retried with each ``block_dim`` its module launches it
with. The instances of one factory's kernel share a :func:`variant_key`. Warp's absolute source paths in
code and errors are made relative to the package root (:func:`relative_paths`).
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import inspect
import json
import logging
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import warp as wp

from extraction import _warp
from extraction.extract import extract_kernels
from extraction.record import KernelRecord
from extraction.warp_objects import (
    backward_enabled,
    is_generic_kernel,
    kernel_enable_backward,
    kernel_overloads,
    kernel_python_function,
    module_of,
    warp_module_name,
)
from generator.codegen.pipeline import reason_of
from generator.real.report import PackageReport

logger = logging.getLogger(__name__)

# "In function 'k' at path.py:12: " before Warp's message: kernels that fail for one reason are counted together
_IN_FUNCTION_RE = re.compile(r"In function '[^']*' at [^:]*:\d+: ")


def arg_signature(rec: KernelRecord) -> str:
    """A record's arguments as ``name:type,...`` (what tells the overloads of one kernel apart)."""
    return ",".join(f"{a['name']}:{a['type']}" for a in rec.arguments)


def kernel_label(kernel: Any) -> str:
    """``module:qualname`` of the function a kernel was defined from (how reports name it)."""
    func = kernel_python_function(kernel)
    return f"{func.__module__}:{func.__qualname__}"


def extract_group(kernels: list[Any], module_name: str, targets: Sequence[str],
                  backward: bool = True) -> list[KernelRecord]:
    """Extract a group of kernels of one Python module built in one Warp module (code generated for them alone).

    With ``backward`` Warp generates their backward code even where their package switches it off
    (:func:`extraction.warp_objects.backward_enabled`); without it, the package's own settings hold.
    """
    with backward_enabled(kernels) if backward else contextlib.nullcontext():
        return extract_kernels(kernels, targets, module_name=module_name, only_these=True)


def variant_key(kernel: Any) -> str:
    """What instances of one factory's kernel share: the kernel's exact Python source, the sources of the Warp
    functions its closure captured, and its argument types (they differ only in captured values).

    Exact text, not the normalised one: two kernels that differ only in which global helper they call
    normalise alike but generate different rows (the duplicate filter after extraction compares those).
    """
    func = kernel_python_function(kernel)
    parts = [inspect.getsource(func)]
    for cell in func.__closure__ or ():
        try:
            captured = cell.cell_contents
        except ValueError:  # an empty cell
            continue
        inner = getattr(captured, "func", None)
        if callable(inner) and hasattr(inner, "__code__"):
            try:
                parts.append(inspect.getsource(inner))
            except (OSError, TypeError):
                parts.append(repr(captured))
    parts.append(",".join(t for _, t in _warp.kernel_args(kernel)))
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def extract_isolated(group: list[Any], module_name: str, targets: Sequence[str],
                      report: PackageReport, root: Path) -> list[tuple[Any, list[KernelRecord]]]:
    """Extract a group at once; when that fails, kernel by kernel so one bad kernel costs only itself.

    Returns ``(kernel, records)`` in group order (a generic kernel gives one record per overload).
    """
    expected = [len(kernel_overloads(k)) if is_generic_kernel(k) else 1 for k in group]
    try:
        recs = extract_group(group, module_name, targets)
    except Exception as exc:
        logger.info("group %s failed (%s); retrying kernel by kernel", module_name, reason_of(exc))
    else:
        if len(recs) == sum(expected):
            return _split_by_kernel(group, expected, recs)
    out = []
    for k, n in zip(group, expected):
        try:
            recs = extract_group([k], module_name, targets)
        except Exception as exc:  # Warp rejecting real code is counted with its reason
            retried = _extract_with_launch_block_dim(k, module_name, targets)
            if retried is None:
                retried = _extract_as_shipped(k, module_name, targets, exc, report, root, n)
                if retried is None:
                    reason = relative_paths(reason_of(exc), root)
                    report.failed[reason] += n
                    report.failed_kernels[kernel_label(k)] = reason
                    continue
            else:
                report.launch_block_dim += n
            recs = retried
        out.append((k, recs))
    return out


def shipped_with_backward(kernel: Any) -> bool:
    """Whether the kernel's own package settings make Warp generate its backward code."""
    return kernel_enable_backward(kernel, module_of(kernel))


def _extract_as_shipped(kernel: Any, module_name: str, targets: Sequence[str], exc: Exception,
                        report: PackageReport, root: Path, n: int) -> list[KernelRecord] | None:
    """A kernel its package ships without backward, which Warp cannot differentiate: its forward code alone.

    Counted by why Warp could not make the backward code (``report.backward_impossible``); ``None``
    when the package generates backward code for it anyway (nothing to fall back to) or when the
    forward code fails too.
    """
    if shipped_with_backward(kernel):
        return None
    try:
        recs = extract_group([kernel], module_name, targets, backward=False)
    except Exception:  # the first failure is the one reported
        return None
    report.backward_impossible[_IN_FUNCTION_RE.sub("", relative_paths(reason_of(exc), root))] += n
    return recs


def launch_block_dims(kernel: Any) -> list[int]:
    """The ``block_dim`` values the kernel's own module launches it with (``wp.launch[_tiled](k, ..., block_dim=N)``).

    ``N`` may be a literal or a module-level name. Tile kernels can need it: Warp generates
    a module for the ``block_dim`` of the launch, and some tile builtins reject the default (256).
    """
    func = kernel_python_function(kernel)
    py_module = sys.modules.get(func.__module__)
    if py_module is None:  # inspect.getsource(None) raises TypeError: the same answer
        return []
    try:
        tree = ast.parse(inspect.getsource(py_module))
    except (OSError, TypeError, SyntaxError):
        return []
    dims: list[int] = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("launch", "launch_tiled")):
            continue
        target = node.args[0] if node.args else next((kw.value for kw in node.keywords if kw.arg == "kernel"), None)
        if not (isinstance(target, ast.Name) and target.id == func.__name__):
            continue
        for kw in node.keywords:
            if kw.arg != "block_dim":
                continue
            if isinstance(kw.value, ast.Constant):
                value = kw.value.value
            elif isinstance(kw.value, ast.Name):
                value = getattr(py_module, kw.value.id, None)
            else:
                continue
            if isinstance(value, int) and not isinstance(value, bool) and value > 0 and value not in dims:
                dims.append(value)
    return dims


def _extract_with_launch_block_dim(kernel: Any, module_name: str, targets: Sequence[str]) -> list[KernelRecord] | None:
    """Retry a kernel with each ``block_dim`` it is launched with in its own module; ``None`` if none works."""
    warp_module = warp_module_name(kernel)
    for block_dim in launch_block_dims(kernel):
        saved = dict(wp.get_module_options(warp_module))
        try:
            wp.set_module_options({"block_dim": block_dim}, warp_module)
            recs = extract_group([kernel], module_name, targets)
        except Exception:  # the first failure is the one reported
            continue
        finally:
            wp.set_module_options({"block_dim": saved.get("block_dim")}, warp_module)
        for rec in recs:
            rec.params = json.dumps({"block_dim": block_dim})
        return recs
    return None


def _split_by_kernel(group: list[Any], expected: list[int], recs: list[KernelRecord]) -> list[tuple[Any, list]]:
    # extract_module orders records: non-generic kernels first (group order), then overloads per generic kernel.
    plain = [k for k in group if not is_generic_kernel(k)]
    generic = [(k, n) for k, n in zip(group, expected) if is_generic_kernel(k)]
    by_kernel: dict[int, list[KernelRecord]] = {id(k): [r] for k, r in zip(plain, recs)}
    i = len(plain)
    for k, n in generic:
        by_kernel[id(k)] = recs[i : i + n]
        i += n
    return [(k, by_kernel[id(k)]) for k in group]


def relative_paths(text: str, root: Path) -> str:
    """Warp writes each definition's absolute source path into the generated code (``// /.../file.py:12``)
    and into its error messages; make them relative to the package root, so output is the same on every machine."""
    return text.replace(f"{root.as_posix()}/", "")
