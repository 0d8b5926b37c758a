"""The Ray engine on a local Ray instance (loopback only): its files hold a local build's rows, row for row,
even when a worker or the driver is killed mid-build."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pyarrow.parquet as pq
import pytest

ray = pytest.importorskip("ray")

ROOT = Path(__file__).resolve().parents[2]
CONFIG = {"num_samples": 120, "seed": 5, "shard_size": 10}
CLI_CONFIG = ["--num-samples", "120", "--seed", "5", "--shard-size", "10"]


def rows(folder: Path) -> dict[str, list[dict]]:
    """Every split's rows, files read in order."""
    out: dict[str, list[dict]] = {}
    for path in sorted((folder / "data").glob("*.parquet")):
        out.setdefault(path.name.split("-")[0], []).extend(pq.read_table(path).to_pylist())
    return out


@pytest.fixture(scope="module")
def local_build(tmp_path_factory):
    """The reference: the same programs built by the local engine."""
    from warp_ir.build import build

    out = tmp_path_factory.mktemp("local") / "out"
    build(out, command="x", **CONFIG)
    return out


@pytest.fixture
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1")
    yield
    ray.shutdown()


def leftovers(folder: Path) -> list[str]:
    """Temporary files (a half-written file under another name) anywhere under ``folder``."""
    return sorted(str(p) for p in folder.rglob("*.tmp"))


def test_ray_build_matches_local_build(tmp_path, local_build, local_ray):
    from warp_ir.build import build

    remote = build(tmp_path / "ray", command="x", engine="ray", rows_per_file=40, **CONFIG)
    names = sorted(p.name for p in (tmp_path / "ray" / "data").glob("*.parquet"))
    assert names[:2] == ["test-00000-of-00001.parquet", "test_unseen-00000-of-00001.parquet"]
    train = [n for n in names if n.startswith("train-")]  # about 100 planned train programs, 40 a file: by the plan
    assert len(train) >= 2 and train == [f"train-{k:05d}-of-{len(train):05d}.parquet" for k in range(len(train))]
    assert sum(pq.ParquetFile(tmp_path / "ray" / "data" / n).metadata.num_rows for n in names) == 120
    assert rows(tmp_path / "ray") == rows(local_build)
    assert remote.rows == {s: len(r) for s, r in rows(local_build).items()} | remote.rows
    # the card and build_info.json come from the workers' statistics, with the same values
    assert (tmp_path / "ray" / "README.md").read_text() == (local_build / "README.md").read_text()
    assert not (tmp_path / "ray" / ".warp-ir-cache").exists()


def test_ray_build_into_a_file_url(tmp_path, local_build, local_ray):
    """An fsspec URL output: the files are moved to their Hub names, the card and build_info.json written last."""
    from warp_ir.build import build

    out = tmp_path / "bucket" / "warp-ir"
    result = build(f"file://{out}", command="x", engine="ray", rows_per_file=50, **CONFIG)
    assert result.out_dir == f"file://{out}"
    assert rows(out) == rows(local_build)
    assert (out / "README.md").read_text() == (local_build / "README.md").read_text()
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "build_info.json", "data", "figures"]
    assert not leftovers(out)


def _kill_a_writer(folder: Path, killed: list[int], stop: threading.Event) -> None:
    """Once a file is being written under ``folder`` (its temporary name exists), SIGKILL the worker writing it."""
    while not stop.wait(0.05):
        if not leftovers(folder):
            continue
        for proc in psutil.process_iter(["cmdline"]):
            if (proc.info["cmdline"] or [""])[0].startswith("ray::write_file"):
                proc.kill()
                killed.append(proc.pid)
                return


def test_a_worker_killed_mid_file_is_retried(tmp_path, local_build, local_ray):
    from warp_ir.build import build

    out, killed, stop = tmp_path / "ray", [], threading.Event()
    killer = threading.Thread(target=_kill_a_writer, args=(out, killed, stop), daemon=True)
    killer.start()
    try:
        build(out, command="x", engine="ray", rows_per_file=40, **CONFIG)
    finally:
        stop.set()
        killer.join()
    assert killed, "no worker was seen writing a file"
    assert rows(out) == rows(local_build)  # the retried task wrote the whole file, once
    assert not leftovers(out)
    assert (out / "README.md").read_text() == (local_build / "README.md").read_text()


def _markers(out: Path) -> list[Path]:
    return sorted(out.glob(".warp-ir-cache/ray/*/done/*.json"))


@pytest.mark.timeout(600)
def test_a_killed_driver_resumes_with_the_finished_files(tmp_path, local_build):
    out = tmp_path / "ray"
    command = [sys.executable, "-m", "warp_ir.cli", "build", "--out", str(out), "--engine", "ray",
               "--rows-per-file", "20", "--max-in-flight", "2", *CLI_CONFIG]
    env = {**os.environ, "RAY_AUTH_MODE": "disabled"}
    driver = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while len(_markers(out)) < 2 and driver.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert driver.poll() is None, "the build ended before it could be killed"
        driver.kill()  # SIGKILL: no clean-up of any kind
        driver.wait()
        finished = {p.stem: (out / ".warp-ir-cache" / "ray" / p.parent.parent.name / "data" / p.stem).stat().st_ino
                    for p in _markers(out)}
    finally:
        try:
            os.killpg(driver.pid, signal.SIGKILL)  # what the killed driver's local Ray instance left running
        except ProcessLookupError:
            pass
    assert len(finished) >= 2 and not (out / "data").exists()
    rerun = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=400, check=False)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    kept = int(rerun.stdout.split("; ")[-1].split()[0])
    assert kept >= len(finished), rerun.stdout
    assert rows(out) == rows(local_build)
    for name, inode in finished.items():  # kept, not written again: the very same files, moved into place
        assert (out / "data" / name).stat().st_ino == inode
    assert not leftovers(out)
    from warp_ir.build_record import rebuild_command
    from warp_ir_dataset import WarpIRConfig

    canonical = rebuild_command(WarpIRConfig(**CONFIG))  # what a build run from the command line prints
    assert (out / "README.md").read_text() == (local_build / "README.md").read_text().replace("`x`", f"`{canonical}`")


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_ray_build_of_2000_programs_equals_a_local_build(tmp_path, local_ray):
    from warp_ir.build import build

    config = {"num_samples": 2000, "seed": 11}
    build(tmp_path / "local", command="x", num_proc=2, **config)
    result = build(tmp_path / "ray", command="x", engine="ray", rows_per_file=500, **config)
    assert sum(result.rows.values()) == 2000
    assert len(list((tmp_path / "ray" / "data").glob("train-*.parquet"))) >= 3
    assert rows(tmp_path / "ray") == rows(tmp_path / "local")
    assert (tmp_path / "ray" / "README.md").read_text() == (tmp_path / "local" / "README.md").read_text()
