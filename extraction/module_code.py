"""Generated code as plain data: one Warp module's translation unit and its symbols, with stable paths.

:func:`extraction._warp.codegen_module` fills a :class:`ModuleCode`; :mod:`extraction.extract` cuts it per
kernel. Warp writes the absolute path of every source file into the code it generates; :func:`stable_paths`
rewrites them so that rows do not depend on where Warp or a package is installed. Nothing here imports Warp.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class ModuleCode:
    """Generated source of one Warp module for one target.

    Attributes:
        target: ``"cpu"`` or ``"cuda"``.
        source: The whole generated translation unit.
        kernels: For every kernel built into it, ``(kernel, symbol_prefix)`` where the
            prefix is ``<name>_<hash>`` as it appears in the generated symbols.
        functions: Native names of the ``@wp.func`` helpers built into the module,
            mapped to the Python function object they come from.
        structs: Native names of the structs built into the module, mapped to the
            Python class they come from.
    """

    target: str
    source: str
    kernels: list[tuple[Any, str]]
    functions: dict[str, Any]
    structs: dict[str, Any]
    meta: dict[str, int] = field(default_factory=dict)


# Warp writes the file of every function above its code (``// /abs/path/file.py:123``) and, with line
# information on, ``#line 123 "/abs/path/file.py"`` directives
_PATH_COMMENT_RE = re.compile(r'^(// )(.+?)(:\d+)$|^(#line \d+ ")(.+?)(")$', re.MULTILINE)


def stable_path(path: str) -> str:
    """``path`` written relative to a root that is the same on every machine.

    A file under an entry of ``sys.path`` (site-packages, the project, a user's folder) is written
    relative to the deepest such entry (``warp/_src/math.py``); any other absolute path by its file
    name. Pseudo names (``<string>``), an in-memory program's name (``program_<hash>.py``) and relative
    paths are kept.

    Args:
        path: A source file's path as Warp recorded it.
    """
    if path.startswith("<") or not (os.path.isabs(path) or (len(path) > 2 and path[1] == ":")):
        return path
    norm = path.replace("\\", "/")
    roots = sorted({os.path.abspath(entry or os.curdir).replace("\\", "/").rstrip("/") + "/" for entry in sys.path},
                   key=len, reverse=True)
    for root in roots:
        if norm.startswith(root) and len(norm) > len(root):
            return norm[len(root):]
    return norm.rsplit("/", 1)[-1]


def stable_paths(source: str) -> str:
    """Generated code with the source-file paths in Warp's comments and ``#line`` directives made stable.

    Rows must not depend on where Warp or a package is installed (two machines, one seed, the same
    rows) nor show the builder's folders: see :func:`stable_path`.
    """
    def repl(m: re.Match[str]) -> str:
        if m.group(1) is not None:
            return m.group(1) + stable_path(m.group(2)) + m.group(3)
        return m.group(4) + stable_path(m.group(5)) + m.group(6)

    return _PATH_COMMENT_RE.sub(repl, source)


__all__ = ["ModuleCode", "stable_path", "stable_paths"]
