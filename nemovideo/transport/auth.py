"""Credentials: the persisted client id and the bearer token (given, or acquired anonymously).

The client id file is shared with every other NemoVideo tool on the machine: re-using it avoids
the per-IP limit of 10 anonymous tokens a week. It holds only an id, with owner-only permissions.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from nemovideo.protocol.errors import AuthenticationError, ConfigurationError, StorageError

__all__ = ["Credentials", "load_or_create_client_id"]

logger = logging.getLogger("nemovideo.auth")

_VALID_ID = re.compile(r"^[\x21-\x7e]{1,64}$")


def _write_new_id(path: Path) -> str:
    new_id = str(uuid.uuid4())
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(new_id + "\n")
        # Another tool may have written an id meanwhile: keep the first one, do not overwrite.
        try:
            os.link(tmp, path)
        except FileExistsError:
            existing = _read_id(path)
            if existing is not None:
                return existing
            os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return new_id


def _read_id(path: Path) -> str | None:
    text = path.read_text(encoding="ascii", errors="replace").strip()
    return text if _VALID_ID.match(text) else None


def load_or_create_client_id(path: Path) -> str:
    """Read the shared client id, or create it (mode 0600 in a 0700 folder).

    A corrupt file is replaced by a fresh id. One that cannot be read or written raises: an id
    for this process only would make the next process another anonymous account.

    Raises:
        StorageError: the file cannot be read or written.
        ConfigurationError: the path is a folder.
    """
    try:
        existing = _read_id(path)
    except FileNotFoundError:
        existing = None
    except IsADirectoryError:
        raise ConfigurationError(
            f"The client id path {path} is a folder; remove it or pass client_id_path= "
            "pointing at a file."
        ) from None
    except OSError as exc:
        raise _unusable(path, "read", exc) from None
    else:
        if existing is None:
            logger.warning("the client id file %s was corrupt; writing a fresh id", path)
            with contextlib.suppress(OSError):
                path.unlink()
    if existing is not None:
        return existing
    try:
        return _write_new_id(path)
    except OSError as exc:
        raise _unusable(path, "write", exc) from None


def _unusable(path: Path, what: str, exc: OSError) -> StorageError:
    # An id for this process only would be a new anonymous account in the next process: its
    # sessions (and the paid work in them) could not be resumed there. Said before any request.
    return StorageError(
        f"Cannot {what} the client id file {path} ({exc.strerror or type(exc).__name__}). "
        "Fix its permissions, or set NEMO_CLIENT_ID (or client_id=) to a stable id.",
        path=str(path),
    )


class Credentials:
    """Holds the bearer token. Given tokens are used as they are; anonymous ones are
    acquired lazily (one acquisition at a time, however many requests wait for it) and
    re-acquired once when the API says they expired.

    The token never appears in this object's repr.
    """

    def __init__(
        self,
        token: str | None,
        acquire: Callable[[], Awaitable[str]],
    ) -> None:
        self._token = token
        self._anonymous = token is None
        self._acquire = acquire
        self._lock: asyncio.Lock | None = None

    def __repr__(self) -> str:
        state = "anonymous" if self._anonymous else "given"
        held = "held" if self._token else "not acquired"
        return f"<Credentials {state} token, {held}>"

    @property
    def anonymous(self) -> bool:
        """True when the token was acquired anonymously (and so may be re-acquired)."""
        return self._anonymous

    @property
    def current(self) -> str | None:
        """The token in memory, if any (for internal use; never log it)."""
        return self._token

    async def get(self) -> str:
        """The token, acquiring an anonymous one first if needed."""
        token = self._token
        if token is not None:
            return token
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._token is None:
                self._token = await self._acquire()
            return self._token

    def invalidate(self, error: AuthenticationError, used: str | None = None) -> bool:
        """Forget an expired anonymous token; True when a new one may be acquired."""
        if not self._anonymous:
            return False
        if used is None or used == self._token:
            self._token = None
        return True
