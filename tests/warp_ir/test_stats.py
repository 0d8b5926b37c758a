"""``warp-ir stats``: a broken file gives one line naming it (exit status 2, no traceback); ``--diversity``."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from evaluation.tasks import TASKS
from warp_ir.stats import StatsError, build_info, compute_stats, program_keys

N_ROWS = 2000
ROW_GROUP = 500


def write_shard(path: Path) -> Path:
    """A small real shard holding the columns ``compute_stats`` reads (several row groups)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sources = [f"@wp.kernel\ndef k{i}(a: wp.array(dtype=float)):\n    a[0] = wp.sin({i}.0) * {i * 7919 % 1000}.0\n"
               for i in range(N_ROWS)]
    table = pa.table({
        "kernel_name": [f"k{i}" for i in range(N_ROWS)],
        "family": ["arithmetic", "trigonometry"] * (N_ROWS // 2),
        "template": ["t"] * N_ROWS,
        "complexity": [1 + i % 3 for i in range(N_ROWS)],
        "python_source": sources,
        "cpp_forward": [None] * N_ROWS,
    })
    pq.write_table(table, path, compression="snappy", row_group_size=ROW_GROUP)
    return path


def truncate(path: Path) -> Path:
    """Keep the first half of ``path``'s bytes (its footer is gone)."""
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def corrupt_page_header(path: Path) -> Path:
    """Overwrite the header of the first page of a later row group: the footer is intact, reading breaks part-way."""
    column = pq.ParquetFile(path).metadata.row_group(2).column(0)
    offset = column.dictionary_page_offset or column.data_page_offset
    data = bytearray(path.read_bytes())
    data[offset:offset + 64] = b"\xab" * 64
    path.write_bytes(bytes(data))
    return path


@pytest.fixture
def folder(tmp_path):
    out = tmp_path / "built"
    write_shard(out / "data" / "train-00000-of-00001.parquet")
    (out / "README.md").write_text("# card\n")
    return out


def shard(folder: Path) -> Path:
    return folder / "data" / "train-00000-of-00001.parquet"


def run_stats(folder: Path) -> subprocess.CompletedProcess:
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "warp_ir.cli", "stats", str(folder)], capture_output=True,
                          text=True, timeout=300, check=False)
    proc.seconds = time.monotonic() - start
    return proc


def test_sound_folder(folder):
    stats = compute_stats(folder, builtin_names=["sin", "cos"])
    assert stats["rows"] == {"train": N_ROWS} and stats["builtin_coverage"]["covered"] == 1  # sin, not cos
    assert {name for _, name in program_keys(folder, "synthetic")} <= {f"k{i}" for i in range(N_ROWS)}


@pytest.mark.parametrize("breakage", ["truncated", "garbage", "page_header"])
def test_unreadable_parquet(folder, breakage):
    path = shard(folder)
    if breakage == "truncated":
        truncate(path)
    elif breakage == "garbage":
        path.write_bytes(b"not a parquet file\n" * 10)
    else:
        corrupt_page_header(path)
    with pytest.raises(StatsError) as err:
        compute_stats(folder, builtin_names=[])
    message = str(err.value)
    assert message.startswith(f"cannot read {path}: ") and "\n" not in message
    with pytest.raises(StatsError, match="cannot read"):
        list(program_keys(folder, "synthetic"))


@pytest.mark.parametrize("content, reason", [
    ("{not json", "Expecting property name enclosed in double quotes"),
    ("", "Expecting value"),
    ('["synthetic"]', "expected an object, got list"),
    (b"\xff\xfe\x00garbage", "codec can't decode"),
])
def test_bad_build_info(folder, content, reason):
    path = folder / "build_info.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(StatsError) as err:
        build_info(folder)
    message = str(err.value)
    assert message.startswith(f"{path} is not valid JSON: ") and reason in message and "\n" not in message
    with pytest.raises(StatsError, match="is not valid JSON"):
        compute_stats(folder, builtin_names=[])


def test_cli_truncated_parquet_is_one_line(folder):
    path = truncate(shard(folder))
    proc = run_stats(folder)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip() and not ln.startswith("Warp")]
    assert lines == [f"warp-ir: error: cannot read {path}: Parquet magic bytes not found in footer. Either the file "
                     "is corrupted or this is not a parquet file."], proc.stderr
    assert proc.stdout == ""


def test_cli_garbage_build_info_is_one_line(folder):
    path = folder / "build_info.json"
    path.write_text("{\x00garbage")
    proc = run_stats(folder)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip() and not ln.startswith("Warp")]
    assert len(lines) == 1 and lines[0].startswith(f"warp-ir: error: {path} is not valid JSON: "), proc.stderr


def _diversity_json(folder: Path, capsys) -> dict:
    from warp_ir.cli import main

    assert main(["stats", str(folder), "--diversity", "--json"]) == 0
    return json.loads(capsys.readouterr().out)["diversity"]


