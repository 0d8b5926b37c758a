"""Real rows generated from their own whole program, so that a row's text alone decides its code.

Mining extracts a kernel's code from its package's module; a row built from that code would carry the
package file's name and line numbers in Warp's comments (``<L 475>`` in a 35-line row) and depend on
names its text does not show. :func:`whole_record` writes the kernel's whole program
(:func:`generator.real.program.kernel_program`), loads it from memory under the name Warp's comments
then give it (``program_<hash>.py``), and generates the row's code from it, exactly as for a
synthetic program; the round trip (:mod:`extraction.roundtrip`) then checks it in a fresh process.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from extraction import _warp
from extraction.extract import extract_module
from extraction.loader import loaded_source
from extraction.record import KernelRecord
from generator.codegen.pipeline import reason_of
from generator.real.backward import without_backward_off
from generator.real.program import CODE_OPTIONS, Definition, NotSelfContained, kernel_program

_DEFAULTS: dict[str, Any] = {}
_QUALIFIER_RE = re.compile(r"\b(?:[A-Za-z_]\w*\.)+(?=[A-Za-z_]\w*)")


def _unqualified(type_name: str) -> str:
    """A type's name without the modules that qualify a struct (``warp_jsb.eom.AircraftState``: ``AircraftState``):
    the program defines the struct itself."""
    return _QUALIFIER_RE.sub("", type_name)


def carried_options(kernel: Any, backward: bool) -> dict[str, Any]:
    """The module options of ``kernel``'s package that change its code and differ from Warp's defaults
    (``enable_backward: False`` when the row keeps the package's forward-only code)."""
    if not _DEFAULTS:
        _DEFAULTS.update(_warp.default_module_options())
    options = {k: v for k, v in kernel.module.options.items() if k in CODE_OPTIONS and v != _DEFAULTS.get(k)}
    if not backward:
        options["enable_backward"] = False
    return dict(sorted(options.items()))


def whole_record(rec: KernelRecord, kernel: Any, overload: Any | None, own: Sequence[str], root: Path,
                 targets: Sequence[str], backward: bool) -> tuple[KernelRecord, list[Definition]]:
    """``rec`` with its ``python_source`` the kernel's whole program and its code generated from that text.

    Args:
        rec: The row as mined from the package's module.
        kernel: Its kernel (the generic kernel when ``overload`` is given).
        overload: The overload of a generic kernel the row is for.
        own: The package's top-level import names (their objects are copied into the program).
        root: Where the package is installed (pulled-in definitions are named relative to it).
        targets: Code generation targets.
        backward: Generate backward code (the row has it).

    Raises:
        NotSelfContained: The program cannot be written, or it does not give a row for the kernel.
    """
    options = carried_options(overload or kernel, backward)
    launched = json.loads(rec.params or "{}").get("block_dim")  # extracted with the block_dim its module launches
    if launched:
        options["block_dim"] = launched
    text, defined = kernel_program(kernel, overload, own, root, options, backward)
    if backward:  # the text, not a setting of this process, decides that the row has backward code
        text = without_backward_off(text)
    name = f"warp_ir_real_{hashlib.sha256(text.encode()).hexdigest()[:16]}"
    types = [_unqualified(a["type"]) for a in rec.arguments]
    try:
        with _warp.own_modules(), loaded_source(text, name) as module:
            records = extract_module(module, targets, program_source=text)
    except Exception as exc:  # the program does not load, or Warp rejects it
        raise NotSelfContained(f"its program fails: {reason_of(exc)}") from exc
    found = [r for r in records if [_unqualified(a["type"]) for a in r.arguments] == types]
    if len(found) != 1:
        raise NotSelfContained("its program does not give one row with the row's argument types")
    new = found[0]
    if backward and not (new.cpp_backward or new.cuda_backward):
        raise NotSelfContained("its program switches the adjoint off in a way warp-ir does not rewrite")
    for column in ("python_source", "cpp_forward", "cpp_backward", "cuda_forward", "cuda_backward",
                   "helper_functions", "launch_dim", "differentiable", "kernel_name"):
        setattr(rec, column, getattr(new, column))
    rec.arguments = [{"name": a["name"], "type": a["type"].replace(f"{name}.", "")} for a in new.arguments]
    rec.validation = new.validation
    return rec, defined
