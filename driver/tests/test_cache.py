"""The content-keyed cache (cache.py): keys that tell their parts apart, an
entry read back as written, a damaged or missing one read as none, and a cache
that cannot be written skipped without a word."""

from __future__ import annotations

import os

import pytest

from mallocsim import cache


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def test_keys_tell_their_parts_apart():
    assert cache.content_key("ab", "c") != cache.content_key("a", "bc")
    assert cache.content_key("a", b"b") == cache.content_key(b"a", "b")


def test_an_entry_reads_back_as_written_and_a_missing_one_as_none():
    cache.store("grades", "k1", {"score": 58.0, "traces": [1, 2]})
    assert cache.load("grades", "k1") == {"score": 58.0, "traces": [1, 2]}
    assert cache.load("grades", "k2") is None


def test_a_damaged_entry_reads_as_none(tmp_path):
    cache.store("grades", "k1", {"score": 1})
    (tmp_path / "cache" / "mallocsim" / "grades" / "k1.json").write_text('{"sco')
    assert cache.load("grades", "k1") is None


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through any permission")
def test_a_cache_that_cannot_be_written_is_skipped(tmp_path):
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache").chmod(0o500)
    cache.store("grades", "k1", {"score": 1})  # no exception
    assert cache.load("grades", "k1") is None


def test_a_cache_folder_that_is_a_file_is_skipped(tmp_path):
    (tmp_path / "cache").write_text("not a folder")
    cache.store("grades", "k1", {"score": 1})
    assert cache.load("grades", "k1") is None


def test_the_code_digest_covers_the_engine_and_every_module():
    assert len(cache.code_digest()) == 32
    digested = set(cache.digested_files())
    native = cache.PACKAGE_DIR / "_native"
    engine = {p for p in native.rglob("*") if p.is_file() and not p.name.startswith(".")}
    modules = set(cache.PACKAGE_DIR.rglob("*.py"))
    assert {native / "msagent", native / "msconfine", native / "mscount"} <= engine
    assert engine | modules <= digested, sorted(map(str, (engine | modules) - digested))
