"""The sandbox's file store: keys stay inside its folder, sizes are bounded, files are real."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from nemovideo.sandbox.blobs import BlobStore


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
    assert store.path("media/m_1-a.png").read_bytes() == b"123456"
    assert store.path("media/m_1-a.png").parent.parent == store.root
    assert store.put("renders/r1.mp4", b"abcdef") == 6  # 12 bytes > 10: the oldest goes
    assert store.read("media/m_1-a.png") is None
    assert not store.path("media/m_1-a.png").exists()
    assert store.read("renders/r1.mp4") == b"abcdef"
    assert store.total_bytes == 6
    store.put("renders/r1.mp4", b"xy")  # a rewrite is counted once
    assert store.total_bytes == 2 and store.size("renders/r1.mp4") == 2


def test_close_removes_the_folder() -> None:
    blobs = BlobStore(limit=100)
    blobs.put("media/m_1-a.png", b"x")
    root = blobs.root
    blobs.close()
    assert not root.exists()
