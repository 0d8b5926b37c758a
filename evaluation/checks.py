"""What a native answer may contain and link against, checked before any of it runs.

Two checks, one on the text and one on the compiled object:

* :func:`forbidden` reads an answer as the preprocessor does: trigraphs replaced, line splices
  (a backslash before a newline) joined, comments and string literals blanked; then it refuses any
  preprocessor directive (``#`` or the digraph ``%:`` first on a line: ``#include`` would read any
  file, ``#define`` could rename what the checks look for), the ``_Pragma`` operator, inline
  assembly, and constructor/destructor attributes (code that would run on loading). Warp's
  generated kernel code has none of these. Answers over :data:`MAX_ANSWER_BYTES` are refused too.
* :func:`object_problem` reads the compiled object's symbol table (ELF, parsed here: no tool
  needed): every symbol it needs from outside must be one Warp's generated code for the same
  rows needs (the references' objects), a math function or a memory primitive (no I/O, no
  environment, no processes, no dynamic loading), and every global symbol it defines must be its
  own module's (the namespace the scorer wraps it in) or one of the entry points Warp's module for
  the row defines, so an answer cannot define what other code calls. :func:`ptx_problem` does the
  same for CUDA's PTX (its ``.extern`` functions).
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterable

from extraction.cut import masked

MAX_ANSWER_BYTES = 256 * 1024  # a kernel Warp generates is a few KB to some tens of KB; more is not an answer

_TRIGRAPHS = {"=": "#", "/": "\\", "'": "^", "(": "[", ")": "]", "!": "|", "<": "{", ">": "}", "-": "~"}
_TRIGRAPH = re.compile(r"\?\?([=/'()!<>-])")
_SPLICE = re.compile(r"\\[ \t]*\r?\n")
_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^[ \t\f\v]*(?:#|%:)", re.MULTILINE), "a preprocessor directive"),
    (re.compile(r"\b(?:_Pragma|__pragma)\b"), "a pragma operator"),
    (re.compile(r"\b(?:asm|__asm__|__asm)\b"), "inline assembly"),
    (re.compile(r"(?:__attribute__\s*\(\(|__declspec\s*\(|\[\[)[^;{]*?"
                r"\b(?:constructor|destructor|init_priority|ifunc|section|alias|weakref|visibility)\b"),
     "a linkage or load-time attribute"),
)

# symbols any module may need from outside: libm (float, double, long double), memory primitives, the GOT
_MATH = re.compile(
    r"(?:a?(?:sin|cos|tan)h?|atan2|exp2?|exp10|expm1|log(?:2|10|1p|b)?|ilogb|pow|sqrt|cbrt|fmod|remainder|floor|"
    r"ceil|round|lround|trunc|rint|lrint|nearbyint|fabs|erfc?|erfinv|erfcinv|lgamma|tgamma|hypot|fmin|fmax|fma|"
    r"fdim|copysign|frexp|ldexp|scalbn|modf|nextafter|sincos)[fl]?")
_ALWAYS = frozenset({"memset", "memcpy", "memmove", "memcmp", "_GLOBAL_OFFSET_TABLE_", "__stack_chk_fail",
                     "__stack_chk_guard", "wp_cpu_run_block",
                     # what Warp's own headers declare extern "C" (native/crt.h, builtin.h): its runtime's helpers
                     "_wp_assert", "_wp_isfinite", "_wp_isnan", "_wp_isinf", "printf", "wp_float_to_half_bits",
                     "wp_half_bits_to_float", "wp_float_to_bfloat16_bits", "wp_bfloat16_bits_to_float"})
NAMESPACE = "wp_ir_"  # :func:`extraction.native.batch_source` puts module ``i`` of a compile in ``wp_ir_<i>``


def _preprocessor_view(code: str) -> str:
    """``code`` as the preprocessor's directive scan sees it: trigraphs replaced, splices joined, comments and
    string literals blanked (line numbers are then those of logical lines)."""
    text = _TRIGRAPH.sub(lambda m: _TRIGRAPHS[m[1]], code)
    return masked(_SPLICE.sub("", text))  # a spliced line continues the one before it


def answer_limit(reference: str) -> int:
    """The most bytes an answer to a row whose reference is ``reference`` may have: :data:`MAX_ANSWER_BYTES`, or
    twice the reference where that is more (some real kernels' generated code is over 256 KiB by itself)."""
    return max(MAX_ANSWER_BYTES, 2 * len(reference.encode("utf-8", "replace")))


def oversized(code: str, limit: int = MAX_ANSWER_BYTES) -> str | None:
    """Why an answer (native or Python) is refused for its size (``None`` when it is not)."""
    size = len(code.encode("utf-8", "replace"))
    return f"the answer is {size} bytes, over the {limit}-byte limit (refused unscored)" if size > limit else None


def forbidden(code: str, limit: int = MAX_ANSWER_BYTES) -> str | None:
    """Why a native answer may not be compiled (``None`` when it may); ``limit``: its size cap in bytes."""
    if too_big := oversized(code, limit):
        return too_big
    if _TRIGRAPH.search(code):
        return "a trigraph (??x) in the prediction (not allowed)"
    view = _preprocessor_view(code)
    for rule, what in _RULES:
        m = rule.search(view)
        if m is not None:
            line = view.count("\n", 0, m.start()) + 1
            return f"{what} at line {line} of the prediction (not allowed)"
    return None


# --- ELF symbol tables ------------------------------------------------------------------------------------------

def elf_symbols(path: str) -> tuple[set[str], set[str]]:
    """``(defined, undefined)`` global symbol names of an ELF64 little-endian object (``.o``).

    ``defined`` holds the strong global definitions (not weak: template instantiations are weak and
    may be defined by any module); ``undefined`` what the object needs from outside.

    Raises:
        ValueError: The file is not an ELF64 little-endian object.
    """
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise ValueError(f"{path} is not an ELF64 little-endian object")
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    defined: set[str] = set()
    undefined: set[str] = set()
    for sh in sections:
        if sh[1] != 2:  # SHT_SYMTAB
            continue
        strtab = sections[sh[6]]
        str_off = strtab[4]
        offset, size, entsize = sh[4], sh[5], sh[9] or 24
        for k in range(size // entsize):
            name_off, info, _other, shndx, _value, _size = struct.unpack_from("<IBBHQQ", data, offset + k * entsize)
            bind = info >> 4
            if bind == 0 or not name_off:  # local, or unnamed
                continue
            end = data.index(b"\0", str_off + name_off)
            name = data[str_off + name_off:end].decode("utf-8", "replace")
            if shndx == 0:
                undefined.add(name)
            elif bind == 1:  # STB_GLOBAL (STB_WEAK is 2)
                defined.add(name)
    return defined, undefined


def allowed_import(name: str, reference_imports: Iterable[str]) -> bool:
    """Whether an answer's object may need ``name`` from outside (see the module docstring)."""
    return name in _ALWAYS or _MATH.fullmatch(name) is not None or name in reference_imports


def object_problem(path: str, reference_imports: frozenset[str], entry_points: frozenset[str]) -> str | None:
    """Why a compiled answer (a module of its own, in namespace ``wp_ir_0``) may not be loaded, or ``None``.

    Args:
        path: The answer's compiled object.
        reference_imports: What the references' objects of the same task need from outside.
        entry_points: The ``extern "C"`` functions Warp's module for the row defines (its launch wrappers).
    """
    try:
        defined, undefined = elf_symbols(path)
    except (OSError, ValueError, struct.error) as exc:
        return f"its object cannot be read: {exc}"
    bad = sorted(n for n in undefined if not allowed_import(n, reference_imports))
    if bad:
        return f"calls outside Warp's runtime and math: {', '.join(bad[:5])} (not allowed)"
    own = f"{len(NAMESPACE) + 1}{NAMESPACE}0"  # mangled prefix of names in namespace wp_ir_0
    foreign = sorted(n for n in defined if own not in n and n not in entry_points)
    if foreign:
        return f"defines symbols outside its module: {', '.join(foreign[:5])} (not allowed)"
    return None


_PTX_EXTERN = re.compile(r"^\s*\.extern\s+\.func\s+(?:\([^)]*\)\s*)?(\w+)", re.MULTILINE)


def ptx_imports(ptx: str) -> set[str]:
    """The functions a PTX module declares ``.extern`` (what it needs from outside)."""
    return set(_PTX_EXTERN.findall(ptx))


def ptx_problem(path: str, reference_imports: frozenset[str]) -> str | None:
    """Why a compiled CUDA answer (PTX) may not be loaded, or ``None`` (its external functions as for CPU)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            imports = ptx_imports(f.read())
    except OSError as exc:
        return f"its PTX cannot be read: {exc}"
    bad = sorted(n for n in imports if not allowed_import(n, reference_imports))
    return f"calls outside Warp's runtime and math: {', '.join(bad[:5])} (not allowed)" if bad else None
