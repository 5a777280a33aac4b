"""One exception tree for everything the SDK raises, and the pure mapping from answers to it.

Every error says what went wrong *and what to do about it*. Nothing here does I/O: the
transport hands over a status, headers and body bytes, and gets back the right exception.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar

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
    "error_from_response",
]

#: Extensions the API accepts (API.md "Files"), plus HEIC advertised by the image-to-video product.
ACCEPTED_EXTENSIONS: tuple[str, ...] = (
    "mp4", "mov", "avi", "webm", "mkv",
    "jpg", "jpeg", "png", "gif", "webp", "heic",
    "mp3", "wav", "m4a", "aac",
)  # fmt: skip

_MAX_MESSAGE = 300  # characters of a server's text kept in a message (HTML pages can be huge)


class NemoError(Exception):
    """Base of every error the SDK raises.

    Attributes:
        message: what happened and what to do about it.
        code: the API's numeric ``code`` (1001, 2001, ...) or ``None``.
        http_status: the HTTP status of the answer, when there was one.
        request_id: the server's request id (``X-Request-Id``), when it sent one.
    """

    default_hint: ClassVar[str] = ""

    def __init__(
        self,
        message: str = "",
        *,
        code: int | None = None,
        http_status: int | None = None,
        request_id: str | None = None,
    ) -> None:
        text = message or self.default_hint or self.__class__.__name__
        super().__init__(text)
        self.message = text
        self.code = code
        self.http_status = http_status
        self.request_id = request_id

    def __str__(self) -> str:
        parts = [self.message]
        extra = []
        if self.code is not None:
            extra.append(f"code {self.code}")
        if self.http_status is not None:
            extra.append(f"HTTP {self.http_status}")
        if self.request_id:
            extra.append(f"request id {self.request_id}")
        if extra:
            parts.append(f"[{', '.join(extra)}]")
        return " ".join(parts)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, code={self.code!r}, "
            f"http_status={self.http_status!r}, request_id={self.request_id!r})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only constructors do not pickle by default; errors cross process pools.
        return (_rebuild, (type(self), self.message, self.__dict__.copy()))


def _rebuild(cls: type[NemoError], message: str, state: dict[str, Any]) -> NemoError:
    err = cls.__new__(cls)
    Exception.__init__(err, message)
    err.__dict__.update(state)
    return err


class ConfigurationError(NemoError, ValueError):
    """The SDK was given settings or input it cannot use (a bad URL, a missing file, ...)."""


class InvalidResponseError(NemoError):
    """The server answered something that is not the documented protocol."""


class APIStatusError(NemoError):
    """The API refused a request with an error the SDK has no more specific class for."""


class AuthenticationError(APIStatusError):
    """Code 1001: the token is invalid or expired."""

    default_hint = (
        "The NemoVideo token is invalid or expired. Unset NEMO_TOKEN to use an anonymous token, "
        "or set a fresh one."
    )


class SessionNotFoundError(APIStatusError):
    """Code 1002: the session does not exist (or belongs to another token)."""

    default_hint = "The session was not found. Start a new one with client.session.create()."


class InsufficientCreditsError(APIStatusError):
    """Code 2001: not enough credits for the work asked for.

    Attributes:
        link: where to register (anonymous users) or top up.
    """

    default_hint = "Out of credits."

    def __init__(self, message: str = "", *, link: str | None = None, **kw: Any) -> None:
        self.link = link
        if link and link not in message:
            base = message or self.default_hint
            message = f"{base} Register or top up at {link}"
        super().__init__(message, **kw)


class UnsupportedFileTypeError(APIStatusError, ValueError):
    """Code 4001: the file type is not accepted. Checked locally before uploading."""

    default_hint = "Unsupported file type. Accepted: " + ", ".join(ACCEPTED_EXTENSIONS) + "."


class FileTooLargeError(APIStatusError, ValueError):
    """Code 4002: the file is larger than the upload limit. Checked locally before uploading.

    Attributes:
        limit: the limit in bytes, when known.
    """

    default_hint = "The file is larger than the upload limit (200 MB)."

    def __init__(self, message: str = "", *, limit: int | None = None, **kw: Any) -> None:
        self.limit = limit
        super().__init__(message, **kw)


class MissingClientIdError(APIStatusError):
    """HTTP 400: the anonymous-token request had no ``X-Client-Id``."""

    default_hint = "The request lacked an X-Client-Id header; the SDK creates one and retries."


class ExportBlockedError(APIStatusError):
    """HTTP 402: export is blocked on the free plan (a tier issue, not credits)."""

    default_hint = (
        "Export is blocked on the free plan: register to unlock export "
        "(client.session.claim_link() gives a link that keeps this work)."
    )


class PermissionDeniedError(APIStatusError):
    """HTTP 403: the token lacks the scope this request needs."""

    default_hint = "The token lacks the scope for this request (read, write, upload or render)."


class RateLimitedError(APIStatusError):
    """HTTP 429: too many requests.

    Attributes:
        retry_after: seconds the server asked to wait, when it said.
    """

    default_hint = "Rate limited by the NemoVideo API; wait and try again."

    def __init__(self, message: str = "", *, retry_after: float | None = None, **kw: Any) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kw)


class ServerError(APIStatusError):
    """HTTP 5xx: the service failed. Reads are retried; work-creating requests are not."""

    default_hint = "The NemoVideo service had an internal error; try again later."


class RenderFailedError(NemoError):
    """A render job ended as ``failed`` (after the one documented re-submission).

    Attributes:
        job_id: the id of the last job tried.
    """

    default_hint = "The render failed on the server."

    def __init__(self, message: str = "", *, job_id: str | None = None, **kw: Any) -> None:
        self.job_id = job_id
        super().__init__(message, **kw)


class AgentError(NemoError):
    """The backend's agent reported a failure inside the chat stream, and the turn gave nothing.

    The message was delivered and may have changed the session: look at the state before
    doing anything else. To try again, send a *new* message (say what to do differently);
    never re-send the same one blindly, as work that did run would be charged twice.

    Attributes:
        error_code: the agent's own error code (``errorCode``, or the exception type), if any.
        session_id: the chat's session, when known.
    """

    default_hint = (
        "The NemoVideo agent reported a failure. Check client.state.get(session_id) to see what "
        "changed, then try again with a new message rather than re-sending the same one."
    )

    def __init__(
        self,
        message: str = "",
        *,
        error_code: str | None = None,
        session_id: str | None = None,
        **kw: Any,
    ) -> None:
        self.error_code = error_code
        self.session_id = session_id
        if message and message not in self.default_hint:
            message = (
                f"The NemoVideo agent reported a failure: {_clip(message)}. Check "
                "client.state.get(session_id) to see what changed, then try again with a new "
                "message rather than re-sending the same one."
            )
        super().__init__(message, **kw)


class APIConnectionError(NemoError):
    """The network failed before a complete answer arrived.

    Attributes:
        request_sent: ``False`` when the request certainly never reached the server (the
            connection could not be opened), so even a work-creating request is safe to repeat.
    """

    default_hint = "Could not reach the NemoVideo API; check the network and NEMO_API_URL."

    def __init__(self, message: str = "", *, request_sent: bool | None = None, **kw: Any) -> None:
        self.request_sent = request_sent
        super().__init__(message, **kw)


class APITimeoutError(APIConnectionError):
    """A request or stream took longer than its timeout allows."""

    default_hint = "The NemoVideo API did not answer in time."


class StreamDisconnectedError(APIConnectionError):
    """The chat stream broke before the server closed it.

    The SDK never re-sends a chat message (that would run and charge the work twice).

    Attributes:
        delivered: ``True`` when the server had accepted the message (the answer had started),
            ``False`` when it certainly never arrived, ``None`` when that cannot be known.
        session_id: the chat's session, to poll with ``client.state.get()``.
    """

    def __init__(
        self,
        message: str = "",
        *,
        delivered: bool | None = None,
        session_id: str | None = None,
        **kw: Any,
    ) -> None:
        self.delivered = delivered
        self.session_id = session_id
        if not message:
            if delivered:
                message = (
                    "The chat stream broke after the message was delivered; the work goes on "
                    "server-side. Do not send it again: poll client.state.get(session_id)."
                )
            elif delivered is False:
                message = "The chat message was not delivered; it is safe to send it again."
            else:
                message = (
                    "The chat stream broke and it is unknown whether the message arrived. "
                    "Check client.state.get(session_id) before sending it again."
                )
        super().__init__(message, **kw)


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


def error_from_code(
    code: int,
    message: str = "",
    *,
    http_status: int | None = None,
    request_id: str | None = None,
    retry_after: float | None = None,
) -> APIStatusError:
    """The exception for an API ``code`` (or an HTTP status used as one)."""
    cls = _CODE_CLASSES.get(code) or _STATUS_CLASSES.get(code)
    if cls is None and 500 <= code <= 599:
        cls = ServerError
    if cls is None and http_status is not None:
        cls = _STATUS_CLASSES.get(http_status)
        if cls is None and http_status >= 500:
            cls = ServerError
    cls = cls or APIStatusError
    kw: dict[str, Any] = {"code": code, "http_status": http_status, "request_id": request_id}
    if cls is RateLimitedError:
        kw["retry_after"] = retry_after
    hint = cls.default_hint
    if message and hint and message not in hint:
        message = f"{hint} (server said: {message})"
    return cls(message or hint, **kw)


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"


def _message_of(body: Mapping[str, Any]) -> str:
    for key in ("message", "msg", "detail", "error", "errorMessage"):
        value = body.get(key)
        if isinstance(value, str) and value:
            return _clip(value)
    return ""


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds only; dates are ignored)."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    if seconds != seconds or seconds < 0:  # NaN or negative
        return None
    return seconds


def error_from_response(
    http_status: int,
    body: bytes,
    headers: Mapping[str, str] | None = None,
) -> NemoError:
    """Map a non-2xx answer (JSON envelope, FastAPI ``detail``, HTML page, nothing) to an error."""
    headers = headers or {}
    request_id = headers.get("X-Request-Id") or headers.get("x-request-id")
    retry_after = parse_retry_after(headers.get("Retry-After") or headers.get("retry-after"))
    message = ""
    code: int | None = None
    try:
        parsed = json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError):
        parsed = None
    if isinstance(parsed, dict):
        message = _message_of(parsed)
        raw_code = parsed.get("code")
        if isinstance(raw_code, int) and not isinstance(raw_code, bool) and raw_code != 0:
            code = raw_code
    elif body and not body.lstrip().startswith(b"<"):
        message = _clip(body.decode("utf-8", "replace"))
    if http_status == 404 and code is None and "session" not in message.lower():
        # A 404 that is not about a session is a wrong URL, not a missing session.
        return APIStatusError(
            f"Not found: {message or 'the endpoint does not exist'}; check NEMO_API_URL.",
            http_status=http_status,
            request_id=request_id,
        )
    return error_from_code(
        code if code is not None else http_status,
        message,
        http_status=http_status,
        request_id=request_id,
        retry_after=retry_after,
    )


def error_from_envelope(
    body: Mapping[str, Any],
    *,
    http_status: int | None = None,
    request_id: str | None = None,
) -> APIStatusError:
    """The exception for a ``{"code": <non-zero>, ...}`` envelope."""
    raw_code = body.get("code")
    code = -1
    if isinstance(raw_code, int) and not isinstance(raw_code, bool):
        code = raw_code
    elif isinstance(raw_code, str) and raw_code.strip().isdigit():
        code = int(raw_code.strip())
    return error_from_code(code, _message_of(body), http_status=http_status, request_id=request_id)
