"""The round trip: a row's text alone, saved as a file and extracted in a fresh process, gives back its code."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from extraction.roundtrip import OK, RoundTrip, hash_normalized, with_round_trip


@pytest.fixture(scope="module")
def rows(small_build) -> list[dict]:
    paths = sorted((small_build.out_dir / "data").glob("*.parquet"))
    return [r for p in paths for r in pq.read_table(p).to_pylist()]


def test_a_builds_rows_pass_and_say_so(rows):
    assert all(r["validation"]["round_trip"] is True and r["validation"]["round_trip_note"] == "" for r in rows)
    with RoundTrip() as checker:
        assert checker.check(rows[:8]) == [OK] * 8


def test_the_module_hash_alone_is_normalised():
    code = "void k_0123abcd_cpu_kernel_forward(wp_args_k_0123abcd *a) { f_0(); }"
    assert hash_normalized(code) == "void k_HASH_cpu_kernel_forward(wp_args_k_HASH *a) { f_0(); }"
    assert hash_normalized(None) == ""


def test_a_row_that_is_not_a_whole_problem_fails_with_its_reason(rows):
    row = next(r for r in rows if r["helper_functions"])
    no_import = {**row, "python_source": row["python_source"].replace("import warp as wp\n", "")}
    wrong_code = {**row, "cpp_forward": row["cpp_forward"].replace("var_", "tmp_")}
    other_types = {**row, "arguments": [{**a, "type": "int8"} for a in row["arguments"]]}
    with RoundTrip() as checker:
        missing, differs, types = checker.check([no_import, wrong_code, other_types])
    assert missing == "does not load: <file>: NameError: name 'wp' is not defined"
    assert differs == "code differs: cpp_forward"
    assert types == "its kernel, with these argument types, is not in it"


def test_a_program_that_ends_or_hangs_its_process_costs_its_batch_only(rows):
    row = rows[0]
    ends = {**row, "python_source": "import os\nos._exit(3)\n" + row["python_source"]}
    hangs = {**row, "python_source": "import time\nwhile True:\n    time.sleep(0.05)\n" + row["python_source"]}
    with RoundTrip(timeout_s=3.0, row_timeout_s=0.0) as checker:
        assert checker.check([ends]) == ["round trip: its process died (a program ended it)"]
        assert checker.check([row]) == [OK]  # a fresh process for the next batch
        assert checker.check([hangs]) == ["round trip: took longer than 3 s"]
        assert checker.check([row]) == [OK]


def test_with_round_trip_records_it_in_validation(small_build):
    path = sorted((small_build.out_dir / "data").glob("*.parquet"))[0]
    table = pq.read_table(path)
    broken = table.set_column(table.schema.get_field_index("python_source"), "python_source",
                              [["x = (\n"] * table.num_rows])
    with RoundTrip() as checker:
        out = with_round_trip(broken, checker)
    assert out.schema.equals(table.schema)
    validation = out.column("validation").to_pylist()
    assert all(v["round_trip"] is False and v["round_trip_note"].startswith("does not load: ") for v in validation)
    assert [v["level"] for v in validation] == [v["level"] for v in table.column("validation").to_pylist()]
