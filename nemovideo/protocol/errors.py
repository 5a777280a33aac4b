"""One exception tree for everything the SDK raises, and the pure mapping from answers to it.

Every error says what went wrong *and what to do about it*. Nothing here does I/O: the
transport hands over a status, headers and body bytes, and gets back the right exception.
The classes are defined in :mod:`nemovideo.protocol.error_types` and exported from here.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from nemovideo.protocol.error_types import (
    ACCEPTED_EXTENSIONS,
    AgentError,
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    ConfigurationError,
    ExportBlockedError,
    FileTooLargeError,
    GenerationFailedError,
    InsufficientCreditsError,
    InvalidResponseError,
    MissingClientIdError,
    NemoError,
    PermissionDeniedError,
    RateLimitedError,
    RenderFailedError,
    ServerError,
    SessionNotFoundError,
    StreamDisconnectedError,
    UnsupportedFileTypeError,
    clip,
)

__all__ = [
    "ACCEPTED_EXTENSIONS",
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AgentError",
    "AuthenticationError",
    "ConfigurationError",
    "ExportBlockedError",
    "FileTooLargeError",
    "GenerationFailedError",
    "InsufficientCreditsError",
    "InvalidResponseError",
    "MissingClientIdError",
    "NemoError",
    "PermissionDeniedError",
    "RateLimitedError",
    "RenderFailedError",
    "ServerError",
    "SessionNotFoundError",
    "StreamDisconnectedError",
    "UnsupportedFileTypeError",
    "error_from_code",
    "error_from_envelope",
    "error_from_response",
    "parse_retry_after",
    "request_id_of",
]

for _cls in (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AgentError,
    AuthenticationError,
    ConfigurationError,
    ExportBlockedError,
    FileTooLargeError,
    InsufficientCreditsError,
    InvalidResponseError,
    MissingClientIdError,
    NemoError,
    PermissionDeniedError,
    RateLimitedError,
    RenderFailedError,
    ServerError,
    SessionNotFoundError,
    StreamDisconnectedError,
    UnsupportedFileTypeError,
):
    # Tracebacks and pickles name the public module, not where the class happens to live.
    _cls.__module__ = __name__

_CODE_CLASSES: dict[int, type[APIStatusError]] = {
    1001: AuthenticationError,
    1002: SessionNotFoundError,
    2001: InsufficientCreditsError,
    4001: UnsupportedFileTypeError,
    4002: FileTooLargeError,
}

_STATUS_CLASSES: dict[int, type[APIStatusError]] = {
    400: MissingClientIdError,
    401: AuthenticationError,
    402: ExportBlockedError,
    403: PermissionDeniedError,
    404: SessionNotFoundError,
    429: RateLimitedError,
}

_TITLE = re.compile(rb"<(title|h1)[^>]*>(.*?)</\1", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]*>")


def _class_for(code: int | None, http_status: int | None) -> type[APIStatusError]:
    for number in (code, http_status):
        if number is None:
            continue
        cls = _CODE_CLASSES.get(number) or _STATUS_CLASSES.get(number)
        if cls is None and 500 <= number <= 599:
            cls = ServerError
        if cls is not None:
            return cls
    return APIStatusError


def _build(
    code: int | None,
    http_status: int | None,
    message: str,
    request_id: str | None,
    retry_after: float | None,
) -> APIStatusError:
    cls = _class_for(code, http_status)
    if cls is MissingClientIdError and message and "client" not in message.lower():
        # Only the token request needs a client id; any other 400 is a plain refusal.
        cls = APIStatusError
    hint = cls.default_hint
    if cls is RateLimitedError and retry_after is not None:
        hint = f"Rate limited by the NemoVideo API; wait {retry_after:g} s and try again."
    if not hint:
        what = f"HTTP {http_status}" if http_status is not None else f"code {code}"
        hint = f"The NemoVideo API refused the request ({what})."
    if message and message not in hint:
        message = f"{hint} (server said: {message})"
    kw: dict[str, Any] = {"code": code, "http_status": http_status, "request_id": request_id}
    if cls is RateLimitedError:
        kw["retry_after"] = retry_after
    return cls(message or hint, **kw)


def error_from_code(
    code: int,
    message: str = "",
    *,
    http_status: int | None = None,
    request_id: str | None = None,
    retry_after: float | None = None,
) -> APIStatusError:
    """The exception for an API ``code`` (or an HTTP status used as one), with a hint.

    Example:
        >>> error_from_code(2001, "balance 0").code
        2001
    """
    return _build(code, http_status, clip(message), request_id, retry_after)


def _message_of(body: Mapping[str, Any], depth: int = 0) -> str:
    for key in ("message", "msg", "detail", "error", "errorMessage", "error_message"):
        value = body.get(key)
        if isinstance(value, str) and value.strip():
            return clip(value)
        if isinstance(value, Mapping) and depth == 0:
            inner = _message_of(value, 1)
            if inner:
                return inner
        if isinstance(value, list) and value:
            # FastAPI validation errors: [{"loc": [...], "msg": "...", ...}, ...]
            items = [v.get("msg") if isinstance(v, Mapping) else v for v in value[:3]]
            texts = [t for t in items if isinstance(t, str) and t]
            if texts:
                return clip("; ".join(texts))
    return ""


def _code_of(value: object) -> int | None:
    """A JSON ``code`` as a number, ``None`` when absent, zero or not a number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str):
        text = value.strip()
        value = int(text) if text.lstrip("-").isdecimal() and len(text) < 12 else None
    return value if isinstance(value, int) and value != 0 else None


