"""Bytes of uploads and renders, on disk in a private temporary folder, bounded in total size."""

from __future__ import annotations

import collections
import contextlib
import os
import tempfile
from pathlib import Path

__all__ = ["BlobStore"]

#: Key parts that could climb out of the store or alias another key.
_BAD_PARTS = frozenset({"", ".", ".."})


class BlobStore:
    """Files by key (``media/<id>/<name>``, ``renders/<id>.mp4``), oldest dropped past ``limit``.

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
        self._total += size - self._sizes.pop(key, 0)
        self._sizes[key] = size
        self._evict()
        return size

    def put(self, key: str, data: bytes) -> int:
        """Store ``data`` under ``key``; returns its size."""
        self.reserve(key).write_bytes(data)
        return self.commit(key)

    def size(self, key: str) -> int | None:
        """The stored size of ``key``, or ``None`` when it is not (or no longer) stored."""
        return self._sizes.get(key)

    def read(self, key: str) -> bytes | None:
        """The bytes of ``key``, or ``None``."""
        if key not in self._sizes:
            return None
        try:
            return self.path(key).read_bytes()
        except FileNotFoundError:
            return None

    def _evict(self) -> None:
        while self._total > self.limit and len(self._sizes) > 1:
            key, size = self._sizes.popitem(last=False)
            self._total -= size
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path(key))

    @property
    def total_bytes(self) -> int:
        """Bytes stored now."""
        return self._total

    def close(self) -> None:
        """Remove the folder and everything in it."""
        self._folders.clear()
        self._sizes.clear()
        self._total = 0
        self._dir.cleanup()
