"""Cut one kernel's code out of a generated Warp module, by symbol name.

Pure text processing over the translation unit that Warp's code generator
writes; nothing here imports Warp. A definition is found by its name followed
by a parameter list and a body, then extended upwards over the ``template <...>``
line and the ``// file:line`` comment Warp puts above it, and downwards to the
matching closing brace (braces inside comments and string literals are skipped).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from functools import lru_cache

# Comments and string literals: blanked out (same length) before brackets are matched or names
# searched, so brackets and names inside them never count.
_SKIP = re.compile(r"""//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'""", re.DOTALL)
_BRACKETS = {"(": re.compile(r"[()]"), "{": re.compile(r"[{}]")}
_STRUCT_HEADER = re.compile(r"struct\s+(\w+)\s*\{")  # at the start of a line


@lru_cache(maxsize=8)
def masked(text: str) -> str:
    """``text`` with every comment and string literal replaced by as many spaces (offsets unchanged).

    Cached: cutting the kernels of one module searches the same translation unit many times.
    """
    return _SKIP.sub(lambda m: " " * (m.end() - m.start()), text)


def _match_close(code: str, open_index: int, opener: str, closer: str) -> int:
    """Index just past the bracket that closes the one at ``open_index`` in masked ``code``; -1 if unbalanced."""
    depth = 0
    for token in _BRACKETS[opener].finditer(code, open_index):
        if token.group() == opener:
            depth += 1
        else:
            depth -= 1
            if depth == 0:
                return token.end()
    return -1


def _is_word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _occurrences(text: str, word: str) -> Iterator[int]:
    """Start offsets of ``word`` in ``text`` as a whole identifier, not preceded by ``::`` or a letter."""
    start = text.find(word)
    while start >= 0:
        before = text[start - 1] if start else " "
        end = start + len(word)
        after = text[end] if end < len(text) else " "
        if not _is_word(before) and before != ":" and not _is_word(after):
            yield start
        start = text.find(word, end)


def _definition_start(text: str, name_index: int) -> int:
    """Start of the line holding ``name_index``, extended over a template line and a file comment."""
    start = text.rfind("\n", 0, name_index) + 1
    while start > 0:
        prev_start = text.rfind("\n", 0, start - 1) + 1
        prev = text[prev_start : start - 1].strip()
        if prev.startswith("template <") or re.fullmatch(r"//\s*\S.*:\d+", prev):
            start = prev_start
        else:
            break
    return start


def find_definition(text: str, name: str) -> str | None:
    """Return the full definition (signature and body) of function ``name`` in ``text``.

    Args:
        text: A generated C++ or CUDA translation unit.
        name: The exact function name, e.g. ``k_8271df2c_cpu_kernel_forward`` or ``adj_helper_0``.

    Returns:
        The definition text ending with its closing brace, or ``None`` when ``name`` is
        only declared or called, never defined.
    """
    code = masked(text)
    for at in _occurrences(code, name):
        paren = at + len(name)
        while paren < len(code) and code[paren] in " \t":
            paren += 1
        if not code.startswith("(", paren):
            continue
        close_paren = _match_close(code, paren, "(", ")")
        if close_paren < 0:
            continue
        body = re.match(r"\s*\{", code[close_paren : close_paren + 64])
        if body is None:
            continue
        open_brace = close_paren + body.end() - 1
        end = _match_close(code, open_brace, "{", "}")
        if end < 0:
            continue
        # A call inside another body is never followed by '{'; a definition's line starts the statement.
        line_start = code.rfind("\n", 0, at) + 1
        if code[line_start:at].strip().endswith(("=", "(", ",", "return")):
            continue
        return text[_definition_start(text, at) : end]
    return None


def find_struct(text: str, name: str) -> str | None:
    """Return the definition of ``struct name { ... };`` in ``text``, or ``None``."""
    code = masked(text)
    match = None
    at = code.find(name)  # str.find first: a regex search over the whole unit costs more than the cut
    while at >= 0:
        match = _STRUCT_HEADER.match(code, code.rfind("\n", 0, at) + 1)
        if match is not None and match.group(1) == name:
            break
        match, at = None, code.find(name, at + len(name))
    if match is None:
        return None
    end = _match_close(code, match.end() - 1, "{", "}")
    if end < 0:
        return None
    if text.startswith(";", end):
        end += 1
    return text[_definition_start(text, match.start()) : end]


def calls_of(code: str, names: Iterable[str], prefix: str = "") -> list[str]:
    """Which of ``names`` (each with ``prefix`` prepended) are called or referenced in ``code``, in order."""
    return [name for name in names if next(_occurrences(code, prefix + name), None) is not None]


def closure(roots: str, bodies: dict[str, str], prefix: str = "") -> list[str]:
    """Names whose bodies are (transitively) referenced from ``roots``.

    Args:
        roots: Code to start from (a kernel's body).
        bodies: Candidate name -> its definition text (searched for further references).
        prefix: Prefix the references carry (``"adj_"`` for adjoint helpers).

    Returns:
        The referenced names in dependency order: a name comes after every name it
        references, so the definitions can be concatenated as they are.
    """
    order: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in order or name in visiting:
            return
        visiting.add(name)
        for dep in calls_of(bodies[name], [n for n in bodies if n != name], prefix):
            visit(dep)
        order.append(name)

    for name in calls_of(roots, bodies, prefix):
        visit(name)
    return order


def strip_trailing_blank(code: str) -> str:
    """Normalise whitespace around a block of cut definitions: no blank runs at either end."""
    return code.strip("\n") + "\n" if code.strip() else ""
