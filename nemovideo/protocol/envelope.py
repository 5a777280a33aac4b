"""Reading an answer: status, headers and body bytes in, the payload or a `NemoError` out.

The one home of the mapping from answers to errors (API codes, HTTP statuses, HTML pages,
``Retry-After``). Nothing here does I/O.
"""

from __future__ import annotations

import datetime
import email.utils
import json
import math
import re
import time
from collections.abc import Mapping
from typing import Any

from nemovideo.protocol.errors import (
    APIStatusError,
    AuthenticationError,
    ExportBlockedError,
    FileTooLargeError,
    InsufficientCreditsError,
    InvalidResponseError,
    MissingClientIdError,
    NemoError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
    SessionNotFoundError,
    UnsupportedFileTypeError,
    clip,
)

__all__ = [
    "decode_answer",
    "error_from_code",
    "error_from_envelope",
    "error_from_response",
    "parse_retry_after",
    "request_id_of",
]

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


_NUMBER = re.compile(r"^\s*\d+(\.\d+)?\s*$")


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


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header: delta-seconds, or an HTTP date (seconds from
    ``now``, a Unix time, by default the clock's; a date in the past means 0).

    Example::

        >>> parse_retry_after("Thu, 01 Jan 1970 00:00:30 GMT", now=10.0)
        20.0
    """
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value.strip())
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # HTTP dates are GMT; RFC 850 and asctime forms carry no zone
            when = when.replace(tzinfo=datetime.timezone.utc)
        seconds = max(0.0, when.timestamp() - (time.time() if now is None else now))
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
    # `retry-after-ms` (milliseconds, as OpenAI's and Azure's gateways send) is the finer one.
    millis = _header(headers, "retry-after-ms")
    retry_after = parse_retry_after(millis) if millis and _NUMBER.match(millis) else None
    if retry_after is not None:
        retry_after /= 1000
    else:
        retry_after = parse_retry_after(_header(headers, "Retry-After"))
    code: int | None = None
    if isinstance(parsed, Mapping):
        message = _message_of(parsed)
        code = _code_of(parsed.get("code"))
    else:
        message = _text_of(body)
    if http_status == 404 and code is None and "session" not in message.lower():
        # A 404 that is not about a session is a wrong URL, not a missing session.
        error: NemoError = APIStatusError(
            f"Not found: {message or 'the endpoint does not exist'}; check NEMO_API_URL.",
            http_status=http_status,
            request_id=request_id,
        )
    else:
        error = _build(code, http_status, message, request_id, retry_after)
    # What the answer was, as Stainless-style SDKs expose it: its headers and its body (the
    # decoded JSON, else up to 4 KiB of its text).
    error.headers = dict(headers.items())
    error.body = parsed if parsed is not None else body[:4096].decode("utf-8", "replace")
    return error


def error_from_envelope(
    body: Mapping[str, Any],
    *,
    http_status: int | None = None,
    request_id: str | None = None,
) -> APIStatusError:
    """The exception for a ``{"code": <non-zero>, ...}`` envelope."""
    request_id = request_id or request_id_of({}, body)
    return _build(_code_of(body.get("code")), http_status, _message_of(body), request_id, None)


def _excerpt(body: bytes) -> str:
    text = body[:120].decode("utf-8", "replace")
    return " ".join(text.split())


def _failed(payload: Mapping[str, Any]) -> bool:
    """Whether an answer reports a failure: a non-zero ``code`` or ``"success": false``."""
    if payload.get("success") is False:
        return True
    code = payload.get("code")
    if code is None or code is False:
        return False
    if isinstance(code, (int, float)):
        return code != 0
    if isinstance(code, str):
        return code.strip() not in ("", "0")
    return True


def decode_answer(
    http_status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    enveloped: bool = True,
) -> Any:
    """The payload of an answer, or raise the mapped error.

    Enveloped endpoints answer ``{"code": 0, "data": {...}}`` and give ``data``; the render
    endpoints are not enveloped and give the whole object. A non-zero ``code`` raises even on
    HTTP 200, since the gateway reports most API errors that way.
    """
    if not 200 <= http_status < 300:
        raise error_from_response(http_status, body, headers)
    # The request id only matters to an error: it is looked up at each raise, not on success.
    if not body.strip():
        if enveloped:
            raise InvalidResponseError(
                "The API answered with an empty body where JSON was expected.",
                http_status=http_status,
                request_id=request_id_of(headers),
            )
        return {}
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        raise InvalidResponseError(
            f"The API answered non-JSON ({_excerpt(body)!r}); is NEMO_API_URL the API's address?",
            http_status=http_status,
            request_id=request_id_of(headers),
        ) from None
    if not isinstance(payload, dict):
        raise InvalidResponseError(
            f"The API answered a JSON {type(payload).__name__} where an object was expected.",
            http_status=http_status,
            request_id=request_id_of(headers),
        )
    if _failed(payload) and (enveloped or "status" not in payload):
        raise error_from_envelope(
            payload, http_status=http_status, request_id=request_id_of(headers)
        )
    if not enveloped:
        return payload
    if "data" in payload:
        data = payload["data"]
        return {} if data is None else data
    # Tolerance: an answer without the envelope is taken as the data itself.
    return payload
