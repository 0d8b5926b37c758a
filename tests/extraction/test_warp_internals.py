"""Every use of warp._src lives in extraction/_warp.py; these tests catch a Warp upgrade that breaks it."""

import importlib.metadata
import pathlib
import re

import warp as wp

from extraction import _warp
from extraction.signatures import user_builtin_names

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_pinned_minor_version():
    assert wp.__version__.startswith("1.19."), "extraction/_warp.py is tested against warp-lang 1.19"
    assert importlib.metadata.version("warp-lang").startswith("1.19.")


_INTERNAL_USE = re.compile(r"^\s*(from|import)\s+warp\._src|[^\"'`\w]warp\._src\.\w+", re.MULTILINE)


def test_only_one_module_touches_warp_internals():
    files = [p for d in ("extraction", "generator", "warp_ir", "fem_examples") for p in (ROOT / d).rglob("*.py")]
    files.append(ROOT / "warp_ir_dataset.py")
    offenders = [str(p.relative_to(ROOT)) for p in files
                 if p.name != "_warp.py" and _INTERNAL_USE.search(p.read_text())]
    assert offenders == []


def test_builtin_registry():
    names = user_builtin_names()
    assert {"sin", "cos", "atomic_add", "dot", "mesh_query_point", "tile_load", "randf"} <= set(names)
    assert not {"address", "load", "store", "copy", "static"} & set(names)
    assert 250 < len(names) < 400


def test_codegen_split_header_and_release():
    from extraction.loader import load_source, unload

    src = "import warp as wp\n\n@wp.kernel\ndef k(x: wp.array(dtype=float)):\n    x[wp.tid()] = 1.0\n"
    mod = load_source(src, "warp_ir_internal_test")
    try:
        code = _warp.codegen_module(mod.k.module, "cuda")
        header, body = _warp.split_header(code.source)
        assert "#include \"builtin.h\"" in header and "_cuda_kernel_forward" not in header
        assert "_cuda_kernel_forward" in body
        assert [p for _, p in code.kernels][0].startswith("k_")
    finally:
        unload("warp_ir_internal_test")
    from warp._src import context

    assert "warp_ir_internal_test" not in context.user_modules


def test_arrays_made_while_launches_are_off_are_zero_filled():
    """A skipped kernel leaves its output as it was allocated: native code fed that memory (a volume built from the
    voxel points a kernel should have written) crashed some runs of a package's scripts and not others."""
    import numpy as np

    n = 1 << 16  # large enough that the allocator hands back the block just freed (all 7.0)
    wp.full(n, 7.0, dtype=float, device="cpu")
    with _warp.no_launches():
        inside = wp.empty(n, dtype=float, device="cpu").numpy()
    assert not np.any(inside)
    wp.full(n, 7.0, dtype=float, device="cpu")
    after = wp.empty(n, dtype=float, device="cpu").numpy()  # the allocator is Warp's own again (no fill)
    assert np.count_nonzero(after) > n // 2
