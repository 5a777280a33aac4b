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
import time
import uuid
from pathlib import Path
from typing import Protocol

from nemovideo.protocol.errors import (
    AuthenticationError,
    ConfigurationError,
    StorageError,
    TokenRateLimitedError,
)

__all__ = ["Credentials", "TokenSource", "load_or_create_client_id", "read_client_id"]

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


def read_client_id(path: Path) -> str | None:
    """The shared client id if the file holds a valid one; never creates it."""
    try:
        return _read_id(path)
    except OSError:
        return None


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


class TokenSource(Protocol):
    """Gives anonymous tokens (see :class:`nemovideo.transport.tokens.AnonymousTokens`)."""

    user_id: str | None

    async def acquire(self) -> str:
        """A live anonymous token."""

    def reject(self, token: str) -> None:
        """Never hand out ``token`` again (the API answered 1001)."""


class Credentials:
    """Holds the bearer token. Given tokens are used as they are; anonymous ones come from a
    :class:`TokenSource`, one acquisition at a time however many requests wait for it (they
    all share its outcome), and are replaced once when the API says they expired.

    A refused acquisition (429) is remembered: later requests get the same error instead of
    asking again, which would only spend the per-IP limit.

    The token never appears in this object's repr.
    """

    def __init__(self, token: str | None, source: TokenSource | None) -> None:
        self._token = token
        self._anonymous = token is None
        self._source = source
        self._pending: asyncio.Future[str] | None = None
        self._refusal: TokenRateLimitedError | None = None
        self._refused_until = 0.0
        self._user_id: str | None = None

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

    @property
    def user_id(self) -> str | None:
        """The user the token belongs to, when an answer said (``anon_...`` for anonymous)."""
        if self._user_id is not None:
            return self._user_id
        return self._source.user_id if self._source is not None else None

    def note_user_id(self, user_id: object) -> None:
        """Remember the user id an answer carried (sessions, state, balance)."""
        if isinstance(user_id, str) and user_id.strip() and user_id.strip() != "me":
            self._user_id = user_id.strip()[:128]

    async def get(self) -> str:
        """The token, acquiring an anonymous one first if needed.

        Raises:
            TokenRateLimitedError: the service refused a new anonymous token.
        """
        token = self._token
        if token is not None:
            return token
        if self._source is None:
            raise ConfigurationError("No token: pass token= or set NEMO_TOKEN.")
        if self._refusal is not None:
            if time.monotonic() < self._refused_until:
                raise self._refusal
            self._refusal = None
        pending = self._pending
        if pending is not None and pending.get_loop() is not asyncio.get_running_loop():
            pending = None  # a request of a loop that ended (a second asyncio.run()): not ours
        if pending is None:
            pending = self._pending = asyncio.ensure_future(self._acquire(self._source))
            pending.add_done_callback(self._settled)
        # Shielded: a caller that gives up does not cancel the others' shared request.
        return await asyncio.shield(pending)

    async def _acquire(self, source: TokenSource) -> str:
        try:
            token = await source.acquire()
        except TokenRateLimitedError as exc:
            self._refusal = exc
            # Not asked again before the service said (documented default: 30 s).
            wait = exc.retry_after if exc.retry_after is not None else 30.0
            self._refused_until = time.monotonic() + wait
            raise
        self._token = token
        return token

    def _settled(self, future: asyncio.Future[str]) -> None:
        if self._pending is future:
            self._pending = None
        if not future.cancelled():
            future.exception()  # retrieved here, so a failure nobody awaited is not reported

    def invalidate(self, error: AuthenticationError, used: str | None = None) -> bool:
        """Forget an expired anonymous token; True when a new one may be acquired."""
        if not self._anonymous:
            return False
        stale = used if used is not None else self._token
        if used is None or used == self._token:
            self._token = None
        if stale is not None and self._source is not None:
            self._source.reject(stale)
        return True
