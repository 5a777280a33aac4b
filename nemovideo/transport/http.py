"""The one HTTP layer: an aiohttp session, the bearer token, retries and answer decoding.

Resources hand it a method, a path and a body; it returns the decoded payload or raises a
`NemoError`. Every cross-cutting concern meets here once: the base URL, timeouts, the
attribution middleware (on the SDK's session and on a caller's), proxies, the token and its
refresh on 1001, the retry table, size caps. Where a token comes from is `tokens.py`'s business;
how aiohttp's failures are named and bodies read is `wire.py`'s.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
import warnings
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import aiohttp
import attrs
from aiohttp import ClientMiddlewareType
from yarl import URL

from nemovideo.protocol.envelope import decode_answer
from nemovideo.protocol.errors import (
    ConfigurationError,
    InsufficientCreditsError,
    NemoError,
    RateLimitedError,
)
from nemovideo.transport.auth import Credentials, load_or_create_client_id
from nemovideo.transport.calls import current_headers, note_request_id
from nemovideo.transport.config import ClientConfig
from nemovideo.transport.loops import close_when_loop_ends, discard_session, running_loop
from nemovideo.transport.middleware import AttributionMiddleware, LoggingMiddleware
from nemovideo.transport.proxies import ProxyChooser
from nemovideo.transport.retry import RateGate, RequestKind, RetryPolicy
from nemovideo.transport.tokens import TOKEN_PATH, AnonymousTokens, TokenFile
from nemovideo.transport.wire import map_client_error, read_capped

__all__ = ["HTTPTransport", "map_client_error", "read_capped"]

logger = logging.getLogger("nemovideo.http")

T = TypeVar("T")
E = TypeVar("E", bound=NemoError)

#: How many API URLs a transport keeps built (they differ only by session and job ids).
_URL_CACHE_SIZE = 256

#: Builds a request body afresh for each attempt (a multipart body cannot be sent twice).
BodyFactory = Callable[[], Any]


def _redacted(exc: E, *tokens_and_credentials: object) -> E:
    """``exc`` with every known token value in its message replaced by ``[redacted]``."""
    secrets = set()
    for item in tokens_and_credentials:
        value = item.current if isinstance(item, Credentials) else item
        if isinstance(value, str) and len(value) >= 8:
            secrets.add(value)
    for secret in secrets:
        if secret in exc.message:
            exc.message = exc.message.replace(secret, "[redacted]")
            exc.args = (exc.message, *exc.args[1:])
        if exc.body is not None:
            text = exc.body if isinstance(exc.body, str) else json.dumps(exc.body)
            if secret in text:
                cleaned = text.replace(secret, "[redacted]")
                exc.body = cleaned if isinstance(exc.body, str) else json.loads(cleaned)
        if exc.headers and any(secret in v for v in exc.headers.values()):
            exc.headers = {k: v.replace(secret, "[redacted]") for k, v in exc.headers.items()}
    return exc


class HTTPTransport:
    """Owns the aiohttp session. Created without a running loop; the session opens on first use.

    Args:
        config: the resolved client settings.
        session: an aiohttp session to use instead of creating one (it is then not closed here).
            Its own middlewares run first on each request, then the SDK's attribution one; its
            proxy settings are its own.
    """

    def __init__(
        self, config: ClientConfig, *, session: aiohttp.ClientSession | None = None
    ) -> None:
        self.config = config
        self._session = session
        self._owns_session = session is None
        self._closed = False
        self._client_id = config.client_id
        self.tokens = AnonymousTokens(
            self._ask_for_token,
            api_url=str(config.base_url),
            client_id=lambda: self.client_id,
            file=TokenFile(config.token_cache_path) if config.token_cache else None,
            web_url=config.web_url,
        )
        self.credentials = Credentials(config.token, self.tokens if config.token is None else None)
        self.proxies = ProxyChooser(config.trust_env and session is None)
        self._parent: HTTPTransport | None = None
        self.rate_gate = RateGate()
        self._urls: dict[str, URL] = {}
        self._chains: dict[bool, tuple[ClientMiddlewareType, ...]] = {}
        # Whether the SDK chooses each request's middlewares: not on a session the caller gave.
        self._sdk_session = session is None
        # The loop the session was opened on, and the guard that closes it when that loop ends
        # (a client may outlive its loop: see nemovideo/transport/loops.py).
        self._session_loop: asyncio.AbstractEventLoop | None = None
        self._loop_guard: object = None

    def derive(self, config: ClientConfig) -> HTTPTransport:
        """A transport with other settings sharing this one's session and token."""
        child = HTTPTransport(config, session=self._session)
        child._owns_session = False
        child._parent = self
        if config.token == self.config.token:
            child.credentials = self.credentials  # the same token: share it (and its refresh)
        child.rate_gate = self.rate_gate
        child._client_id = self._client_id
        child._sdk_session = self._sdk_session
        if config.trust_env == self.config.trust_env:
            child.proxies = self.proxies
        else:
            child.proxies = ProxyChooser(config.trust_env and self._sdk_session)
        return child

    def __repr__(self) -> str:
        return f"<HTTPTransport {self.config.base_url} {self.credentials!r}>"

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._closed

    @property
    def owns_connections(self) -> bool:
        """True for the transport that opened (or was given) the connections, not a derived one:
        closing it ends every request of its clones too."""
        return self._parent is None

    def session(self) -> aiohttp.ClientSession:
        """The aiohttp session, opened on first use (inside the running loop)."""
        if self._parent is not None:
            return self._parent.session()
        if self._closed:
            raise ConfigurationError(
                "This NemoClient is closed; create a new one (or use `async with NemoClient()`)."
            )
        loop = running_loop()
        if self._session is not None and loop is not None and self._session_loop is not loop:
            if self._session_loop is not None:  # the session is of an earlier loop
                if not self._owns_session:
                    raise ConfigurationError(
                        "The aiohttp session given to NemoClient(session=...) belongs to another "
                        "event loop; create the session inside the loop that uses the client."
                    )
                discard_session(self._session)
                self._session = None
            self._session_loop = loop
        if self._session is None:
            cfg = self.config
            connector = aiohttp.TCPConnector(limit=cfg.connection_limit, ssl=cfg.verify_ssl)
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(
                    total=cfg.timeouts.request, sock_connect=cfg.timeouts.connect
                ),
                middlewares=self._middlewares(with_logging=True),
                raise_for_status=False,
                trust_env=False,
            )
            if loop is not None:
                self._session_loop = loop
                self._loop_guard = close_when_loop_ends(self._session, self._forget_session)
        return self._session

    def _forget_session(self, session: aiohttp.ClientSession) -> None:
        # The session's loop is shutting down: the next request opens a session on its own loop.
        if self._session is session:
            self._session, self._loop_guard = None, None

    def _middlewares(self, *, with_logging: bool) -> tuple[ClientMiddlewareType, ...]:
        """The attribution middleware, then (when asked) the logging one.

        The session carries both. The SDK's own requests name their chain each time and leave
        the logging middleware out while ``nemovideo.http`` does not log at DEBUG: aiohttp
        wraps every middleware in two coroutines per request, a cost worth skipping.
        """
        cached = self._chains.get(with_logging)
        if cached is None:
            attribution = AttributionMiddleware(self.config.base_url, self.config.attribution)
            cached = (attribution, LoggingMiddleware()) if with_logging else (attribution,)
            self._chains[with_logging] = cached
        return cached

    def request_middlewares(self) -> tuple[ClientMiddlewareType, ...]:
        """The middlewares for one request now: logging only while DEBUG is on.

        On a session the caller supplied, its own middlewares come first (aiohttp's per-request
        ``middlewares=`` replaces the session's), then the SDK's: attribution headers go on
        every API request (and never to another origin) whoever made the session.
        """
        ours = self._middlewares(with_logging=logger.isEnabledFor(logging.DEBUG))
        if self._sdk_session:
            return ours
        session = self.session()
        theirs = tuple(getattr(session, "_middlewares", None) or ())
        return (*theirs, *ours)

    async def close(self) -> None:
        """Close the session (idempotent)."""
        self._closed = True
        session, self._session = self._session, None
        if session is not None and self._owns_session and not session.closed:
            await session.close()

    def __del__(self, _warn: Callable[..., None] = warnings.warn) -> None:
        if self._owns_session and self._session is not None and not self._session.closed:
            _warn(
                "Unclosed NemoClient: use `async with NemoClient()` or `await client.close()`.",
                ResourceWarning,
                source=self,
                stacklevel=2,
            )

    # -- credentials -----------------------------------------------------------------------

    @property
    def client_id(self) -> str:
        """The ``X-Client-Id``: given, else the shared id file's (created when missing)."""
        if self._client_id is None:
            self._client_id = load_or_create_client_id(self.config.client_id_path)
        return self._client_id

    def _new_client_id(self) -> None:
        # The server said the id was missing: one we never loaded gets loaded, else a fresh one.
        self._client_id = None if self._client_id is None else str(uuid.uuid4())

    async def _ask_for_token(self) -> Any:
        """One token request, shared by every request waiting for a token.

        A 429 is retried once, as the documents say for any 429, but only when the wait it
        asks for is a short one: a refusal that asks for hours or days is the 7-day quota
        (1 token per client id, 10 per IP), and asking again would only spend it. Failures to
        connect and 5xx are retried like any small write.
        """
        policy = self.config.retry
        once = attrs.evolve(policy, rate_limit_retries=0)

        async def ask() -> Any:
            return await self.request(
                "POST",
                TOKEN_PATH,
                kind=RequestKind.WRITE,
                authenticated=False,
                client_id_header=True,
                retry=once,
                what="asking for an anonymous token",
            )

        try:
            return await ask()
        except RateLimitedError as exc:
            wait = exc.retry_after
            if policy.rate_limit_retries < 1 or (
                wait is not None and wait > policy.rate_limit_max_wait
            ):
                raise
            await policy.sleep(policy.wait_for_rate_limit(wait))
        return await ask()

    def register_link(self) -> str | None:
        """Where an anonymous user registers and keeps this work: ``<web>/register?bind=<id>``.

        ``None`` for a registered user's token (they top up instead), or when the user is not
        known to be anonymous.
        """
        credentials = self.credentials
        user_id = credentials.user_id
        anonymous = credentials.anonymous or (user_id or "").startswith("anon_")
        if not anonymous:
            return None
        web = self.config.web_url.rstrip("/")
        if user_id is None:
            return f"{web}/register"
        return str(URL(web + "/register").with_query({"bind": user_id}))

    # -- requests --------------------------------------------------------------------------

    def url(self, path: str) -> URL:
        """The absolute URL of an API path."""
        url = self._urls.get(path)
        if url is None:
            base = self.config.base_url
            url = base.with_path(base.path.rstrip("/") + path, encoded=False)
            if len(self._urls) >= _URL_CACHE_SIZE:
                self._urls.clear()  # one path per session: a long batch must not grow it forever
            self._urls[path] = url
        return url

    async def auth_headers(self) -> dict[str, str]:
        """The ``Authorization`` header for a request to the API's own origin."""
        return {"Authorization": "Bearer " + await self.credentials.get()}

    async def _headers(self, authenticated: bool, client_id_header: bool) -> dict[str, str]:
        headers = await self.auth_headers() if authenticated else {}
        if client_id_header:
            headers["X-Client-Id"] = self.client_id
        return headers

    async def request(
        self,
        method: str,
        path: str,
        *,
        kind: RequestKind,
        json: Any = None,
        body: BodyFactory | None = None,
        enveloped: bool = True,
        authenticated: bool = True,
        client_id_header: bool = False,
        retry: RetryPolicy | None = None,
        timeout: float | None = None,
        long: bool = False,
        what: str | None = None,
    ) -> Any:
        """Send one API request with the retry table applied; return the decoded payload.

        ``long`` requests (uploads) have no total time limit, only a limit on silence.
        """
        label = what or f"{method} {path}"

        async def send(headers: dict[str, str]) -> Any:
            return await self._once(
                method,
                self.url(path),
                headers=headers,
                json=json,
                data=body() if body is not None else None,
                enveloped=enveloped,
                timeout=timeout,
                long=long,
                what=label,
            )

        return await self.run_with_retries(
            send,
            kind=kind,
            policy=retry or self.config.retry,
            authenticated=authenticated,
            client_id_header=client_id_header,
            extra_headers=current_headers(),
        )

    async def run_with_retries(
        self,
        send: Callable[[dict[str, str]], Awaitable[T]],
        *,
        kind: RequestKind,
        policy: RetryPolicy,
        authenticated: bool,
        client_id_header: bool = False,
        extra_headers: Mapping[str, str] | None = None,
    ) -> T:
        """Run ``send(headers)`` under the retry table.

        The first attempt runs without building tenacity's controller (most requests succeed
        at once, and that is the hot path); a failure is handed to the controller as its first
        outcome, so the table decides exactly as if tenacity had run it.
        """
        used: list[str | None] = [None]

        credentials = self.credentials
        gate = self.rate_gate

        async def attempt() -> T:
            if gate.holding:
                await gate.wait(policy.sleep)
            token = credentials.current
            if authenticated and token is not None and not client_id_header:
                headers = {"Authorization": "Bearer " + token}  # the usual case, with no await
            else:
                headers = await self._headers(authenticated, client_id_header)
            if extra_headers:
                headers.update(extra_headers)
            used[0] = credentials.current if authenticated else None
            try:
                return await send(headers)
            except RateLimitedError as exc:
                if not client_id_header:  # a refused token request pauses nothing else
                    gate.block(policy.wait_for_rate_limit(exc.retry_after))
                raise

        try:
            return await attempt()
        except InsufficientCreditsError as exc:
            raise self._with_register_link(_redacted(exc, used[0], credentials)) from None
        except Exception as exc:
            first: Exception | None = exc
        try:
            return await self._retry_loop(attempt, first, kind, policy, used, client_id_header)
        except InsufficientCreditsError as exc:
            raise self._with_register_link(_redacted(exc, used[0], credentials)) from None
        except NemoError as exc:
            # A server that echoes the request's Authorization header in its error body would
            # put the token into str(error): no known token value leaves in an error's text.
            raise _redacted(exc, used[0], credentials) from exc.__cause__

    async def _retry_loop(
        self,
        attempt: Callable[[], Awaitable[T]],
        first: Exception | None,
        kind: RequestKind,
        policy: RetryPolicy,
        used: list[str | None],
        client_id_header: bool,
    ) -> T:
        credentials = self.credentials
        controller = policy.controller(
            kind,
            on_auth_failure=lambda exc: credentials.invalidate(exc, used[0]),
            on_missing_client_id=self._new_client_id if client_id_header else None,
        )
        async for retry_attempt in controller:
            with retry_attempt:
                if first is not None:
                    failure, first = first, None
                    raise failure
                return await attempt()
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover

    def _with_register_link(self, exc: InsufficientCreditsError) -> InsufficientCreditsError:
        """Code 2001 for an anonymous user names the registration link, as the documents
        require ("must not be omitted")."""
        link = exc.link or self.register_link()
        if link is None or exc.link is not None:
            return exc
        return InsufficientCreditsError(
            exc.message,
            link=link,
            code=exc.code,
            http_status=exc.http_status,
            request_id=exc.request_id,
        )

    async def _once(
        self,
        method: str,
        url: URL,
        *,
        headers: dict[str, str],
        json: Any,
        data: Any,
        enveloped: bool,
        timeout: float | None,
        long: bool,
        what: str,
    ) -> Any:
        session = self.session()
        extra = self.proxies.options(url)
        connect = self.config.timeouts.connect
        if long:
            # An upload: no total limit (200 MB take a while to send), and minutes of silence
            # allowed while the server stores and probes the file before it answers.
            read = self.config.timeouts.upload_processing
            extra = {
                **extra,
                "timeout": aiohttp.ClientTimeout(total=None, sock_connect=connect, sock_read=read),
            }
        elif timeout is not None:
            extra = {
                **extra,
                "timeout": aiohttp.ClientTimeout(total=timeout, sock_connect=connect),
            }
        try:
            async with session.request(
                method,
                url,
                headers=headers,
                json=json,
                data=data,
                middlewares=self.request_middlewares(),
                **extra,
            ) as response:
                payload = await read_capped(response, self.config.max_body_bytes)
                note_request_id(response.headers)
                return decode_answer(
                    response.status, response.headers, payload, enveloped=enveloped
                )
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise map_client_error(exc, what=what) from None
