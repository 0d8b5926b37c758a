"""Corrupted copies of a reference answer: predictions a trustworthy scorer must fail.

Each kind changes a reference the way a wrong model answer would, in the entry point's own code
(the kernel the task asks for), so the answer still looks right at a glance:

==========================  ======================================================================
``operator``                the last arithmetic builtin computing a float swapped (``add``↔``sub``, ``mul``→``add``,
                            ``div``→``mul``); in a backward kernel, the last such adjoint (``adj_add``...)
``constant``                the last floating-point literal changed (comments aside)
``empty_body``              the entry point's body emptied
``output_not_written``      the last statement that writes an array (or an adjoint) removed
``out_of_bounds``           the last array write moved 3 elements further (past the end for the last threads)
``calls_reference``         the entry point calls the reference's entry point symbol instead of computing
``other_row``               the reference answer of a different row
``other_kernel``            the reference with the kernel renamed
``constant_nudge``          the last floating-point literal changed by 2e-4 of itself (``0.392`` -> ``0.3920784``)
``no_normalize``            the last ``normalize`` dropped (its argument used as it is)
==========================  ======================================================================

For the decompile task the same kinds apply to the Python program (``calls_reference`` has no
Python form). :func:`output_table` writes the other kind of answer a model trained against a scorer with public
seeds would find: a program that ignores its inputs and writes the reference's outputs, recorded for known inputs,
picked by the first input value. :func:`corrupt` returns ``None`` when a kind does not apply to a reference (it has
no floating-point literal, say). ``warp-ir eval`` of these must score ``correct`` false for every
one; ``benchmarks/eval.py --corrupted`` and the tests check that it does.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from evaluation.splice import definitions
from evaluation.tasks import Task, entry_point
from extraction.cut import masked

KINDS: tuple[str, ...] = ("operator", "constant", "empty_body", "output_not_written", "out_of_bounds",
                          "calls_reference", "other_row", "other_kernel", "constant_nudge", "no_normalize")
NUDGE = 2e-4  # constant_nudge: the relative change

_OPS = re.compile(r"(?P<lhs>var_\w+) = wp::(add|sub|mul|div)\(")
_ADJ_OPS = re.compile(r"\bwp::adj_(add|sub|mul|div)\(")
_DECLARED_FLOAT = re.compile(r"wp::(?:float\d+|half|vec\d+[hfd]?|mat\d+[hfd]?|quat[hfd]?|transform[hfd]?|"
                             r"vec_t<[^;]*float[^;]*|mat_t<[^;]*float[^;]*)\s+(var_\w+);")
_SWAP = {"add": "sub", "sub": "add", "mul": "add", "div": "mul"}
_FLOAT = re.compile(r"(?<![\w.])(\d+\.\d+(?:[eE][-+]?\d+)?)")
_WRITE = re.compile(r"^[ \t]*(?:var_\w+ = )?wp::(?:array_store|atomic_\w+|adj_address|adj_array_store|adj_atomic_\w+)"
                    r"\(.*$", re.MULTILINE)
_STORE_INDEX = re.compile(r"\bwp::(?:array_store|adj_address)\(var_\w+, (var_\w+)")
_PY_OP = re.compile(r" ([-+*/]) (?=[\w(])")
_PY_SWAP = {"+": "-", "-": "+", "*": "+", "/": "*"}
_PY_SKIP = re.compile(r"#[^\n]*|\"\"\"[\s\S]*?\"\"\"|'''[\s\S]*?'''|\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*'")
_PY_WRITE = re.compile(r"^[ \t]+(?:\w+\[[^\]\n]+\]\s*[-+*/]?=|wp\.atomic_\w+\().*$", re.MULTILINE)
_PY_STORE = re.compile(r"^([ \t]+\w+\[)([^\]\n]+)(\]\s*[-+*/]?=)", re.MULTILINE)
_NORMALIZE = re.compile(r"\bwp::normalize\((var_\w+)\)")
_PY_NORMALIZE = re.compile(r"\bwp\.normalize\(([^()\n]*(?:\([^()\n]*\)[^()\n]*)*)\)")


def _nudged(m: re.Match) -> str:
    return f"{float(m[1]) * (1 + NUDGE):.9g}"


def _indent(line: str) -> str:
    """The blanks and tabs that start ``line``."""
    return line[:len(line) - len(line.lstrip(" \t"))]


def _py_masked(text: str) -> str:
    """Python ``text`` with comments and string literals blanked (offsets unchanged)."""
    return _PY_SKIP.sub(lambda m: " " * (m.end() - m.start()), text)


def _last(pattern: re.Pattern, text: str, keep: Any = None, mask: Any = masked) -> re.Match | None:
    """The last match of ``pattern`` outside comments and strings (and for which ``keep(match)`` holds)."""
    found = None
    for m in pattern.finditer(mask(text)):
        if keep is None or keep(m):
            found = m
    return found


def _float_vars(body: str) -> set[str]:
    """The temporaries a generated function declares with a floating-point type (scalar, vector, matrix...)."""
    return set(_DECLARED_FLOAT.findall(body))


def _entry(code: str, symbol: str) -> tuple[int, int] | None:
    """``(start, end)`` of the entry point's definition in ``code``."""
    pos = 0
    for piece in definitions(code):
        start, pos = pos, pos + len(piece.text)
        if piece.name == symbol:
            return start, pos
    return None


