"""The per-environment cache: template headers and the synthesizer's builtin signatures, verified before use."""

from __future__ import annotations

import json

import pytest

from extraction.signatures import builtin_signatures
from generator.programs import envcache
from generator.programs.sampler import sample_program
from generator.programs.synth import registry
from generator.programs.templates import TEMPLATES_DIR, default_families, load_templates

_load_templates = load_templates.__wrapped__  # past the per-process functools.cache


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """The cache in a folder of this test's own."""
    monkeypatch.setenv(envcache.CACHE_ENV, str(tmp_path / "cache"))
    root = envcache.cache_root()
    assert root is not None and str(root).startswith(str(tmp_path))
    return root


def _entry(root, name):
    return root / f"{name}.json"


def test_cache_root_defaults_and_off(monkeypatch, tmp_path):
    monkeypatch.delenv(envcache.CACHE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert envcache.cache_root().parent == tmp_path / "xdg" / "warp-ir"
    monkeypatch.setenv(envcache.CACHE_ENV, "off")
    assert envcache.cache_root() is None
    envcache.store("x", {"k": 1}, [1, 2])  # nothing written, nothing raised
    assert envcache.load("x", {"k": 1}, lambda d: True) is None
    assert not (tmp_path / "xdg").exists()


def test_signatures_are_stored_then_read_back_as_computed(cache):
    fresh = registry.signatures()
    assert fresh == builtin_signatures()
    path = _entry(cache, "builtin-signatures")
    entry = json.loads(path.read_text())
    assert entry["format"] == envcache.FORMAT and entry["key"]["warp"] and entry["key"]["code"]
    path.write_text(path.read_text())  # untouched: read back, not recomputed
    assert registry.signatures() == fresh
    assert envcache.load("builtin-signatures", entry["key"], registry._valid_rows) == entry["data"]


@pytest.mark.parametrize("damage", ["garbage", "truncated", "checksum", "key", "format", "shape"])
def test_a_damaged_or_foreign_entry_is_ignored_and_rebuilt(cache, damage):
    fresh = registry.signatures()
    path = _entry(cache, "builtin-signatures")
    good = path.read_text()
    entry = json.loads(good)
    if damage == "garbage":
        path.write_bytes(b"\x00\xff not json")
    elif damage == "truncated":
        path.write_text(good[: len(good) // 2])
    elif damage == "checksum":  # data changed behind the checksum's back
        entry["data"][0][0] = "not_a_builtin"
        path.write_text(json.dumps(entry))
    elif damage == "key":  # written by another Warp
        entry["key"]["warp"] = "0.0.1"
        path.write_text(json.dumps(entry))
    elif damage == "format":
        entry["format"] = envcache.FORMAT + 1
        path.write_text(json.dumps(entry))
    else:  # checksum right, but not signatures
        entry["data"] = [["add", "a"]]
        entry["sha256"] = __import__("hashlib").sha256(envcache._dumps(entry["data"]).encode()).hexdigest()
        path.write_text(json.dumps(entry))
    assert envcache.load("builtin-signatures", json.loads(good)["key"], registry._valid_rows) is None
    assert registry.signatures() == fresh  # computed again...
    assert json.loads(path.read_text()) == json.loads(good)  # ...and written back whole


def test_template_headers_cached_give_the_same_programs(cache, monkeypatch):
    monkeypatch.setenv(envcache.CACHE_ENV, "off")
    plain = _load_templates(TEMPLATES_DIR)
    monkeypatch.setenv(envcache.CACHE_ENV, str(cache.parent))
    first = _load_templates(TEMPLATES_DIR)  # parses, writes the cache
    assert _entry(cache, "template-headers").is_file()
    second = _load_templates(TEMPLATES_DIR)  # reads it
    for a, b, c in zip(plain, first, second, strict=True):
        assert (a.name, a.params, a.meta, a.complexity, a.builtins, a.error) == \
            (b.name, b.params, b.meta, b.complexity, b.builtins, b.error) == \
            (c.name, c.params, c.meta, c.complexity, c.builtins, c.error)
        assert list(a.params) == list(c.params)  # declaration order: the order parameters are drawn in
    fams = default_families(plain)
    for i in range(40):
        assert sample_program(3, i, plain, fams).source == sample_program(3, i, second, fams).source


def test_template_headers_entry_corrupt_or_stale_is_rebuilt(cache, tmp_path):
    folder = tmp_path / "templates" / "fam"
    folder.mkdir(parents=True)
    (folder / "one.py.j2").write_text("{#- warp-ir\nfamily: fam\nparams:\n  b: [1, 2]\n  a: {int: [0, 3]}\n-#}\nx\n")
    root = tmp_path / "templates"
    assert list(_load_templates(root)[0].params) == ["b", "a"]
    path = _entry(cache, "template-headers")
    path.write_text("{")
    assert list(_load_templates(root)[0].params) == ["b", "a"]
    assert json.loads(path.read_text())["data"]  # rewritten
    # an edited header has another digest: parsed, never the stale entry
    (folder / "one.py.j2").write_text("{#- warp-ir\nfamily: fam\nparams:\n  c: [5]\n-#}\nx\n")
    assert _load_templates(root)[0].params == {"c": [5]}
    assert len(json.loads(path.read_text())["data"]) == 1  # only the headers in use are kept


def test_unwritable_cache_is_skipped(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv(envcache.CACHE_ENV, str(blocker / "below-a-file"))
    assert registry.signatures() == builtin_signatures()