def _header(headers: Mapping[str, str], *names: str) -> str | None:
    for name in names:
        value = headers.get(name)
        if value:
            return value
    # A plain dict is case-sensitive; aiohttp's CIMultiDict is not. Handle both.
    wanted = {n.lower() for n in names}
    for key, value in headers.items():
        if isinstance(key, str) and key.lower() in wanted and value:
            return value
    return None


def request_id_of(headers: Mapping[str, str], body: object = None) -> str | None:
    """The server's request id: the ``X-Request-Id`` header, else a ``request_id`` in the body."""
    found = _header(headers, "X-Request-Id", "Request-Id")
    if found is None and isinstance(body, Mapping):
        value = body.get("request_id") or body.get("requestId")
        found = value if isinstance(value, str) and value else None
    return found[:200] if found else None


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds only; dates are ignored)."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return seconds


def _loads(body: bytes) -> object:
    try:
        return json.loads(body) if body else None
    except (ValueError, RecursionError):
        return None


def _text_of(body: bytes) -> str:
    """What a non-JSON body says: an HTML page's title, or the text itself."""
    if body.lstrip()[:1] == b"<":
        match = _TITLE.search(body[:65536])
        if match is None:
            return ""
        return clip(_TAG.sub(" ", match.group(2).decode("utf-8", "replace")))
    return clip(body[:4096].decode("utf-8", "replace"))


def error_from_response(
    http_status: int,
    body: bytes,
    headers: Mapping[str, str] | None = None,
) -> NemoError:
    """Map a non-2xx answer (JSON envelope, FastAPI ``detail``, HTML page, nothing) to an error.

    Example:
        >>> error_from_response(429, b"", {"Retry-After": "3"}).retry_after
        3.0
    """
    headers = headers or {}
    parsed = _loads(body)
    request_id = request_id_of(headers, parsed)
    retry_after = parse_retry_after(_header(headers, "Retry-After"))
    code: int | None = None
    if isinstance(parsed, Mapping):
        message = _message_of(parsed)
        code = _code_of(parsed.get("code"))
    else:
        message = _text_of(body)
    if http_status == 404 and code is None and "session" not in message.lower():
        # A 404 that is not about a session is a wrong URL, not a missing session.
        return APIStatusError(
            f"Not found: {message or 'the endpoint does not exist'}; check NEMO_API_URL.",
            http_status=http_status,
            request_id=request_id,
        )
    return _build(code, http_status, message, request_id, retry_after)


def error_from_envelope(
    body: Mapping[str, Any],
    *,
    http_status: int | None = None,
    request_id: str | None = None,
) -> APIStatusError:
    """The exception for a ``{"code": <non-zero>, ...}`` envelope."""
    request_id = request_id or request_id_of({}, body)
    return _build(_code_of(body.get("code")), http_status, _message_of(body), request_id, None)
