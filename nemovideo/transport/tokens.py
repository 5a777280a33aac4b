"""Anonymous tokens: asked for once, saved beside the client id, reused by every later process.

The documents allow one anonymous token per client id per 7 days (a repeat is answered 429)
and ten per IP, and tell integrations to SAVE the token. So the SDK keeps the token it acquired
in ``anonymous_token.json`` next to the client id file (owner-only, written atomically), and a
new process reuses it until it expires or the API answers 1001. Two processes starting at once
take a lock around "read the file, else ask, then write": they make one request between them.

A token the user supplied (``token=``, ``NEMO_TOKEN``) never passes through here: it is neither
written nor replaced. What a person is shown about the token (``nemovideo auth status``) is
:mod:`nemovideo.transport.token_status`'s.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import attrs

from nemovideo.protocol.converter import structure
from nemovideo.protocol.errors import (
    InvalidResponseError,
    RateLimitedError,
    TokenRateLimitedError,
)
from nemovideo.protocol.models import AnonymousToken

try:  # POSIX; elsewhere the file is still written atomically, only not locked
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "TOKEN_LIFETIME",
    "TOKEN_PATH",
    "AnonymousTokens",
    "SavedToken",
    "TokenFile",
    "mask_token",
]

logger = logging.getLogger("nemovideo.auth")

TOKEN_PATH = "/api/auth/anonymous-token"  # noqa: S105 - a route, not a secret
#: Documented life of an anonymous token, used when the answer does not say.
TOKEN_LIFETIME = 7 * 24 * 3600.0
#: A saved token this close to its expiry is not reused (a flow must not die half-way).
EXPIRY_MARGIN = 600.0
#: Entries kept in the file (one per API address and client id; sandboxes add their own).
_MAX_ENTRIES = 16
#: How long a process waits for another one's token request before asking on its own.
_LOCK_WAIT = 60.0
_FILE_VERSION = 1


def mask_token(token: str) -> str:
    """A token shortened so that a person can recognise it but nobody can use it.

    Example:
        >>> mask_token("nmv_usr_0123456789abcdef0123")
        'nmv_usr_01…0123'
    """
    token = token.strip()
    if len(token) < 16:
        return token[:2] + "…" if token else ""
    head = 10 if token.startswith("nmv_") else 4
    return f"{token[:head]}…{token[-4:]}"


@attrs.frozen
class SavedToken:
    """An anonymous token as saved in the token file. The token never shows in its repr.

    Attributes:
        token: the bearer token (never log it; :attr:`masked` is safe to show).
        api_url: the API address it was issued by.
        client_id: the ``X-Client-Id`` it was issued to.
        expires_at: Unix time of expiry (from the answer, else 7 days after ``acquired_at``).
        acquired_at: Unix time it was acquired.
        user_id: the anonymous user (``anon_...``), when the answer carried it.
    """

    token: str = attrs.field(repr=False)
    api_url: str
    client_id: str
    expires_at: float
    acquired_at: float
    user_id: str | None = None

    @property
    def masked(self) -> str:
        """The token shortened for display (see :func:`mask_token`)."""
        return mask_token(self.token)

    def usable(self, now: float | None = None) -> bool:
        """Whether the token is still worth using (not within 10 minutes of its expiry)."""
        now = time.time() if now is None else now
        return now < self.expires_at - EXPIRY_MARGIN

    def to_json(self) -> dict[str, Any]:
        """The file's form of the entry."""
        return attrs.asdict(self)

    @classmethod
    def from_json(cls, value: Any) -> SavedToken | None:
        """An entry read back from the file, or ``None`` when it is damaged."""
        if not isinstance(value, dict):
            return None
        try:
            entry = cls(
                token=str(value["token"]),
                api_url=str(value["api_url"]),
                client_id=str(value["client_id"]),
                expires_at=float(value["expires_at"]),
                acquired_at=float(value.get("acquired_at", 0.0)),
                user_id=value.get("user_id") if isinstance(value.get("user_id"), str) else None,
            )
        except (KeyError, TypeError, ValueError):
            return None
        return entry if entry.token and not any(c.isspace() for c in entry.token) else None


