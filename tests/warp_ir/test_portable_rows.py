"""Rows do not depend on where they were built: no absolute path of the builder's machine in any row."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import warp

from extraction import extract_target
from extraction.module_code import stable_path, stable_paths
from generator.codegen.rowstats import CODE_COLUMNS, RowStats, absolute_path
from warp_ir.stats import format_stats

ROOT = Path(__file__).resolve().parents[2]
NORM_KERNEL = '''import warp as wp


@wp.kernel
def lengths(a: wp.array(dtype=wp.vec3), out: wp.array(dtype=float)):
    i = wp.tid()
    out[i] = wp.norm_l2(a[i])
'''


def test_stable_path():
    site = str(Path(warp.__file__).resolve().parent.parent)
    assert stable_path(f"{site}/warp/_src/math.py") == "warp/_src/math.py"
    assert stable_path("/somewhere/not/on/the/path/kernels.py") == "kernels.py"
    assert stable_path("<warp-ir:0123456789abcdef>") == "<warp-ir:0123456789abcdef>"
    assert stable_path("pkg/mod.py") == "pkg/mod.py"
    code = f'// {site}/warp/_src/math.py:54\nstatic float f() {{}}\n#line 7 "{site}/pkg/a.py"\n// keep /x/y:z\n'
    assert stable_paths(code) == '// warp/_src/math.py:54\nstatic float f() {}\n#line 7 "pkg/a.py"\n' \
                                       "// keep /x/y:z\n"


def test_warp_functions_written_relative_to_the_installation(tmp_path):
    """A kernel calling a function Warp defines in Python (``wp.norm_l2``, in ``warp/_src/math.py``)."""
    path = tmp_path / "norms.py"
    path.write_text(NORM_KERNEL)
    (rec,) = extract_target(str(path))
    for column in ("cpp_forward", "cpp_backward", "cuda_forward", "cuda_backward"):
        code = getattr(rec, column)
        assert "// warp/_src/math.py:" in code, column
        assert absolute_path(code) is None, column
        assert str(tmp_path) not in code and sys.prefix not in code


def test_absolute_path_detection():
    assert absolute_path("// /home/me/.venv/lib/python3.11/site-packages/warp/_src/math.py:54") \
        == "/home/me/.venv/lib/python3.11/site-packages/warp/_src/math.py"
    assert absolute_path(r'#line 3 "C:\Users\me\kernels.py"') == r"C:\Users\me\kernels.py"
    for clean in ("// warp/_src/math.py:54", "var_1 = wp::div(a / b);", "# see https://x.org/a/b/c.py",
                  "x = a/b/c.py"):
        assert absolute_path(clean) is None, clean


def test_stats_flag_rows_with_absolute_paths():
    stats = RowStats()
    row = {"family": "math", "complexity": 1, "kernel_name": "k", "python_source": "import warp as wp\n",
           "cpp_forward": "// /opt/venv/lib/python3.11/site-packages/warp/_src/math.py:54\n", "validation": {}}
    stats.add("train", row, set())
    stats.add("train", {**row, "cpp_forward": "// warp/_src/math.py:54\n"}, set())
    summary = stats.summary("synthetic", set(), {})
    assert summary["absolute_paths"] == {"cpp_forward": 1}
    assert "WARNING: rows hold absolute paths" in format_stats(summary)
    assert RowStats.from_json(stats.to_json()).absolute_paths == stats.absolute_paths
    clean = RowStats()
    clean.add("train", {**row, "cpp_forward": "// warp/_src/math.py:54\n"}, set())
    assert "absolute paths" not in format_stats(clean.summary("synthetic", set(), {}))


def _build_with_warp_at(folder: Path, out: Path) -> None:
    """``warp-ir build`` in a child whose ``warp`` package is imported from ``folder`` (another install path)."""
    folder.mkdir()
    (folder / "warp").symlink_to(Path(warp.__file__).resolve().parent, target_is_directory=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(folder), str(ROOT)])}
    code = "import sys, warp; from warp_ir.cli import main; print(warp.__file__, file=sys.stderr); sys.exit(main())"
    proc = subprocess.run([sys.executable, "-c", code, "build", "--out", str(out), "--num-samples", "24",
                           "--seed", "5", "--families", "decompositions,synthesized"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert str(folder / "warp") in proc.stderr  # this child's Warp was the one under ``folder``


def test_same_rows_from_two_warp_installs(tmp_path):
    """The same seed built with Warp imported from two different folders gives byte-identical rows."""
    tables = []
    for name in ("first-install", "second-install-elsewhere"):
        out = tmp_path / f"out-{name}"
        _build_with_warp_at(tmp_path / name, out)
        files = sorted((out / "data").glob("*.parquet"))
        assert files
        tables.append([pq.read_table(f) for f in files])
    first, second = tables
    assert [t.num_rows for t in first] == [t.num_rows for t in second]
    for a, b in zip(first, second):
        assert a.equals(b)
        for column in CODE_COLUMNS:
            assert all(absolute_path(text or "") is None for text in a.column(column).to_pylist())
    # the rows do hold Warp's own Python-defined functions, written relative to the installation
    assert any("// warp/_src/" in (text or "") for t in first for text in t.column("cpp_forward").to_pylist())


def test_absolute_path_prefilter_changes_no_answer():
    """absolute_path scans for a file suffix first: every text the full pattern matches has one."""
    import re

    from generator.codegen import rowstats

    texts = [
        "/usr/lib/python3/foo.py", "x /a/b/c.h y", "C:\\Users\\me\\x.cpp", "a/b/c.py", "/a/b/c.pyi", "//a/b/c.cu\n",
             "http://x/y/z.so", "/a/b/c.pyx.", "wp.cos(x)", "// warp/_src/math.py:0", "/a/b/c.cc", "/a/b/lib.dylib",
             "/a/b/c.hpp", "/a/b/c.cuh", "D:/x/y.dll", "/a/b/c.pyc", "/a/b/c.cpython-311.so", "/a/b/.c"]
    full = re.compile(rowstats._ABSOLUTE_PATH_RE.pattern)
    for text in texts:
        m = full.search(text)
        assert rowstats.absolute_path(text) == (m.group(0) if m else None), text
