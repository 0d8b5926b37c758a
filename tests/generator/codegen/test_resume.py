"""Saved shards are verified before they are trusted: every kind of damage is detected, logged and discarded."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil

import pyarrow.parquet as pq
import pytest

from extraction import FEATURES, rows_table
from generator.codegen.resume import load_shard, save_shard, shard_identity
from generator.codegen.shard import compile_shard
from generator.planning.plan import make_plan
from generator.programs.templates import load_templates

TARGETS = ("cpu", "cuda")


@pytest.fixture(scope="module")
def shards():
    """Two real shards of one small plan, compiled (rows with real generated code)."""
    plan = make_plan(5, 12, load_templates(), ["arithmetic", "trigonometry"], {"train": 1.0}, shard_size=6)
    out = []
    for shard in plan.shards["train"][:2]:
        rows, counts = compile_shard(shard, TARGETS)
        out.append((shard, rows, counts))
    return out


def saved(tmp_path, shards, i=0):
    shard, rows, counts = shards[i]
    save_shard(tmp_path, shard, shard_identity(shard, TARGETS, "codegen"), rows_table(rows), counts)
    return shard, tmp_path / f"train-{shard.shard_id:05d}.parquet", tmp_path / f"train-{shard.shard_id:05d}.json"


def test_saved_shard_round_trips(tmp_path, shards):
    shard, data, manifest = saved(tmp_path, shards)
    table, counts = load_shard(tmp_path, shard, shard_identity(shard, TARGETS, "codegen"))
    rows = table.to_pylist()
    assert rows == shards[0][1] and counts == shards[0][2]
    assert any("wp::" in r["cpp_forward"] for r in rows)
    assert data.read_bytes()[:4] == data.read_bytes()[-4:] == b"PAR1"  # a data format, not a pickle
    info = json.loads(manifest.read_text())
    assert info["sha256"] == hashlib.sha256(data.read_bytes()).hexdigest() and info["rows"] == len(rows)
    assert info["version"] == 2 and info["identity"] == shard_identity(shard, TARGETS, "codegen")
    # the format of the Ray engine's finished files: datasets' Parquet writer, the same schema metadata
    assert pq.read_schema(data).metadata == FEATURES.arrow_schema.metadata


def truncate(data, manifest):
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])


def garbage(data, manifest):
    data.write_bytes(b"\x80\x04garbage" * 100)


def flip_byte(data, manifest):
    raw = bytearray(data.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    data.write_bytes(bytes(raw))


def drop_rows_keep_manifest(data, manifest):
    pq.write_table(pq.read_table(data).slice(0, 2), data)


def drop_rows_and_fix_checksum(data, manifest):
    """A careful tamperer: fewer rows, manifest checksum, size and row count updated to match."""
    drop_rows_keep_manifest(data, manifest)
    info = json.loads(manifest.read_text())
    raw = data.read_bytes()
    info.update(rows=2, bytes=len(raw), sha256=hashlib.sha256(raw).hexdigest())
    manifest.write_text(json.dumps(info))


def garbage_manifest(data, manifest):
    manifest.write_text("{not json")


def missing_manifest(data, manifest):
    manifest.unlink()


def missing_data(data, manifest):
    data.unlink()


@pytest.mark.parametrize("damage", [truncate, garbage, flip_byte, drop_rows_keep_manifest, drop_rows_and_fix_checksum,
                                    garbage_manifest, missing_manifest, missing_data])
def test_damaged_shard_is_discarded_with_its_path(tmp_path, shards, damage, caplog):
    shard, data, manifest = saved(tmp_path, shards)
    damage(data, manifest)
    with caplog.at_level(logging.WARNING, logger="generator.codegen.resume"):
        assert load_shard(tmp_path, shard, shard_identity(shard, TARGETS, "codegen")) is None
    assert str(data) in caplog.text and "discarding" in caplog.text
    assert not data.exists() and not manifest.exists()


def test_foreign_shard_copied_over_another_is_discarded(tmp_path, shards, caplog):
    first, data0, manifest0 = saved(tmp_path, shards, 0)
    second, data1, manifest1 = saved(tmp_path, shards, 1)
    shutil.copy(data0, data1)
    shutil.copy(manifest0, manifest1)
    with caplog.at_level(logging.WARNING, logger="generator.codegen.resume"):
        assert load_shard(tmp_path, second, shard_identity(second, TARGETS, "codegen")) is None
    assert "describes other work" in caplog.text
    assert load_shard(tmp_path, first, shard_identity(first, TARGETS, "codegen")) is not None


def test_shard_saved_for_other_settings_is_not_used(tmp_path, shards):
    shard, _, _ = saved(tmp_path, shards)
    assert load_shard(tmp_path, shard, shard_identity(shard, ("cpu",), "codegen")) is None