def expiry_of(answer: AnonymousToken, now: float) -> float:
    """Unix time the token expires: ``expires_at`` (seconds, milliseconds or ISO 8601), else
    ``expires_in``, else the documented 7 days."""
    value = answer.expires_at
    if isinstance(value, (int, float)) and value > 0:
        return float(value) / 1000.0 if value > 1e11 else float(value)
    if isinstance(value, str) and value.strip():
        text = value.strip()
        try:
            return float(text) / 1000.0 if float(text) > 1e11 else float(text)
        except ValueError:
            pass
        with contextlib.suppress(ValueError):
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
            if parsed.tzinfo is not None:
                return parsed.timestamp()
    if answer.expires_in is not None and answer.expires_in > 0:
        return now + answer.expires_in
    return now + TOKEN_LIFETIME


def _key(api_url: str, client_id: str) -> str:
    return f"{api_url} {client_id}"


class TokenFile:
    """The token file: entries keyed by API address and client id, owner-only, atomic writes.

    Args:
        path: the file (``anonymous_token.json`` beside the client id file by default).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock_path = path.with_name(f".{path.name}.lock")

    def __repr__(self) -> str:
        return f"<TokenFile {self.path}>"

    def _entries(self) -> dict[str, Any]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as exc:
            logger.warning("cannot read the token file %s (%s)", self.path, _why(exc))
            return {}
        try:
            data = json.loads(text)
        except ValueError:
            logger.warning("the token file %s was damaged; it will be rewritten", self.path)
            return {}
        tokens = data.get("tokens") if isinstance(data, dict) else None
        return dict(tokens) if isinstance(tokens, dict) else {}

    def load(self, api_url: str, client_id: str) -> SavedToken | None:
        """The saved entry for this API address and client id (expired or not), if any."""
        entry = SavedToken.from_json(self._entries().get(_key(api_url, client_id)))
        if entry is None or entry.api_url != api_url or entry.client_id != client_id:
            return None
        return entry

    def save(self, entry: SavedToken) -> None:
        """Add or replace the entry (the oldest beyond 16 are dropped); atomic and 0600.

        Raises:
            OSError: the folder or the file cannot be written.
        """
        entries = self._entries()
        entries[_key(entry.api_url, entry.client_id)] = entry.to_json()
        self._write(entries)

    def discard(self, api_url: str, client_id: str, token: str | None = None) -> bool:
        """Remove the entry (only if it still holds ``token``, when given); True if removed."""
        entries = self._entries()
        key = _key(api_url, client_id)
        current = SavedToken.from_json(entries.get(key))
        if current is None or (token is not None and current.token != token):
            return False
        del entries[key]
        self._write(entries)
        return True

    def _write(self, entries: dict[str, Any]) -> None:
        def age(item: tuple[str, Any]) -> float:
            value = item[1].get("acquired_at", 0.0) if isinstance(item[1], dict) else 0.0
            return float(value) if isinstance(value, (int, float)) else 0.0

        kept = dict(sorted(entries.items(), key=age)[-_MAX_ENTRIES:])
        body = json.dumps({"version": _FILE_VERSION, "tokens": kept}, indent=1, sort_keys=True)
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(body + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        _sync_folder(self.path.parent)

    @contextlib.asynccontextmanager
    async def locked(self, wait: float = _LOCK_WAIT) -> AsyncIterator[None]:
        """Hold the file's lock (an ``flock`` on a lock file beside it) for the block.

        Polled without blocking, so a cancelled wait leaves nothing behind. After ``wait``
        seconds, or where locks are unavailable, the block runs unlocked: a lost race then
        costs one extra token request, never a damaged file.
        """
        fd = self._open_lock()
        if fd is None:
            yield
            return
        try:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + wait
            delay = 0.005
            while not _try_lock(fd):
                if loop.time() >= deadline:
                    logger.warning("the token file lock %s stayed taken; going on", self.lock_path)
                    break
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.1)
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the lock

    def _open_lock(self) -> int | None:
        if fcntl is None:  # pragma: no cover - Windows
            return None
        try:
            self.lock_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            return os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            logger.warning("cannot open the token lock %s (%s)", self.lock_path, _why(exc))
            return None


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError:
        return True  # a file system without locks: go on unlocked
    return True


def _sync_folder(folder: Path) -> None:
    # The rename is durable only once the folder's entry is on disk (best effort).
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _why(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


class AnonymousTokens:
    """Where an anonymous token comes from: the token file while it holds a live one for this
    API and client id, else one request to ``/api/auth/anonymous-token`` (saved at once).

    Args:
        ask: sends the token request and returns its decoded answer.
        api_url: the API address (tokens of one API are never sent to another).
        client_id: gives the ``X-Client-Id`` (read after the request, which may replace it).
        file: the token file, or ``None`` to keep tokens in memory only.
        web_url: the web app, for the "register" advice of a refusal.
    """

    def __init__(
        self,
        ask: Callable[[], Awaitable[Any]],
        *,
        api_url: str,
        client_id: Callable[[], str],
        file: TokenFile | None,
        web_url: str = "https://nemovideo.com",
    ) -> None:
        self._ask = ask
        self._api_url = api_url
        self._client_id = client_id
        self._file = file
        self._web_url = web_url.rstrip("/")
        self._rejected: set[str] = set()
        self.user_id: str | None = None

    def reject(self, token: str) -> None:
        """The API answered 1001 for ``token``: never reuse it, from the file or elsewhere."""
        self._rejected.add(token)

    async def acquire(self) -> str:
        """A live anonymous token: the saved one, else a new one (saved for later processes).

        Raises:
            TokenRateLimitedError: the service refused a new token (429); not asked again.
        """
        file = self._file
        if file is None:
            return (await self._request()).token
        async with file.locked():
            client_id = self._client_id()
            saved = await asyncio.to_thread(file.load, self._api_url, client_id)
            if saved is not None and saved.usable() and saved.token not in self._rejected:
                logger.info("reusing the saved anonymous token %s", saved.masked)
                self.user_id = saved.user_id
                return saved.token
            entry = await self._request()
            try:
                await asyncio.to_thread(file.save, entry)
            except OSError as exc:
                logger.warning(
                    "cannot save the anonymous token in %s (%s); the next process will ask "
                    "for another one",
                    file.path,
                    _why(exc),
                )
            return entry.token

    async def _request(self) -> SavedToken:
        try:
            answer = await self._ask()
        except TokenRateLimitedError:
            raise
        except RateLimitedError as exc:
            raise self._refused(exc) from None
        if not isinstance(answer, dict) or not isinstance(answer.get("token"), str):
            raise InvalidResponseError("The anonymous-token answer carried no token.")
        if not answer["token"].strip():
            raise InvalidResponseError("The anonymous-token answer carried no token.")
        parsed = structure(answer, AnonymousToken)
        now = time.time()
        self.user_id = parsed.user_id
        logger.info("acquired an anonymous NemoVideo token")
        return SavedToken(
            token=parsed.token,
            api_url=self._api_url,
            client_id=self._client_id(),
            expires_at=expiry_of(parsed, now),
            acquired_at=now,
            user_id=parsed.user_id,
        )

    def _refused(self, exc: RateLimitedError) -> TokenRateLimitedError:
        wait = ""
        if exc.retry_after is not None:
            wait = f" in {_duration(exc.retry_after)}"
        message = (
            "NemoVideo refused a new anonymous token (limit: 1 per client id per 7 days, 10 "
            f"per IP address). Try again{wait}, set NEMO_TOKEN to a token you saved, or "
            f"register at {self._web_url} for a lasting token. The SDK does not ask again by "
            "itself: each request spends the limit."
        )
        return TokenRateLimitedError(
            message,
            retry_after=exc.retry_after,
            code=exc.code,
            http_status=exc.http_status,
            request_id=exc.request_id,
        )


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} days"
