"""One exception tree for everything the SDK raises.

Every error says what went wrong *and what to do about it*. How an answer (status, headers,
body) becomes one of these is :mod:`nemovideo.protocol.envelope`'s job.
"""

from __future__ import annotations

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
    "StorageError",
    "StreamDisconnectedError",
    "TokenRateLimitedError",
    "UnsupportedFileTypeError",
    "clip",
]

#: Extensions the API accepts (API.md "Files"), plus HEIC advertised by the image-to-video product.
ACCEPTED_EXTENSIONS: tuple[str, ...] = (
    "mp4", "mov", "avi", "webm", "mkv",
    "jpg", "jpeg", "png", "gif", "webp", "heic",
    "mp3", "wav", "m4a", "aac",
)  # fmt: skip

MAX_MESSAGE = 300  # characters of a server's text kept in a message (HTML pages can be huge)


class NemoError(Exception):
    """Base of every error the SDK raises.

    Attributes:
        message: what happened and what to do about it.
        code: the API's numeric ``code`` (1001, 2001, ...) or ``None``.
        http_status: the HTTP status of the answer, when there was one.
        request_id: the server's request id (``X-Request-Id``), when it sent one.
        status_code: ``http_status`` under the name other SDKs use.
        headers: the answer's headers, when the error came from an answer.
        body: the answer's body (decoded JSON, else text), when it came from one.
        flow_id: the ``animate`` flow the error ended, when it ended one.
        resumable: True when that flow's paid work is kept: ``client.resume()`` (or
            ``nemovideo resume``) finishes it without paying again.
    """

    default_hint: ClassVar[str] = ""
    flow_id: str | None = None
    resumable: bool = False
    #: The answer's headers, when the error came from one (else ``None``).
    headers: dict[str, str] | None = None
    #: The answer's body: its decoded JSON, else its text (up to 4 KiB); ``None`` without one.
    body: Any = None

    @property
    def status_code(self) -> int | None:
        """The HTTP status (the same as ``http_status``, under the name other SDKs use)."""
        return self.http_status

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


class StorageError(NemoError, OSError):
    """A local file could not be written or read: the journal, or where a video goes.

    Raised before the step it concerns is taken: a journal that cannot record a step stops the
    flow before the step, so no paid request goes out unrecorded.

    Attributes:
        path: the file or folder concerned.
    """

    def __init__(self, message: str = "", *, path: str | None = None, **kw: Any) -> None:
        self.path = path
        super().__init__(message, **kw)


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

    default_hint = (
        "Out of credits for this work. Anonymous users: register to get more "
        "(client.session.claim_link() gives a link that keeps this work); registered users: "
        "top up your balance."
    )

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


class TokenRateLimitedError(RateLimitedError):
    """HTTP 429 on the anonymous-token request: no new anonymous token for now.

    The service gives one anonymous token per client id per 7 days (and 10 per IP). The SDK
    asks once and does not repeat a refused request: asking again only spends the IP's quota.
    """

    default_hint = (
        "NemoVideo refused a new anonymous token (limit: 1 per client per 7 days, 10 per IP). "
        "Wait and try again later, set NEMO_TOKEN to a token you saved, or register at "
        "nemovideo.com for a lasting token."
    )


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


class GenerationFailedError(NemoError):
    """The chat turn ended but the draft never became exportable (nothing to render).

    Attributes:
        session_id: the session, to inspect with ``client.state.get()``.
    """

    default_hint = (
        "The generation produced no timeline. Check client.state.get(session_id) and ask again "
        "with a new message."
    )

    def __init__(self, message: str = "", *, session_id: str | None = None, **kw: Any) -> None:
        self.session_id = session_id
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
                f"The NemoVideo agent reported a failure: {clip(message)}. Check "
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


def clip(text: str) -> str:
    """Whitespace folded and the length capped at ``MAX_MESSAGE`` characters, for messages."""
    text = " ".join(text.split())
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"
