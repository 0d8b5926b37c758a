"""Put a predicted kernel into Warp's generated module in place of the reference's own code.

A row's code column (``cpp_forward``, ``cuda_backward``, ...) is a list of top-level
definitions cut from Warp's whole generated module: structs, ``@wp.func`` helpers (or their
adjoints), the argument struct and the kernel entry point. :func:`splice` takes the module Warp
generates for the row's program and, for every definition of the reference column, puts the
prediction's definition of the same name where Warp put the reference's; a definition the
prediction does not write is removed (so code that needs it no longer compiles), and definitions
the prediction adds under other names go before the first one replaced. Everything else in the
module (Warp's header, launch wrappers, the other pass) stays as Warp generated it, so the
spliced module is what Warp would have built had it generated the prediction.

Nothing here imports Warp: it is text processing over generated C++/CUDA, with comments and
string literals masked as in :mod:`extraction.cut`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from extraction.cut import masked

_STRUCT = re.compile(r"\s*(?:template\s*<[^>]*>\s*)?struct\s+(\w+)")
_CALLED = re.compile(r"(\w+)\s*$")


class SpliceError(ValueError):
    """The reference column could not be found in the module Warp generated (a data problem)."""


@dataclass(frozen=True, slots=True)
class Definition:
    """One top-level piece of C++/CUDA code.

    Attributes:
        name: The struct's or function's name (``None`` for anything else).
        text: The piece, with the comments and blank lines before it.
    """

    name: str | None
    text: str


def definitions(code: str) -> list[Definition]:
    """Split code into its top-level pieces: each ends at a ``;`` or at a ``}`` closing a body.

    Unbalanced code ends in one last piece holding the rest.
    """
    mask = masked(code)
    pieces, start, depth, i = [], 0, 0, 0
    n = len(mask)
    while i < n:
        ch = mask[i]
        if ch in "({[":
            depth += 1
        elif ch in ")}]":
            depth -= 1
            if depth == 0 and ch == "}":
                j = i + 1
                while j < n and mask[j] in " \t":
                    j += 1
                if j < n and mask[j] == ";":
                    i = j
                pieces.append((start, i + 1))
                start = i + 1
        elif ch == ";" and depth == 0:
            pieces.append((start, i + 1))
            start = i + 1
        elif ch == "#" and depth == 0 and not mask[start:i].strip():
            end = mask.find("\n", i)
            i = n - 1 if end < 0 else end
            pieces.append((start, i + 1))
            start = i + 1
        i += 1
    if mask[start:].strip():
        pieces.append((start, n))
    return [Definition(_name(mask[s:e]), code[s:e]) for s, e in pieces]


def _name(masked_piece: str) -> str | None:
    struct = _STRUCT.match(masked_piece)
    if struct:
        return struct[1]
    paren = masked_piece.find("(")
    if paren < 0:
        return None
    called = _CALLED.search(masked_piece[:paren])
    return called[1] if called else None


def splice(module_source: str, reference: str, prediction: str) -> str:
    """The module with the prediction's definitions in place of the reference column's.

    Args:
        module_source: The whole translation unit Warp generated for the row's program.
        reference: The row's code column (a list of definitions cut from ``module_source``).
        prediction: The predicted code for that column.

    Raises:
        SpliceError: A definition of ``reference`` is not in ``module_source``.
    """
    spans: list[tuple[int, int, str]] = []
    for piece in definitions(reference):
        if piece.name is None:
            continue
        text = piece.text.strip()
        at = module_source.find(text)
        if at < 0:
            raise SpliceError(f"the reference's definition of {piece.name} is not in the generated module")
        spans.append((at, at + len(text), piece.name))
    if not spans:
        raise SpliceError("the reference column has no definition")
    spans.sort()
    names = {name for _, _, name in spans}
    written: dict[str, str] = {}
    extras: list[str] = []
    for piece in definitions(prediction):
        if piece.name in names and piece.name not in written:
            written[piece.name] = piece.text
        else:
            extras.append(piece.text)
    out, pos = [], 0
    for i, (start, end, name) in enumerate(spans):
        out.append(module_source[pos:start])
        if i == 0 and extras:
            out.append("".join(extras).strip("\n") + "\n\n")
        out.append(written.get(name, "").strip("\n"))
        pos = end
    out.append(module_source[pos:])
    return "".join(out)
