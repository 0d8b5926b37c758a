"""``warp-ir stats`` on a folder with a broken file: one line naming the file, exit status 2, no traceback."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from warp_ir.stats import StatsError, build_info, compute_stats, normalized_hashes

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
    assert set(normalized_hashes(folder, "synthetic").values()) <= {f"k{i}" for i in range(N_ROWS)}


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
        normalized_hashes(folder, "synthetic")


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
