"""The sandbox's file store: keys stay inside its folder, sizes are bounded, files are real."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from nemovideo.sandbox import blobs as blobs_module
from nemovideo.sandbox.blobs import IN_MEMORY_BYTES, BlobStore


@pytest.fixture
def store() -> Iterator[BlobStore]:
    blobs = BlobStore(limit=10)
    yield blobs
    blobs.close()


@pytest.mark.parametrize(
    "key",
    ["", "/etc/passwd", "renders/..", "renders/../../x", "media/./a", "media//a", "a/\x00b", ".."],
)
def test_keys_that_could_leave_or_alias_are_refused(store: BlobStore, key: str) -> None:
    with pytest.raises(ValueError, match="outside the store"):
        store.path(key)


def test_put_read_and_the_oldest_dropped_past_the_limit(store: BlobStore) -> None:
    assert store.put("media/m_1-a.png", b"123456") == 6
    assert store.source("media/m_1-a.png") == b"123456"  # small: held in memory, no file
    assert not store.path("media/m_1-a.png").exists()
    assert store.put("renders/r1.mp4", b"abcdef") == 6  # 12 bytes > 10: the oldest goes
    assert store.read("media/m_1-a.png") is None
    assert store.source("media/m_1-a.png") is None
    assert store.read("renders/r1.mp4") == b"abcdef"
    assert store.total_bytes == 6
    store.put("renders/r1.mp4", b"xy")  # a rewrite is counted once
    assert store.total_bytes == 2 and store.size("renders/r1.mp4") == 2


def test_large_blobs_and_renders_are_files() -> None:
    blobs = BlobStore(limit=10 * IN_MEMORY_BYTES)
    try:
        big = b"x" * (IN_MEMORY_BYTES + 1)
        blobs.put("media/m_2-b.mp4", big)
        source = blobs.source("media/m_2-b.mp4")
        assert isinstance(source, Path) and source.read_bytes() == big
        assert source.parent.parent == blobs.root
        blobs.put("media/m_2-b.mp4", b"small now")  # the file goes, the bytes stay in memory
        assert not source.exists() and blobs.read("media/m_2-b.mp4") == b"small now"
        written = blobs.reserve("renders/r2.mp4")
        written.write_bytes(b"mp4")
        assert blobs.commit("renders/r2.mp4") == 3
        assert blobs.source("renders/r2.mp4") == written
        assert blobs.total_bytes == len(b"small now") + 3
    finally:
        blobs.close()


def test_close_removes_the_folder() -> None:
    blobs = BlobStore(limit=100)
    blobs.put("media/m_1-a.png", b"x")
    root = blobs.root
    blobs.close()
    assert not root.exists()


def test_memory_is_bounded_and_empty_blobs_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(blobs_module, "MEMORY_LIMIT", 10)
    blobs = BlobStore(limit=1000)
    try:
        blobs.put("media/m_1-a.png", b"12345678")
        blobs.put("media/m_2-b.png", b"12345678")  # 16 bytes > 10: this one goes to disk
        assert blobs.source("media/m_1-a.png") == b"12345678"
        second = blobs.source("media/m_2-b.png")
        assert isinstance(second, Path) and second.read_bytes() == b"12345678"
        blobs.put("media/m_1-a.png", b"")  # rewriting frees the memory it held
        assert blobs.source("media/m_1-a.png") == b""
        blobs.put("media/m_3-c.png", b"123456789")
        assert blobs.source("media/m_3-c.png") == b"123456789"
    finally:
        blobs.close()
