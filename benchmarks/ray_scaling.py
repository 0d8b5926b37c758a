"""The Ray engine past one machine's memory: driver and worker peaks as a build grows, in one run.

    python benchmarks/ray_scaling.py [--small 10000] [--large 100000] [--throughput 2000] [--quick]

Runs ``warp-ir build --engine ray --validate codegen`` on a local Ray instance (loopback only) for
``--small`` and then ``--large`` programs, each in a fresh driver process, and reports:
  1. the driver's peak resident set size (its own ``ru_maxrss``, reported as it exits);
  2. the largest peak of any Ray worker process (``VmHWM``, sampled every half second);
  3. time and rows per second;
and the ratios large/small (target: driver <= 1.2, workers flat). Then the throughput of the
local engine (``--num-proc`` = CPUs) against the Ray engine on ``--throughput`` programs, and the
file and row-group sizes of the large build. ``--quick`` (CI): 500 against 2,000, throughput on 500.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
# the driver: warp-ir's CLI, reporting its own peak resident set size (KiB on Linux) as it exits
DRIVER = ("import resource, sys\nfrom warp_ir.cli import main\nrc = main(sys.argv[1:])\n"
          "print('DRIVER_PEAK_KIB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, flush=True)\nsys.exit(rc)\n")


def _hwm_kib(proc: psutil.Process) -> int:
    """Peak resident set size of ``proc`` so far (``VmHWM``), in KiB; 0 if it is gone."""
    try:
        with open(f"/proc/{proc.pid}/status", encoding="ascii") as f:
            return next((int(line.split()[1]) for line in f if line.startswith("VmHWM:")), 0)
    except OSError:
        return 0


def _task(proc: psutil.Process) -> str | None:
    """The task a Ray worker process runs (its title is ``ray::<task>``, ``ray::IDLE`` between tasks); ``None``
    for any other process."""
    try:
        cmd = proc.cmdline()
    except psutil.Error:
        return None
    if cmd and cmd[0].startswith("ray::"):
        return cmd[0][5:].split()[0] if len(cmd[0]) > 5 else "IDLE"
    return "IDLE" if any("default_worker.py" in part for part in cmd) else None


def run(args: list[str], cwd: Path) -> dict:
    """Run ``warp-ir`` with ``args``; its wall time, driver peak and the largest Ray worker peak (MiB)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RAY_AUTH_MODE": "disabled"}
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", DRIVER, *args], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    peaks: dict[int, int] = {}  # worker pid -> peak (KiB)
    tasks: dict[int, set[str]] = {}  # worker pid -> the tasks it was seen running
    done = threading.Event()

    def sample() -> None:
        driver = psutil.Process(proc.pid)
        while not done.wait(0.5):
            try:
                children = driver.children(recursive=True)
            except psutil.Error:
                continue
            for child in children:
                task = _task(child)
                if task is not None:
                    peaks[child.pid] = max(peaks.get(child.pid, 0), _hwm_kib(child))
                    tasks.setdefault(child.pid, set()).add(task)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output, _ = proc.communicate()
    done.set()
    sampler.join()
    seconds = time.perf_counter() - start
    if proc.returncode:
        sys.exit(f"warp-ir {' '.join(args)} failed ({proc.returncode}):\n{output[-3000:]}")
    peak = next(int(line.split()[1]) for line in output.splitlines() if line.startswith("DRIVER_PEAK_KIB"))
    # workers that ran a file task, and those that ran the plan or the near-twin count (one task each: max_calls=1)
    planners = {pid for pid, seen in tasks.items() if seen & {"plan_files", "near_twins_of_files"}}
    file_workers = {pid for pid, seen in tasks.items() if "write_file" in seen} - planners
    summary = next(line for line in output.splitlines() if line.startswith("wrote "))
    rows = sum(int(part.split()[-1]) for part in summary.split(" rows in ")[0].split(": ", 1)[1].split(", "))
    return {"seconds": seconds, "driver_mib": peak / 1024, "rows": rows,
            "worker_mib": max((peaks[p] for p in file_workers), default=0) / 1024,
            "planner_mib": max((peaks[p] for p in planners), default=0) / 1024}


