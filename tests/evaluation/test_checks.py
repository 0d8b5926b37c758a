"""What a native answer may contain and link against (evaluation/checks.py), on real compiled objects."""

from __future__ import annotations

import pytest

from evaluation.checks import MAX_ANSWER_BYTES, elf_symbols, forbidden, object_problem


@pytest.mark.parametrize("code", [
    "void f() {}\n",
    '// a comment with # and asm\nconst char* s = "#include";\n',
    "float x = a ? b : c;  /* ?? not a trigraph */\n",
    "int section = 1; int alias = section;  // names Warp may give arguments\n",
    "int a;\\\n#define X\n",  # the splice joins the '#' to the line before: not a directive (a compile error)
])
def test_code_warp_could_generate_passes(code):
    assert forbidden(code) is None


@pytest.mark.parametrize("code, what", [
    ('void f();\n  #include "/etc/passwd"\n', "preprocessor directive at line 2"),
    ('%:include "x.cpp"\n', "preprocessor directive"),
    ("  %: define f g\n", "preprocessor directive"),
    ('??=include "x.cpp"\n', "trigraph"),
    ('#\\\ninclude "x.cpp"\n', "preprocessor directive"),
    ('/*\n*/ #include "x.cpp"\n', "preprocessor directive"),
    ('_Pragma("GCC poison x")\n', "pragma operator"),
    ('void f() { __asm__("nop"); }', "inline assembly at line 1"),
    ("[[gnu::constructor]] void early() {}", "load-time attribute"),
    ("__attribute__((section(\".init_array\"))) void* p = 0;", "load-time attribute"),
])
def test_directives_in_any_spelling_assembly_and_load_time_code_are_refused(code, what):
    why = forbidden(code)
    assert why is not None and what in why, why


def test_the_size_cap():
    assert "byte limit" in forbidden("x" * (MAX_ANSWER_BYTES + 1))
    assert forbidden("int x;" + " " * (MAX_ANSWER_BYTES - 10)) is None


def _compile(tmp_path, code: str) -> str:
    from extraction import _warp

    path = tmp_path / "m.cpp"
    path.write_text(code, encoding="utf-8")
    assert _warp.compile_cpu(str(path), str(path) + ".o") is None
    return str(path) + ".o"


def test_symbols_of_a_compiled_object(tmp_path):
    obj = _compile(tmp_path, 'extern "C" char* getenv(const char*);\nextern "C" float sinf(float);\n'
                             'namespace wp_ir_0 { float f(float x) { return sinf(x) + (getenv("A") ? 1 : 0); } }\n'
                             'extern "C" void entry_cpu_forward() {}\nvoid outside() {}\n'
                             'template <class T> T twice(T x) { return x + x; }\nint use() { return twice(2); }\n')
    defined, undefined = elf_symbols(obj)
    assert {"getenv", "sinf"} <= undefined and "entry_cpu_forward" in defined
    assert "_ZN7wp_ir_01fEf" in defined and "_Z7outsidev" in defined
    assert not any("twice" in n for n in defined)  # a template instance is weak: any module may define it
    why = object_problem(obj, frozenset(), frozenset({"entry_cpu_forward"}))
    assert why is not None and "getenv" in why and "sinf" not in why
    why = object_problem(obj, frozenset({"getenv"}), frozenset({"entry_cpu_forward"}))
    assert why is not None and "_Z7outsidev" in why and "use" in why
