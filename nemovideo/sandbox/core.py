"""The sandbox's state and the rules every handler shares: tokens, scopes, sessions, credits.

Handlers reach the one :class:`Core` of their app through ``request.app[CORE]``. Errors are
raised as :class:`ApiError` and turned into the documented answer by the gateway middleware.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextvars
import logging
import random
from collections.abc import Coroutine
from typing import Any

import attrs
from aiohttp import web

from nemovideo.sandbox.blobs import BlobStore
from nemovideo.sandbox.clock import SimClock
from nemovideo.sandbox.faults import FaultRule, Faults
from nemovideo.sandbox.options import ANONYMOUS_SCOPES, SandboxOptions
from nemovideo.sandbox.store import (
    Account,
    BoundedDict,
    CdnRequest,
    ChatDelivery,
    MediaRecord,
    RenderJob,
    RequestRecord,
    SessionRecord,
    TokenRecord,
)

__all__ = [
    "ATTRIBUTION_HEADERS",
    "CORE",
    "TOKEN_LIFETIME",
    "ApiError",
    "Core",
    "RequestContext",
    "current",
    "enter",
]

logger = logging.getLogger("nemovideo.sandbox")

#: Simulated seconds an anonymous token lives (and the per-IP window): 7 days.
TOKEN_LIFETIME = 7 * 24 * 3600.0
_JSON_CODES = frozenset({1001, 1002, 2001, 4001, 4002})
# The HTTP statuses codes travel with when options.error_style == "http" (and on /run_sse).
_CODE_STATUS = {1001: 401, 1002: 404, 2001: 402, 4001: 415, 4002: 413}
#: The attribution headers every API request must carry.
ATTRIBUTION_HEADERS = ("X-Skill-Source", "X-Skill-Version", "X-Skill-Platform")


@attrs.define
class RequestContext:
    """What the gateway knows about the request being handled.

    Attributes:
        fault: the fault injected into this request, if any.
        record: its entry in the request log (the handler fills in the status).
        stream: errors must travel as HTTP statuses (the chat stream answers before streaming).
        request_id: the ``X-Request-Id`` sent back with the answer.
    """

    fault: FaultRule | None = None
    record: RequestRecord | CdnRequest | None = None
    stream: bool = False
    request_id: str = ""

    def mark(self, status: int) -> None:
        """Note the answer's status in the request log."""
        if self.record is not None:
            self.record.status = status


# Each request is handled in its own task, so a context variable is per request.
_CONTEXT: contextvars.ContextVar[RequestContext] = contextvars.ContextVar("nemovideo_sandbox")


def current() -> RequestContext:
    """The context of the request being handled (an empty one outside the gateway)."""
    try:
        return _CONTEXT.get()
    except LookupError:
        return RequestContext()


def enter(context: RequestContext) -> None:
    """Make ``context`` the current request's context (called by the gateway)."""
    _CONTEXT.set(context)


