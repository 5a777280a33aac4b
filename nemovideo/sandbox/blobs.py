"""Bytes of uploads and renders, bounded in total size: small ones in memory, the rest on disk
in a private temporary folder."""

from __future__ import annotations

import collections
import contextlib
import os
import tempfile
from pathlib import Path

__all__ = ["BlobStore"]

#: Key parts that could climb out of the store or alias another key.
_BAD_PARTS = frozenset({"", ".", ".."})

#: Blobs up to this size stay in memory: creating a file costs far more than keeping them.
IN_MEMORY_BYTES = 256 * 1024

#: At most this much is held in memory; past it, small blobs go to disk like the others.
MEMORY_LIMIT = 256 * 1024 * 1024


class BlobStore:
    """Blobs by key (``media/<id>-<name>``, ``renders/<id>.mp4``), oldest dropped past ``limit``.

    :meth:`put` keeps blobs up to :data:`IN_MEMORY_BYTES` in memory and writes larger ones to
    disk; renders are written to disk by the encoder (:meth:`reserve`, then :meth:`commit`).
    :meth:`source` gives either form.

    The folder is removed by :meth:`close`. Keys are produced by the sandbox, never taken from
    a request path unchecked: :meth:`path` refuses anything that could leave the folder (an
    absolute key, an empty, ``.`` or ``..`` part, a NUL). Only the store writes inside its
    private folder, so no link can lead out of it, and checking the key's text is enough: no
    file system call per lookup.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._dir = tempfile.TemporaryDirectory(prefix="nemovideo-sandbox-")
        self.root = Path(self._dir.name).resolve()
        self._root = str(self.root)
        self._folders: set[str] = set()
        self._memory: dict[str, bytes] = {}
        self._memory_total = 0
        self._sizes: collections.OrderedDict[str, int] = collections.OrderedDict()
        self._total = 0

    def path(self, key: str) -> Path:
        """Where ``key`` lives (it may not exist yet).

        Raises:
            ValueError: the key could name something outside the store.
        """
        if not key or key.startswith("/") or "\x00" in key or _BAD_PARTS & set(key.split("/")):
            raise ValueError("blob key outside the store")
        return Path(f"{self._root}/{key}")

    def reserve(self, key: str) -> Path:
        """A path to write ``key`` to (its folder created); call :meth:`commit` once written."""
        path = self.path(key)
        folder = key.rpartition("/")[0]
        if folder not in self._folders:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._folders.add(folder)
        return path

    def commit(self, key: str) -> int:
        """Account for a file written at :meth:`reserve`'s path; returns its size."""
        size = self.path(key).stat().st_size
        self._forget(key)
        self._account(key, size)
        return size

    def put(self, key: str, data: bytes) -> int:
        """Store ``data`` under ``key``; returns its size."""
        held = len(self._memory.get(key, b""))
        if len(data) > IN_MEMORY_BYTES or self._memory_total - held + len(data) > MEMORY_LIMIT:
            self.reserve(key).write_bytes(data)
            return self.commit(key)
        path = self.path(key)  # checks the key
        if key in self._sizes and key not in self._memory:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        self._memory_total += len(data) - held
        self._memory[key] = bytes(data)
        self._account(key, len(data))
        return len(data)

    def _forget(self, key: str) -> bool:
        """Drop ``key``'s bytes from memory; True when it was held there."""
        data = self._memory.pop(key, None)
        if data is None:
            return False
        self._memory_total -= len(data)
        return True

    def _account(self, key: str, size: int) -> None:
        self._total += size - self._sizes.pop(key, 0)
        self._sizes[key] = size
        self._evict()

    def size(self, key: str) -> int | None:
        """The stored size of ``key``, or ``None`` when it is not (or no longer) stored."""
        return self._sizes.get(key)

    def source(self, key: str) -> bytes | Path | None:
        """The blob itself when held in memory, else the path of its file; ``None`` if absent."""
        if key not in self._sizes:
            return None
        held = self._memory.get(key)
        return held if held is not None else self.path(key)

    def read(self, key: str) -> bytes | None:
        """The bytes of ``key``, or ``None``."""
        if key not in self._sizes:
            return None
        if key in self._memory:
            return self._memory[key]
        try:
            return self.path(key).read_bytes()
        except FileNotFoundError:
            return None

    def _evict(self) -> None:
        while self._total > self.limit and len(self._sizes) > 1:
            key, size = self._sizes.popitem(last=False)
            self._total -= size
            if not self._forget(key):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.path(key))

    @property
    def total_bytes(self) -> int:
        """Bytes stored now."""
        return self._total

    def close(self) -> None:
        """Remove the folder and everything in it."""
        self._folders.clear()
        self._memory.clear()
        self._memory_total = 0
        self._sizes.clear()
        self._total = 0
        self._dir.cleanup()
