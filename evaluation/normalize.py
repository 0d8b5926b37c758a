"""The ``normalised`` rung: generated code compared without what does not change its meaning.

Two pieces of generated C++/CUDA are equal here when their tokens are, after:

* removing comments (``//`` lines, which carry the Python source and its ``<L n>`` line markers,
  and ``/* */`` blocks) and all spacing;
* renumbering Warp's temporaries ``var_N`` and ``adj_N`` in order of first appearance (each its
  own sequence), so that a prediction that numbers them differently but uses them the same way
  is equal;
* renumbering the module-hash suffix of symbols (``<kernel>_<8 hex>_cpu_kernel_forward``,
  ``wp_args_<kernel>_<8 hex>``) in order of first appearance.

Names a program gives (``var_mass``, helper names) and string literals are kept.
"""

from __future__ import annotations

import re

_TOKEN = re.compile(
    r"""//[^\n]*|/\*.*?\*/"""  # comments (dropped)
    r"""|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'"""  # string and character literals
    r"""|[A-Za-z_]\w*|\.?\d(?:[\w.]|[eEpP][-+])*"""  # identifiers, numbers
    r"""|::|->|<<=|>>=|&&|\|\||\+\+|--|<<|>>|[-+*/%&|^!=<>]=|\S""",  # operators
    re.DOTALL,
)
_TEMP = re.compile(r"(var|adj)_(\d+)")
_HASHED = re.compile(r"(?P<pre>\w*?_)(?P<hash>[0-9a-f]{8})(?P<post>_(?:cpu|cuda)_kernel_(?:forward|backward))"
                     r"|(?P<args>wp_args_\w*?_)(?P<ahash>[0-9a-f]{8})")


def tokens(code: str) -> list[str]:
    """The normalised tokens of generated code (see the module docstring)."""
    temps: dict[str, str] = {}
    counts = {"var": 0, "adj": 0}
    hashes: dict[str, str] = {}
    out = []
    for m in _TOKEN.finditer(code or ""):
        tok = m[0]
        if tok.startswith(("//", "/*")):
            continue
        temp = _TEMP.fullmatch(tok)
        if temp:
            if tok not in temps:
                temps[tok] = f"{temp[1]}_#{counts[temp[1]]}"
                counts[temp[1]] += 1
            tok = temps[tok]
        else:
            hashed = _HASHED.fullmatch(tok)
            if hashed:
                digest = hashed["hash"] or hashed["ahash"]
                label = hashes.setdefault(digest, f"#{len(hashes)}")
                tok = (f"{hashed['pre']}{label}{hashed['post']}" if hashed["hash"]
                       else f"{hashed['args']}{label}")
        out.append(tok)
    return out


def normalized(code: str) -> str:
    """The normalised text: :func:`tokens` joined by single spaces."""
    return " ".join(tokens(code))


def same_normalized(prediction: str, reference: str) -> bool:
    """Whether two pieces of generated code are equal once normalised."""
    return tokens(prediction) == tokens(reference)