def test_diversity_counts_are_consistent(small_build, capsys):
    from warp_ir.cli import main

    div = _diversity_json(small_build.out_dir, capsys)
    total = sum(small_build.rows.values())
    assert div["total_rows"] == total
    assert 0 <= div["rows_with_twin"] <= total and 0 <= div["heldout_with_train_twin"] <= div["heldout_rows"]
    assert div["heldout_rows"] == total - small_build.rows.get("train", 0)
    assert sum(div["max_similarity_histogram"].values()) == total
    assert {s: v["rows"] for s, v in div["by_split"].items()} == small_build.rows
    assert main(["stats", str(small_build.out_dir), "--diversity"]) == 0
    out = capsys.readouterr().out
    assert "builtin coverage:" in out and f"rows with a near-twin: {div['rows_with_twin']} of {total}" in out
    assert "rows with a near-twin in another split: 0" in out and "rows by source: template " in out
    assert "fuzzy duplicates removed:" in out and "Scalar Math" in out  # drops by reason, coverage by group
    assert "one question, one answer" in out and "python→cuda_backward   0 of " in out
    assert main(["stats", str(small_build.out_dir), "--json"]) == 0
    plain = json.loads(capsys.readouterr().out)
    assert "diversity" not in plain  # only on demand
    # every task's model inputs are distinct, or shared by rows with the same reference
    assert {t: c["conflicting_inputs"] for t, c in plain["one_answer"].items()} == dict.fromkeys(TASKS, 0)
    assert plain["one_answer"]["python→cpp_forward"]["inputs"] == total


def test_diversity_finds_a_planted_renamed_copy(small_build, tmp_path, capsys):
    from generator.planning.minhash import signature
    from warp_ir.stats import diversity, split_files

    folder = tmp_path / "copy"
    shutil.copytree(small_build.out_dir, folder)
    before = diversity(folder)
    assert diversity(folder, processes=2) == before  # signatures computed in worker processes: the same
    files = split_files(folder)
    train = pq.read_table(files["train"][0]).slice(0, 1)
    source, name = train.column("python_source")[0].as_py(), train.column("kernel_name")[0].as_py()
    renamed = re.sub(r"\b\d+\.\d+\b", "7.25", re.sub(rf"\b{re.escape(name)}\b", "planted_twin", source))
    assert renamed != source and (signature(renamed) == signature(source)).all()
    planted = train.set_column(train.schema.get_field_index("python_source"), "python_source",
                               pa.array([renamed], type=pa.string()))
    heldout = next((p for split, paths in files.items() if split != "train" for p in paths), None)
    if heldout is None:
        pq.write_table(planted, folder / "data" / "test-00000-of-00001.parquet")
    else:
        table = pq.read_table(heldout)
        pq.write_table(pa.concat_tables([table, planted.cast(table.schema)]), heldout)

    after = _diversity_json(folder, capsys)
    assert after["total_rows"] == before["total_rows"] + 1
    assert after["heldout_rows"] == before["heldout_rows"] + 1
    assert after["heldout_with_train_twin"] == before["heldout_with_train_twin"] + 1
    assert after["rows_with_twin"] - before["rows_with_twin"] in (1, 2)  # 1 when the train row had a twin already
    ones = after["max_similarity_histogram"]["1.0"] - before["max_similarity_histogram"]["1.0"]
    assert ones in (1, 2)  # the planted row, and the train row unless it was at 1.0 already
    assert before["rows_with_cross_split_twin"] == 0  # the planner keeps near-twins in one split
    assert after["rows_with_cross_split_twin"] == 2  # the planted held-out row and its train original


def test_diversity_reuses_the_plans_signatures(small_build):
    """A build passes its plan's signatures: only the ``id`` column is read, and the figures are the same."""
    from generator.planning.plan import make_plan
    from generator.programs.templates import default_families, load_templates
    from warp_ir.stats import diversity

    out = small_build.out_dir
    ts = load_templates()
    plan = make_plan(7, 60, ts, default_families(ts), {"train": 0.9, "validation": 0.05, "test": 0.05}, 100)
    computed = diversity(out, use_datasketch=False, processes=1)
    assert diversity(out, known=(plan.kept_ids, plan.signatures)) == computed
    # they are really used: give the second kept program the first one's signature and it becomes its twin
    planted = plan.signatures.copy()
    planted[1] = planted[0]
    twinned = diversity(out, known=(plan.kept_ids, planted))
    assert twinned["rows_with_twin"] == computed["rows_with_twin"] + 2
    assert twinned["max_similarity_histogram"]["1.0"] == computed["max_similarity_histogram"]["1.0"] + 2
    # a row they lack: every signature is computed from the sources again
    assert diversity(out, known=(plan.kept_ids[1:], planted[1:])) == computed


def test_the_overlap_comes_from_the_recorded_keys(tmp_path):
    from generator.codegen.rowstats import RowStats
    from generator.config import BuildConfig
    from warp_ir.build_record import real_overlap, recorded_stats
    from warp_ir.produced import Produced
    from warp_ir.stats import in_real

    assert in_real({"a": "k1", "b": "k2"}, ["b", "c", "b"]) == ["k2"]
    for name in ("data", "real"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "train-00000-of-00001.parquet").write_bytes(b"")  # present (never read here)
    folders = {"synthetic": tmp_path, "real": tmp_path}
    stats = RowStats(programs={"b": "synth_b", "c": "synth_c"})
    synthetic = Produced(config=BuildConfig(), row_stats=stats)
    previous = {"real": {"program_keys": {"a": "real_a", "b": "real_b"}, "summary": {"rows": {"test": 2}},
                         "command": "warp-ir build --config real"}}
    assert real_overlap(synthetic, previous, folders) == ["real_b"]
    assert real_overlap(synthetic, {"real": {"command": "an older record"}}, folders) is None  # read from the rows
    assert real_overlap(synthetic, previous, None) == []  # a build to a URL: the card shows one configuration
    real = Produced(config=BuildConfig(name="real"), row_stats=stats)
    assert real_overlap(real, previous, folders) is None  # no record of synthetic programs: read from the rows
    (tmp_path / "data" / "train-00000-of-00001.parquet").unlink()
    assert real_overlap(real, previous, folders) == []
    assert recorded_stats(previous, built="synthetic") == {
        "real": {"rows": {"test": 2}, "build": {"command": "warp-ir build --config real"}}}
    assert recorded_stats(previous, built="real") == {}