def files_report(folder: Path) -> None:
    """File sizes and row-group sizes of a built folder."""
    import pyarrow.parquet as pq

    paths = sorted((folder / "data").glob("*.parquet"))
    sizes = [p.stat().st_size / 1e6 for p in paths]
    groups = [(g.num_rows, g.total_byte_size) for p in paths for g in
              (pq.ParquetFile(p).metadata.row_group(i) for i in range(pq.ParquetFile(p).metadata.num_row_groups))]
    print(f"  {len(paths)} Parquet files, {sum(sizes):.0f} MB: {min(sizes):.1f} to {max(sizes):.1f} MB a file")
    print(f"  {len(groups)} row groups: {min(g[0] for g in groups)} to {max(g[0] for g in groups)} rows, "
          f"{min(g[1] for g in groups) / 1e6:.2f} to {max(g[1] for g in groups) / 1e6:.2f} MB uncompressed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--throughput", type=int, default=2_000, help="programs for local against ray")
    parser.add_argument("--quick", action="store_true", help="500 against 2,000 programs, throughput on 500 (CI)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.quick:
        args.small, args.large, args.throughput = 500, 2_000, 500
    cpus = len(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory(prefix="warp-ir-ray-bench-") as tmp:
        work = Path(tmp)
        # (the card's retrieval baseline scores answers after the build: not the engine's work, left out)
        common = ["--seed", str(args.seed), "--validate", "codegen", "--baseline-rows", "0"]
        results = {}
        for label, n in (("small", args.small), ("large", args.large)):
            results[label] = r = run(["build", "--out", str(work / label), "--num-samples", str(n), "--engine", "ray",
                                      *common], work)
            print(f"ray {n:>7} programs: {r['rows']} rows in {r['seconds']:.0f} s ({r['rows'] / r['seconds']:.1f} "
                  f"rows/s); driver peak {r['driver_mib']:.0f} MiB, file workers' largest peak "
                  f"{r['worker_mib']:.0f} MiB, plan/near-twin tasks' {r['planner_mib']:.0f} MiB", flush=True)
        small, large = results["small"], results["large"]
        print(f"driver peak large/small = {large['driver_mib'] / small['driver_mib']:.3f}   target <= 1.2")
        print(f"file worker peak large/small = {large['worker_mib'] / small['worker_mib']:.3f}   (flat: about 1)")
        print(f"plan/near-twin task peak large/small = {large['planner_mib'] / small['planner_mib']:.3f}   (they hold "
              "every program's 512-byte signature, in a worker of their own)")
        print(f"files of the {args.large}-program build:")
        files_report(work / "large")
        for label in ("small", "large"):
            (work / label).rename(work / f"done-{label}")  # out of the way; removed with the folder
        n = args.throughput
        per_file = -(-n // (4 * cpus))  # files enough to keep every CPU busy
        local = run(["build", "--out", str(work / "local"), "--num-samples", str(n), "--num-proc", str(cpus),
                     *common], work)
        ray = run(["build", "--out", str(work / "ray"), "--num-samples", str(n), "--engine", "ray",
                   "--rows-per-file", str(per_file), *common], work)
        print(f"throughput on {n} programs, {cpus} CPUs: local (--num-proc {cpus}) "
              f"{local['rows'] / local['seconds']:.1f} rows/s ({local['seconds']:.0f} s), "
              f"ray (--rows-per-file {per_file}) "
              f"{ray['rows'] / ray['seconds']:.1f} rows/s ({ray['seconds']:.0f} s); ray/local = "
              f"{local['seconds'] / ray['seconds']:.2f} (wall time, Ray's start and the plan included)")


if __name__ == "__main__":
    main()
