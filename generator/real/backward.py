"""A real row's text when warp-ir generated the backward code its package switches off.

Real packages often ship kernels without an adjoint (``@wp.kernel(enable_backward=False)``, or
``wp.set_module_options({"enable_backward": False})`` for a module). Warp can generate one for most
of them, so mining switches it on (:func:`extraction.warp_objects.backward_enabled`) and the row says
so in ``source.backward_as_shipped``. The row's Python text must then agree with its code: the
decorator options that switch the adjoint off are taken out of it (:func:`without_backward_off`),
character for character elsewhere.
"""

from __future__ import annotations

import ast

_KERNEL_DECORATORS = ("kernel",)  # wp.kernel, warp.kernel, kernel (imported by name)


def _is_false(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value is False


def line_starts(text: str) -> list[int]:
    """Byte offset of the start of each line of ``text`` (1-based line numbers index it from 1)."""
    starts = [0, 0]
    for line in text.encode().splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    return starts


def byte_span(node: ast.AST, starts: list[int]) -> tuple[int, int]:
    return (starts[node.lineno] + node.col_offset,  # type: ignore[attr-defined]
            starts[node.end_lineno] + node.end_col_offset)  # type: ignore[attr-defined]


def _item_removal(items: list[tuple[int, int]], index: int) -> tuple[int, int]:
    """The bytes to cut to remove item ``index`` of a comma-separated list (with one comma next to it)."""
    start, end = items[index]
    if index + 1 < len(items):  # up to the next item: this item, its comma and the space after it
        return start, items[index + 1][0]
    if index > 0:  # the last one: from the end of the previous item
        return items[index - 1][1], end
    return start, end


def without_backward_off(source: str) -> str:
    """``source`` with the kernel decorator options that switch the adjoint off taken out.

    ``@wp.kernel(enable_backward=False)`` becomes ``@wp.kernel``; ``@wp.kernel(module="unique",
    enable_backward=False)`` becomes ``@wp.kernel(module="unique")``; an ``"enable_backward": False``
    entry of a literal ``module_options`` dict goes too (the keyword with it when it was the only
    entry). Everything else is kept as written. Text that does not parse is returned unchanged.
    """
    for _ in range(source.count("enable_backward")):  # one option out per pass, each cut on a fresh parse
        try:
            tree = ast.parse(source)
        except SyntaxError:
            return source
        cut = _first_cut(tree, line_starts(source))
        if cut is None:
            break
        data = source.encode()
        source = (data[: cut[0]] + data[cut[1]:]).decode()
    return source


def _first_cut(tree: ast.Module, starts: list[int]) -> tuple[int, int] | None:
    """The bytes to cut to take out the first option of a kernel decorator that switches the adjoint off."""
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for call in node.decorator_list:
            if not isinstance(call, ast.Call):
                continue
            name = call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", "")
            if name not in _KERNEL_DECORATORS:
                continue
            items = [byte_span(item, starts) for item in (*call.args, *call.keywords)]
            for i, kw in enumerate(call.keywords, start=len(call.args)):
                drop_keyword = kw.arg == "enable_backward" and _is_false(kw.value)
                if kw.arg == "module_options" and isinstance(kw.value, ast.Dict):
                    keys, values = kw.value.keys, kw.value.values
                    entries = [j for j, (k, v) in enumerate(zip(keys, values))
                               if isinstance(k, ast.Constant) and k.value == "enable_backward" and _is_false(v)]
                    if entries and len(keys) > 1:
                        pairs = [(byte_span(k if k is not None else v, starts)[0], byte_span(v, starts)[1])
                                 for k, v in zip(keys, values)]
                        return _item_removal(pairs, entries[0])
                    drop_keyword = bool(entries)
                if drop_keyword:
                    if len(items) == 1:  # nothing left: `@wp.kernel(...)` becomes `@wp.kernel`
                        return byte_span(call.func, starts)[1], byte_span(call, starts)[1]
                    return _item_removal(items, i)
    return None
