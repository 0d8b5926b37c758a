"""The Ray engine's pieces without Ray: files written whole on an object store (fsspec's memory://), file tasks
that mark their file and keep it on a rerun, the plan cut into files, URL outputs that refuse foreign files."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import fsspec
import pyarrow.parquet as pq
import pytest

from generator.planning.plan import ShardSpec
from warp_ir.outdir import OutputError
from warp_ir.ray_engine.store import HashingWriter, file_digest, open_store, read_json, write_whole
from warp_ir.ray_engine.tasks import DONE, FileSpec, file_specs, write_file


@pytest.fixture
def memory_url():
    url = f"memory://warp-ir-{uuid.uuid4().hex}"
    yield url
    fs, root = open_store(url)
    if fs.exists(root):
        fs.rm(root, recursive=True)


def test_a_file_appears_whole_or_not_at_all_on_an_object_store(memory_url):
    fs, root = open_store(memory_url)
    with write_whole(fs, f"{root}/a.bin") as f:
        f.write(b"x" * 10)
        assert not fs.exists(f"{root}/a.bin")  # nothing under the final name until the upload is committed
    assert fs.cat_file(f"{root}/a.bin") == b"x" * 10
    with pytest.raises(RuntimeError), write_whole(fs, f"{root}/b.bin") as f:
        f.write(b"half")
        raise RuntimeError("killed")
    assert not fs.exists(f"{root}/b.bin")


def test_a_failed_local_write_leaves_neither_the_file_nor_its_temporary(tmp_path):
    fs, root = open_store(str(tmp_path))
    with pytest.raises(RuntimeError), write_whole(fs, f"{root}/d/b.bin") as f:
        f.write(b"half")
        raise RuntimeError("killed")
    assert list((tmp_path / "d").iterdir()) == []


def test_hashing_writer_digest_is_the_files(memory_url):
    fs, root = open_store(memory_url)
    with write_whole(fs, f"{root}/c.bin") as raw:
        sink = HashingWriter(raw)
        sink.write(b"abc")
        sink.write(memoryview(b"defg"))
    assert file_digest(fs, f"{root}/c.bin") == (7, sink.sha256.hexdigest())


def test_a_broken_marker_is_not_trusted(memory_url):
    fs, root = open_store(memory_url)
    fs.pipe_file(f"{root}/m.json", b"{not json")
    assert read_json(fs, f"{root}/m.json") is None
    assert read_json(fs, f"{root}/missing.json") is None


def _spec(indices=(0, 1, 2)) -> FileSpec:
    from generator.programs.templates import default_families

    return FileSpec("train", 0, 1, (ShardSpec("train", 0, 3, tuple(indices), tuple(sorted(default_families()))),))


def test_file_task_writes_marks_and_then_keeps_its_file(memory_url, tmp_path):
    fs, root = open_store(memory_url)
    spec = _spec()
    first = write_file(spec, memory_url, "data", spec.identity("b1"), ("cpu",), "codegen")
    path = f"{root}/data/train-00000-of-00001.parquet"
    with fs.open(path, "rb") as f:
        table = pq.read_table(f)
    assert not first["reused"] and first["rows"] == table.num_rows == first["counts"]["rows"]
    assert all("_cpu_kernel_forward" in code for code in table.column("cpp_forward").to_pylist())
    assert first["row_stats"]["rows"] == {"train": table.num_rows}
    marker = json.loads(fs.cat_file(f"{root}/{DONE}/train-00000-of-00001.parquet.json"))
    assert (marker["bytes"], marker["sha256"]) == file_digest(fs, path)
    # the one format of finished work: the local engine's resume files have the same manifest and the same bytes
    from extraction import rows_table
    from extraction.roundtrip import RoundTrip, with_round_trip
    from generator.codegen.resume import save_table, trusted
    from generator.codegen.shard import compile_shard

    assert trusted(marker, spec.identity("b1")) and not trusted(marker, spec.identity("b2"))
    local = Path(tmp_path)
    rows, _ = compile_shard(spec.shards[0], ("cpu",))
    with RoundTrip() as checker:  # as the file task and the local engine both check it
        table = with_round_trip(rows_table(rows), checker)
    save_table(local / "rows.parquet", local / "rows.json", spec.identity("b1"), table, {})
    assert (local / "rows.parquet").read_bytes() == fs.cat_file(path)
    saved = json.loads((local / "rows.json").read_text())
    assert {k: saved[k] for k in ("version", "identity", "rows", "bytes", "sha256")} == \
        {k: marker[k] for k in ("version", "identity", "rows", "bytes", "sha256")}
    again = write_file(spec, memory_url, "data", spec.identity("b1"), ("cpu",), "codegen")
    assert again["reused"] and again["sha256"] == first["sha256"]
    # another build's marker (another identity), or a file that no longer matches its marker: written again
    other = write_file(spec, memory_url, "data", spec.identity("b2"), ("cpu",), "codegen")
    assert not other["reused"] and other["sha256"] == first["sha256"]  # same programs, same bytes
    fs.pipe_file(path, b"tampered")
    redone = write_file(spec, memory_url, "data", spec.identity("b2"), ("cpu",), "codegen")
    assert not redone["reused"] and file_digest(fs, path)[1] == first["sha256"]


def test_the_plan_is_cut_into_files_in_order():
    shards = {"train": [ShardSpec("train", k, 0, tuple(range(k * 10, k * 10 + n)), ("a",))
                        for k, n in enumerate((10, 10, 10, 4))],
              "test": [ShardSpec("test", 0, 0, (99,), ("a",))]}
    specs = file_specs(shards, rows_per_file=25)
    assert [(s.name, [sh.shard_id for sh in s.shards]) for s in specs] == [
        ("train-00000-of-00002.parquet", [0, 1]), ("train-00001-of-00002.parquet", [2, 3]),
        ("test-00000-of-00001.parquet", [0])]
    assert [len(s.shards) for s in file_specs(shards, rows_per_file=1)] == [1, 1, 1, 1, 1]  # a shard at least
    assert specs[0].identity("b") != specs[1].identity("b") != specs[0].identity("c")


def test_a_url_output_holding_foreign_files_is_refused(memory_url):
    from warp_ir.url_output import _check

    fs, root = open_store(memory_url)
    assert _check(fs, root, memory_url, "data", overwrite=False) == set()  # missing: fine
    fs.pipe_file(f"{root}/notes.txt", b"mine")
    with pytest.raises(OutputError, match="not empty and not a warp-ir build"):
        _check(fs, root, memory_url, "data", overwrite=False)
    info = {"synthetic": {"builder_version": "0.4.0", "files": ["data/train-00000-of-00001.parquet"]}}
    fs.pipe_file(f"{root}/build_info.json", json.dumps(info).encode())
    fs.pipe_file(f"{root}/data/train-00000-of-00001.parquet", b"x")
    assert _check(fs, root, memory_url, "data", overwrite=False) == {"data/train-00000-of-00001.parquet"}
    fs.pipe_file(f"{root}/data/test-00000-of-00001.parquet", b"someone else's")
    with pytest.raises(OutputError, match="test-00000-of-00001.parquet was not written by"):
        _check(fs, root, memory_url, "data", overwrite=False)
    info["real"] = {"builder_version": "0.4.0", "files": []}
    fs.pipe_file(f"{root}/build_info.json", json.dumps(info).encode())
    with pytest.raises(OutputError, match="holds the real configuration"):
        _check(fs, root, memory_url, "data", overwrite=True)
    assert fsspec.filesystem("memory").exists(f"{root}/notes.txt")  # nothing was touched


def test_a_file_above_the_hubs_size_is_an_error_and_leaves_nothing(memory_url, monkeypatch):
    from warp_ir.ray_engine import tasks

    monkeypatch.setattr(tasks, "MAX_FILE_BYTES", 1000)
    fs, root = open_store(memory_url)
    spec = _spec()
    with pytest.raises(tasks.FileTooLarge, match="above the Hub's 0 MB: lower --rows-per-file"):
        write_file(spec, memory_url, "data", spec.identity("b"), ("cpu",), "codegen")
    assert not fs.exists(f"{root}/data/train-00000-of-00001.parquet")
    assert not fs.exists(f"{root}/{DONE}/train-00000-of-00001.parquet.json")