def _in_entry(code: str, symbol: str, change: Any) -> str | None:
    """``code`` with ``change(entry point text)`` in place of the entry point (``None`` if it changed nothing)."""
    span = _entry(code, symbol)
    if span is None:
        return None
    body = code[span[0]:span[1]]
    new = change(body)
    return None if new is None or new == body else code[:span[0]] + new + code[span[1]:]


def _swap_last(pattern: re.Pattern, text: str, replace: Any, keep: Any = None, mask: Any = masked) -> str | None:
    m = _last(pattern, text, keep, mask)
    if m is None:
        return None
    real = pattern.match(text, m.start())  # the same text: only comments and strings are masked
    return text[:m.start()] + replace(real) + text[m.end():]


def _operator(body: str, backward: bool) -> str | None:
    """Swap the last arithmetic builtin computing a floating-point value (its adjoint, in a backward kernel)."""
    floats = _float_vars(body)
    if backward:
        return _swap_last(_ADJ_OPS, body, lambda m: f"wp::adj_{_SWAP[m[1]]}(")
    return _swap_last(_OPS, body, lambda m: f"{m['lhs']} = wp::{_SWAP[m[2]]}(", keep=lambda m: m["lhs"] in floats)


def _empty(body: str) -> str:
    brace = body.find("{", body.find(")"))
    return body[:brace] + "{\n}\n"


def _call_self(symbol: str) -> Any:
    def change(body: str) -> str:
        params = body[body.find("(") + 1: body.find(")")]
        names = [p.split()[-1].lstrip("*&") for p in params.split(",") if p.strip()]
        return _empty(body).rstrip("}\n") + f"    {symbol}({', '.join(names)});\n}}\n"
    return change


def corrupt(kind: str, task: Task, row: dict[str, Any], other: dict[str, Any] | None = None) -> str | None:
    """A corrupted copy of ``row``'s reference answer for ``task`` (see the module docstring).

    Args:
        kind: One of :data:`KINDS`.
        task: The task.
        row: The dataset row.
        other: A different row (for ``other_row``).
    """
    reference = row.get(task.target) or ""
    if kind == "other_row":
        return (other or {}).get(task.target) or None
    if task.decompile:
        return _corrupt_python(kind, reference, row["kernel_name"])
    found = entry_point(reference, task.device, task.backward)
    if found is None:
        return None
    symbol, kernel, suffix = found
    if kind == "operator":
        return _in_entry(reference, symbol, lambda b: _operator(b, task.backward))
    if kind == "constant":
        return _in_entry(reference, symbol, lambda b: _swap_last(_FLOAT, b, lambda m: repr(float(m[1]) * 2 + 0.5)))
    if kind == "empty_body":
        return _in_entry(reference, symbol, _empty)
    if kind == "output_not_written":
        return _in_entry(reference, symbol, lambda b: _swap_last(_WRITE, b, lambda m: ""))
    if kind == "out_of_bounds":
        return _in_entry(reference, symbol, lambda b: _swap_last(
            _STORE_INDEX, b, lambda m: m[0][:m.start(1) - m.start()] + f"{m[1]} + 3"))
    if kind == "calls_reference":
        return _in_entry(reference, symbol, _call_self(symbol))
    if kind == "other_kernel":
        return reference.replace(f"{kernel}_{suffix}", f"{kernel}_other_{suffix}")
    if kind == "constant_nudge":
        return _in_entry(reference, symbol, lambda b: _swap_last(_FLOAT, b, _nudged))
    if kind == "no_normalize":
        return _in_entry(reference, symbol, lambda b: _swap_last(_NORMALIZE, b, lambda m: m[1]))
    raise ValueError(f"unknown corruption {kind!r} (known: {', '.join(KINDS)})")


