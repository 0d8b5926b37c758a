"""A build killed with SIGKILL resumes from its finished shards; rows do not depend on num_proc."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq

from warp_ir.stats import split_files

# no retrieval baseline: these compare rows and cards of two builds, and the baseline's rates in the card have been
# seen to differ between two builds of the same rows (README, "Retrieval baseline")
ARGS = ["--num-samples", "240", "--seed", "21", "--shard-size", "15", "--baseline-rows", "0"]


def cli(out: Path, *extra: str, verbose: bool = False) -> list[str]:
    return [sys.executable, "-m", "warp_ir.cli", *(["-v"] if verbose else []), "build", "--out", str(out), *ARGS,
            *extra]


def rows(folder: Path) -> dict[str, list[dict]]:
    """Rows of every split, in order (the number of files per split follows the number of processes)."""
    return {split: [row for path in paths for row in pq.read_table(path).to_pylist()]
            for split, paths in split_files(folder).items()}


def test_killed_build_resumes_to_identical_folder(tmp_path):
    reference = tmp_path / "reference"
    subprocess.run(cli(reference), check=True, capture_output=True, timeout=600)

    out = tmp_path / "killed"
    proc = subprocess.Popen(cli(out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    shards = out / ".warp-ir-cache" / "shards"
    deadline = time.time() + 300
    while time.time() < deadline and len(list(shards.glob("*/train-*.json"))) < 3:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = sorted(p.name for p in shards.glob("*/*.json"))
    assert len(finished) >= 3, "the build finished no shard before it was killed"
    assert not (out / "README.md").exists(), "the build was killed too late to test resumption"
    stamps = {p: p.stat().st_mtime_ns for p in shards.glob("*/*.json")}

    resumed = subprocess.run(cli(out, "--keep-cache", verbose=True), check=True, capture_output=True, text=True,
                             timeout=600)
    assert "resumed" in resumed.stderr
    for path, stamp in stamps.items():  # finished shards were read back, not regenerated
        assert path.stat().st_mtime_ns == stamp
    assert rows(out) == rows(reference)
    files = sorted(p.relative_to(reference).as_posix() for p in (reference / "data").glob("*.parquet"))
    assert sorted(p.relative_to(out).as_posix() for p in (out / "data").glob("*.parquet")) == files
    for name in ["README.md", "build_info.json", *files]:
        assert (out / name).read_bytes() == (reference / name).read_bytes(), name
    assert not list(out.rglob(".*.tmp"))


def test_rows_do_not_depend_on_num_proc(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    subprocess.run(cli(one), check=True, capture_output=True, timeout=600)
    subprocess.run(cli(two, "--num-proc", "2"), check=True, capture_output=True, timeout=600)
    assert rows(one) == rows(two)
    assert (one / "README.md").read_text() == (two / "README.md").read_text()