class ApiError(Exception):
    """An API refusal: a JSON ``code`` (1001, 2001, ...) or an HTTP status (400, 402, ...).

    Attributes:
        code: the body's ``code``; for plain HTTP errors the status itself.
        http: force an HTTP status for API codes (``/run_sse`` answers before its stream).
        headers: extra answer headers (``Retry-After``).
        body: a body to send instead of the standard ``{"code", "message"}``.
    """

    def __init__(
        self,
        code: int,
        message: str,
        *,
        http: bool = False,
        headers: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.http = http
        self.headers = headers or {}
        self.body = body

    def status(self, error_style: str) -> int:
        """The HTTP status to answer with."""
        if self.code in _JSON_CODES:
            return _CODE_STATUS[self.code] if self.http or error_style == "http" else 200
        return self.code

    def response(self, error_style: str) -> web.Response:
        """The JSON answer for this error."""
        body = self.body or {"code": self.code, "message": self.message, "data": None}
        return web.json_response(body, status=self.status(error_style), headers=self.headers)


def has_attribution(headers: Any) -> bool:
    """Whether all three ``X-Skill-*`` attribution headers are present and non-empty."""
    return all(headers.get(name) for name in ATTRIBUTION_HEADERS)


class Core:
    """All server-side state of one sandbox, shared by the API and CDN apps."""

    def __init__(self, options: SandboxOptions) -> None:
        self.options = options
        self.clock = SimClock(options.time_scale)
        self.rng = random.Random(options.seed)
        self.faults = Faults(options.seed, options.faults)
        self.blobs = BlobStore(options.storage_limit)
        self.api_url = ""
        self.cdn_url = ""
        limit = options.log_limit
        self.tokens: BoundedDict[str, TokenRecord] = BoundedDict(100_000)
        self.client_tokens: BoundedDict[str, TokenRecord] = BoundedDict(100_000)
        self.anonymous_accounts: BoundedDict[str, Account] = BoundedDict(100_000)
        self.ip_grants: BoundedDict[str, collections.deque[float]] = BoundedDict(10_000)
        self.sessions: BoundedDict[str, SessionRecord] = BoundedDict(50_000)
        self.media: BoundedDict[str, MediaRecord] = BoundedDict(100_000)
        self.claims: BoundedDict[str, str] = BoundedDict(10_000)
        self.render_jobs: BoundedDict[str, RenderJob] = BoundedDict(10_000)
        self.requests: collections.deque[RequestRecord] = collections.deque(maxlen=limit)
        self.cdn_requests: collections.deque[CdnRequest] = collections.deque(maxlen=limit)
        self.chat_deliveries: collections.deque[ChatDelivery] = collections.deque(maxlen=limit)
        self.delivery_counts: BoundedDict[tuple[str, str], int] = BoundedDict(limit)
        # Encodes run in their own bounded pool: they never starve probing in the default one,
        # and closing can wait for them before the files they write are removed.
        self.encoders = concurrent.futures.ThreadPoolExecutor(
            options.render_concurrency, thread_name_prefix="nemovideo-sandbox-render"
        )
        self.closing = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._counter = 0
        for token, scopes in options.tokens.items():
            account = Account(self.new_id("usr_"), False, options.registered_credits)
            self.tokens[token] = TokenRecord(token, account, scopes, issued_at=self.clock.now())

    # ---- identifiers -------------------------------------------------------------------
    def new_id(self, prefix: str = "", nbytes: int = 12) -> str:
        """A fresh random id from the seeded generator, e.g. ``usr_3f9a...``."""
        return prefix + self.rng.getrandbits(nbytes * 8).to_bytes(nbytes, "big").hex()

    def next_number(self) -> int:
        """A counter for ids that must never repeat within one sandbox."""
        self._counter += 1
        return self._counter

    # ---- tokens ------------------------------------------------------------------------
    def issue_anonymous(self, client_id: str, ip: str) -> TokenRecord:
        """The client's still-valid token, or a new one (per-IP limit: HTTP 429)."""
        now = self.clock.now()
        current = self.client_tokens.get(client_id)
        repeat = self.options.repeat_token
        if current is not None and current.valid(now):
            if repeat == "same":
                return current
            if repeat == "refuse":
                wait = (current.expires_at or now + TOKEN_LIFETIME) - now
                raise ApiError(
                    429,
                    "Rate limit (1 token/client/7 days): this client id already has a valid "
                    "token; save and reuse it.",
                    headers={"Retry-After": self.retry_after_header(wait)},
                )
        grants = self.ip_grants.get(ip)
        if grants is None:
            grants = self.ip_grants[ip] = collections.deque()
        while grants and grants[0] <= now - TOKEN_LIFETIME:
            grants.popleft()
        if len(grants) >= self.options.anonymous_tokens_per_ip:
            wait = grants[0] + TOKEN_LIFETIME - now
            raise ApiError(
                429,
                "Too many anonymous tokens from this IP address (10 per 7 days); reuse your "
                "client id or register.",
                headers={"Retry-After": self.retry_after_header(wait)},
            )
        grants.append(now)
        account = self.anonymous_accounts.get(client_id)
        if account is None or (repeat == "new_user" and current is not None and current.valid(now)):
            account = Account(self.new_id("anon_"), True, self.options.initial_credits)
            self.anonymous_accounts[client_id] = account
        record = TokenRecord(
            self.new_id("nmv_usr_", 16),
            account,
            ANONYMOUS_SCOPES,
            client_id=client_id,
            issued_at=now,
            expires_at=now + TOKEN_LIFETIME,
        )
        self.tokens[record.token] = record
        self.client_tokens[client_id] = record
        return record

    def retry_after_header(self, simulated_seconds: float) -> str:
        """A ``Retry-After`` value: simulated seconds scaled to real ones, maybe fractional."""
        real = self.clock.real(max(simulated_seconds, 0.0))
        text = f"{real:.3f}".rstrip("0").rstrip(".")
        return text or "0"

    def authenticate(self, request: web.Request, scope: str | None) -> TokenRecord:
        """The request's token record, checked for validity and ``scope``.

        Raises:
            ApiError: 1001 for a missing, unknown or expired token; 403 for a missing scope.
        """
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        record = self.tokens.get(value.strip()) if scheme.lower() == "bearer" else None
        context = current()
        fault = context.fault
        if record is not None and fault is not None and fault.kind == "token_expiry":
            record.revoked = True
        if record is None or not record.valid(self.clock.now()):
            raise ApiError(1001, "Token invalid or expired.", http=context.stream)
        if scope is not None and not record.allows(scope):
            raise ApiError(403, f"This token lacks the '{scope}' scope.")
        return record

    # ---- sessions ----------------------------------------------------------------------
    def session_of(self, token: TokenRecord, session_id: str) -> SessionRecord:
        """The caller's session ``session_id``.

        Raises:
            ApiError: 1002 when it does not exist or belongs to another user.
        """
        session = self.sessions.get(session_id)
        if session is None or session.owner != token.account.user_id:
            raise ApiError(1002, f"Session not found: {session_id}")
        return session

    def record_delivery(self, session: SessionRecord, text: str) -> ChatDelivery:
        """Note that ``text`` reached ``session`` (duplicates are counted, never merged)."""
        key = (session.session_id, text)
        count = self.delivery_counts.get(key, 0) + 1
        self.delivery_counts[key] = count
        session.turns += 1
        delivery = ChatDelivery(session.session_id, text, count, session.turns, self.clock.now())
        self.chat_deliveries.append(delivery)
        return delivery

    # ---- background work ---------------------------------------------------------------
    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run ``coro`` in the background until it ends or the sandbox closes."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("sandbox background work failed", exc_info=task.exception())

    @property
    def busy(self) -> bool:
        """Whether any chat turn or render job is still running."""
        return bool(self._tasks)

    async def shutdown(self) -> None:
        """Cancel background work, wait for it, and remove stored files."""
        self.closing = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.to_thread(self.encoders.shutdown, wait=True, cancel_futures=True)
        self.blobs.close()


#: The app key under which both apps find their :class:`Core`.
CORE: web.AppKey[Core] = web.AppKey("nemovideo_sandbox_core", Core)
