"""Rows of the tiny programs in tests/fixtures/eval, extracted as a build would, for the scorer's tests."""

from __future__ import annotations

from pathlib import Path

import pytest

EVAL_FIXTURES = Path(__file__).parent.parent / "fixtures" / "eval"


def program_row(name: str, row_id: str) -> dict:
    """The dataset row of ``tests/fixtures/eval/<name>.py`` (its only kernel), with id ``row_id``."""
    from extraction import extract_module, loaded_source

    source = (EVAL_FIXTURES / f"{name}.py").read_text(encoding="utf-8")
    with loaded_source(source, f"warp_ir_test_{name}") as module:
        record = extract_module(module, program_source=source)[0]
    record.id, record.family, record.complexity = row_id, "fixture", 1
    return record.to_row()


@pytest.fixture(scope="session")
def blend_row() -> dict:
    """``blend``: a helper, a float constant, arithmetic, a sine and one output array; every corruption shows."""
    return program_row("blend", "b1e4d0000000000a")


@pytest.fixture(scope="session")
def scale_row() -> dict:
    """``scale``: another program (for "the reference of a different row")."""
    return program_row("scale", "5ca1e0000000000b")


@pytest.fixture(scope="session")
def pch_dir(tmp_path_factory) -> str:
    """Warp's CPU headers precompiled once for the session's scoring tests."""
    from evaluation.compiling import warm_headers

    path = str(tmp_path_factory.mktemp("pch"))
    warm_headers(path)
    return path


@pytest.fixture()
def score(pch_dir, tmp_path):
    """``score(problems)`` with the session's precompiled headers and a fresh work folder."""
    from evaluation.harness import score as run

    counter = iter(range(1000))
    return lambda problems, **kw: run(problems, str(tmp_path / f"work-{next(counter)}"), pch_dir=pch_dir, **kw)


@pytest.fixture(scope="session")
def tile_row() -> dict:
    """``tilemax``: a tile kernel (launched with ``wp.launch_tiled``): each thread's row reduced with ``max``."""
    return program_row("tilemax", "711e00000000000c")


@pytest.fixture(scope="session")
def spin_row() -> dict:
    """``spin``: rotates by a quaternion it normalises first (dropping the normalisation shows on non-unit ones)."""
    return program_row("spin", "5b1a0000000000d0")


@pytest.fixture(scope="session")
def bucket_row() -> dict:
    """``bucket``: integer values (``counts % 7``: below 7 they are themselves) beside an integer index (``bins``)."""
    return program_row("bucket", "b0c4e70000000e01")


@pytest.fixture(scope="session")
def spill_row() -> dict:
    """``spill``: writes eight elements past its output's end on the inputs the scorer draws (no verdict possible)."""
    return program_row("spill", "5b111000000000e2")
