"""Dead-store removal for the registry synthesizer's programs: a local nothing reads is not written.

The registry synthesizer (:mod:`generator.programs.synth`) declares locals as it explores Warp's builtins and does
not know which ones later statements will read; :func:`prune_dead_stores` removes every assignment to a local that
is never read (an atomic's call stays, as a statement: it writes memory), repeatedly, since removing one can leave
another unread, and puts ``pass`` in a block left empty.
"""

from __future__ import annotations

import ast

from generator.realism.measures import dead_names, own_nodes

_MAX_ROUNDS = 8


def prune_dead_stores(source: str) -> str:
    """``source`` without assignments to locals that are never read (unchanged when it does not parse)."""
    for _ in range(_MAX_ROUNDS):
        try:
            tree = ast.parse(source)
        except SyntaxError:
            return source
        lines = source.split("\n")
        edits: list[tuple[int, int, str | None]] = []  # first line, last line (1-based), replacement
        for func in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)):
            dead, _ = dead_names(func)
            if not dead:
                continue
            for node in own_nodes(func):
                if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Tuple):
                    for elt in node.targets[0].elts:  # a result nobody reads is named ``_name``, as people do
                        if isinstance(elt, ast.Name) and elt.id in dead:
                            edits.append((elt.lineno, -elt.col_offset - 1, elt.id))
                    continue
                target = (node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else
                          node.target if isinstance(node, (ast.AugAssign, ast.AnnAssign)) else None)
                if not isinstance(target, ast.Name) or target.id not in dead or not isinstance(node, ast.stmt):
                    continue
                value = getattr(node, "value", None)
                keep = value is not None and any(
                    isinstance(c, ast.Call) and isinstance(c.func, ast.Attribute) and c.func.attr.startswith("atomic_")
                    for c in ast.walk(value))
                indent = " " * node.col_offset
                segment = ast.get_source_segment(source, value) if keep and value is not None else None
                text = indent + segment if segment is not None else None
                edits.append((node.lineno, node.end_lineno or node.lineno, text))
        if not edits:
            return source
        for first, last, text in sorted(edits, key=lambda e: (e[0], -e[1] if e[1] < 0 else 0), reverse=True):
            if last < 0:  # rename the tuple element at column -last - 1
                col, line = -last - 1, lines[first - 1]
                lines[first - 1] = line[:col] + "_" + line[col:]
                continue
            lines[first - 1:last] = [text] if text is not None else []
        source = _fill_empty_blocks("\n".join(lines))
    return source


def _fill_empty_blocks(source: str) -> str:
    """Put ``pass`` in every block whose header ends a line with nothing indented under it."""
    lines = source.split("\n")
    out: list[str] = []
    for k, line in enumerate(lines):
        out.append(line)
        stripped = line.rstrip()
        if not stripped.endswith(":") or stripped.lstrip().startswith("#"):
            continue
        indent = len(line) - len(line.lstrip())
        following = next((nxt for nxt in lines[k + 1:] if nxt.strip()), "")
        if len(following) - len(following.lstrip()) <= indent:
            out.append(" " * (indent + 4) + "pass")
    return "\n".join(out)
