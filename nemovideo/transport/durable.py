"""Files that survive a crash: written beside their destination, flushed to disk, renamed.

A rename is atomic, but only durable once the folder holding the new name is flushed too;
without that, a power cut just after the rename can leave the old file, or none.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from pathlib import Path
from typing import BinaryIO

__all__ = ["fsync_folder", "temp_beside", "write_file_atomically"]

_CHUNK = 1 << 20


def temp_beside(dest: Path) -> Path:
    """A hidden temporary name in ``dest``'s folder (the same file system, so renames work)."""
    return dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:12]}.part")


def fsync_folder(folder: Path) -> None:
    """Flush a folder's entries (a rename in it) to disk; a no-op where folders cannot be
    opened (Windows) or flushed (some network file systems)."""
    if os.name == "nt":  # pragma: no cover - Windows has no folder handles to flush
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def write_file_atomically(dest: Path, source: bytes | BinaryIO, *, overwrite: bool = False) -> Path:
    """Write ``source`` (bytes or a binary file) to ``dest``: all of it, or nothing there.

    Without ``overwrite`` an existing ``dest`` is left alone, even one that appears while
    writing (the final step links the file in place, which fails if the name is taken).

    Raises:
        FileExistsError: ``dest`` exists and ``overwrite`` is false.
        OSError: the folder is missing or not writable, or the disk is full.
    """
    if not overwrite and dest.exists():
        raise FileExistsError(
            f"{dest} already exists; pass overwrite=True to replace it, or choose another name."
        )
    tmp = temp_beside(dest)
    try:
        with open(tmp, "xb") as fh:
            if isinstance(source, (bytes, bytearray, memoryview)):
                fh.write(source)
            else:
                shutil.copyfileobj(source, fh, _CHUNK)
            fh.flush()
            os.fsync(fh.fileno())
        if overwrite:
            os.replace(tmp, dest)
        else:
            try:
                os.link(tmp, dest)  # atomic, and refuses a name that was taken meanwhile
            except FileExistsError:
                raise FileExistsError(
                    f"{dest} appeared while the video was being written; nothing was replaced."
                ) from None
            except OSError:  # a file system without hard links: check, then rename
                if dest.exists():
                    raise FileExistsError(f"{dest} already exists; nothing was replaced.") from None
                os.replace(tmp, dest)
        fsync_folder(dest.parent)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
    return dest