def _corrupt_python(kind: str, source: str, kernel: str) -> str | None:
    start = source.find(f"def {kernel}(")
    if start < 0:
        return None
    head, body = source[:start], source[start:]
    if kind == "operator":
        new = _swap_last(_PY_OP, body, lambda m: f" {_PY_SWAP[m[1]]} ", mask=_py_masked)
    elif kind == "constant":
        new = _swap_last(_FLOAT, body, lambda m: repr(float(m[1]) * 2 + 0.5), mask=_py_masked)
    elif kind == "empty_body":
        colon = re.search(r"\)\s*(->[^:]*)?:\s*\n", body)
        new = None if colon is None else body[:colon.end()] + "    pass\n"
    elif kind == "output_not_written":
        new = _swap_last(_PY_WRITE, body, lambda m: _indent(m[0]) + "pass", mask=_py_masked)
    elif kind == "out_of_bounds":
        new = _swap_last(_PY_STORE, body, lambda m: f"{m[1]}{m[2]} + 3{m[3]}", mask=_py_masked)
    elif kind == "other_kernel":
        new = body.replace(f"def {kernel}(", f"def {kernel}_other(", 1)
    elif kind == "constant_nudge":
        new = _swap_last(_FLOAT, body, _nudged, mask=_py_masked)
    elif kind == "no_normalize":
        new = _swap_last(_PY_NORMALIZE, body, lambda m: f"({m[1]})", mask=_py_masked)
    elif kind == "calls_reference":
        return None  # a Python program cannot call the reference's generated code
    else:
        raise ValueError(f"unknown corruption {kind!r} (known: {', '.join(KINDS)})")
    return None if new is None or new == body else head + new


def output_table(row: dict[str, Any], tables: Sequence[tuple[float, dict[str, Sequence[float]]]]) -> str | None:
    """A decompile answer that computes nothing: for each known input set (the value of its first float array's
    first element, and the outputs the reference wrote for it), it writes those outputs; elsewhere it writes
    nothing. ``None`` when the row's kernel is not launched over one dimension.

    Args:
        row: The dataset row (its ``python_source``, ``kernel_name``, ``arguments``).
        tables: Per known input set: ``(first input value, {output array name: its values})``.
    """
    source, kernel = row["python_source"], row["kernel_name"]
    start = source.find(f"def {kernel}(")
    colon = re.search(r"\)\s*(->[^:]*)?:\s*\n", source[start:]) if start >= 0 else None
    args = [a for a in row.get("arguments") or [] if "array(" in a["type"]]
    if colon is None or (row.get("launch_dim") or 1) != 1 or not args or not tables:
        return None
    key = args[0]["name"]
    lines = ["    i = wp.tid()"]
    for first, outputs in tables:
        lines.append(f"    if {key}[0] == {float(first)!r}:")
        for name, values in outputs.items():
            for j, v in enumerate(values):
                lines.append(f"        if i == {j}:\n            {name}[i] = {float(v)!r}")
    head = source[:start + colon.end()]
    return head + "\n".join(lines) + "\n"
