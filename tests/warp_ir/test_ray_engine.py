"""The Ray engine against a local Ray instance (loopback only) gives the rows of a local build."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

ray = pytest.importorskip("ray")


def rows(folder):
    return {p.name: pq.read_table(p).to_pylist() for p in sorted((folder / "data").glob("*.parquet"))}


def test_ray_build_matches_local_build(tmp_path):
    from warp_ir.build import build

    config = {"num_samples": 80, "seed": 13, "shard_size": 12}
    local = build(tmp_path / "local", command="x", **config)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1")
    try:
        remote = build(tmp_path / "ray", command="x", engine="ray", **config)
    finally:
        ray.shutdown()
    assert remote.rows == local.rows
    assert rows(tmp_path / "ray") == rows(tmp_path / "local")
    assert (tmp_path / "ray" / "README.md").read_text() == (tmp_path / "local" / "README.md").read_text()
