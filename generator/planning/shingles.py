"""Normalised form of a program, for near-duplicate detection and split assignment.

Two programs are near-duplicates when they are the same after renaming every
identifier the program defines (kernel, helpers, structs, fields, arguments,
locals) in order of first appearance, replacing every literal by a placeholder of
its kind, and dropping comments, bare string statements (docstrings), blank lines
and spacing. Names reached through ``wp.`` (builtins, types), keyword-argument
names and Python's own names are kept: ``wp.sin`` and ``wp.cos`` differ, and so do
``wp.float32`` and ``wp.float64``. Indentation is kept, as it is structure.

The form is computed from tokens, not from a syntax tree: the plan normalises every
program it draws, and one regular-expression pass does it two to three times faster
than ``ast.parse`` (which dominated planning). Unlike a syntax tree it keeps
redundant parentheses; templates do not vary those.
"""

from __future__ import annotations

import hashlib
import re

_KEEP = {"wp", "warp", "typing", "Any", "range", "float", "int", "bool", "len", "print", "True", "False", "None",
         "min", "max", "abs", "tuple", "self", "def", "class", "return", "if", "elif", "else", "for", "while", "in",
         "not", "and", "or", "is", "import", "from", "as", "pass", "break", "continue", "lambda", "with", "assert",
         "global", "nonlocal", "del", "yield", "try", "except", "finally", "raise", "async", "await"}
_MODULES = {"wp", "warp", "typing"}  # attributes of these are kept (wp.sin, wp.types.vector)

_TOKEN = re.compile(
    r"""
    [ \t\f]*(?:
    (?P<newline>(?:\#[^\n]*)?\n[ \t\f]*)
    |(?P<comment>\#[^\n]*|\\\n)
    |(?P<string>[rRbBuUfF]{0,2}(?:\"\"\"(?:\\.|[^\\])*?\"\"\"|'''(?:\\.|[^\\])*?'''
        |"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'))
    |(?P<number>0[xXoObB][0-9a-fA-F_]+|(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][+-]?\d+)?[jJ]?)
    |(?P<name>[^\W\d]\w*)
    |(?P<op>\*\*=?|//=?|->|:=|<<=?|>>=?|[-+*/%@&|^=<>!]=|[-+*/%@&|^~<>=.,:;()\[\]{}])
    |(?P<other>\S)
    )""",
    re.VERBOSE | re.DOTALL,
)
_OPEN, _CLOSE = "([{", ")]}"


def normalize(source: str) -> str:
    """The normalised text of ``source``: one line per logical line, ``indent|tokens``.

    One pass over the tokens. A name is renamed when the token after it is seen, since a
    name followed by ``=`` inside a call is a keyword argument and keeps its name.
    """
    names: dict[str, str] = {}
    lines: list[str] = []
    line: list[str] = []  # the logical line's normalised tokens
    raw: list[str] = []  # its tokens as written (to look back across a '.')
    attr: list[bool] = []  # whether each of its tokens is an attribute name
    pending = -1  # position in `line` of a name whose renaming waits for the next token
    depth = indent = line_indent = 0
    for m in _TOKEN.finditer(source + "\n"):
        kind = m.lastgroup
        assert kind is not None  # every alternative of _TOKEN is a named group
        text = m.group(kind)
        if kind == "comment":
            continue
        if pending >= 0:
            keyword_arg = text == "=" and depth > 0 and not (raw[0] in ("def", "lambda") and depth == 1)
            if not keyword_arg:
                line[pending] = names.get(raw[pending]) or names.setdefault(raw[pending], f"v{len(names)}")
            pending = -1
        if kind == "newline":
            if depth == 0:
                if line and not (len(line) == 1 and line[0] == '"s"'):  # a bare string statement: a docstring
                    lines.append(f"{line_indent}|{' '.join(line).replace(' . ', '.')}")
                line, raw, attr = [], [], []
                indent = len(text[text.rfind("\n") + 1 :].expandtabs(4))
            continue
        if not line:
            line_indent = indent
        is_attr = False
        if kind == "string":
            out = '"s"'
        elif kind == "number":
            based = text[:2].lower() in ("0x", "0o", "0b")
            out = "0.0" if not based and any(c in text for c in ".eEjJ") else "0"
        elif kind == "name":
            out = text
            if raw and raw[-1] == ".":
                is_attr = True
                if not (len(raw) >= 2 and (raw[-2] in _MODULES or attr[-2])):
                    out = names.get(text) or names.setdefault(text, f"v{len(names)}")
            elif text not in _KEEP:
                pending = len(line)
        else:
            out = text
            if kind == "op":
                depth += text in _OPEN
                depth -= text in _CLOSE and depth > 0
        line.append(out)
        raw.append(text)
        attr.append(is_attr)
    return "\n".join(lines)


def normalized_hash(source: str) -> str:
    """SHA-256 (hex) of :func:`normalize`'s text: equal exactly when the normalised programs are."""
    return hashlib.sha256(normalize(source).encode()).hexdigest()


def program_key(source: str) -> str:
    """16 hex digits of :func:`normalized_hash`: the key under which builds record their programs (the card's
    check for real programs among the synthetic ones compares these)."""
    return normalized_hash(source)[:16]


def split_of(norm_hash: str, ratios: dict[str, float]) -> str:
    """The split a program belongs to, from its normalised hash and the split ratios (in order).

    The first 15 hex digits give a uniform number in [0, 1); a program and all its renamed
    twins therefore always land in the same split, whatever the seed of the build.
    """
    u = int(norm_hash[:15], 16) / float(1 << 60)
    acc = 0.0
    names = list(ratios)
    for name in names:
        acc += ratios[name]
        if u < acc:
            return name
    return names[-1]
