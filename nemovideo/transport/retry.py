"""Retry policy: one table, keyed by error class and request kind, run by tenacity.

| error                    | READ (GET)      | WRITE (session)  | WORK (chat, upload, render) |
|--------------------------|-----------------|------------------|-----------------------------|
| 429 RateLimitedError     | 1x, Retry-After | 1x, Retry-After  | 1x, Retry-After (refused)   |
| 429 on the token request | 1x if Retry-After is short; never for a long one (the 7-day quota)  |
| 1001 AuthenticationError | 1x, new token   | 1x, new token    | 1x, new token (refused)     |
| 400 MissingClientIdError | token only, 1x  | token only, 1x   | never                       |
| 5xx ServerError          | 2x, backoff     | 2x, backoff      | never: work may have begun  |
| connection / timeout     | 2x, backoff     | 2x, backoff      | only if never sent          |

WORK requests create work (chat messages cost credits; uploads and renders add to the session):
once the request may have reached the server they are never repeated. WRITE requests are not
idempotent either, but a duplicate is harmless and free (an unused session or claim token), so
they are retried like reads. Refusals (429, 1001, 400) arrive before anything ran.

tenacity is imported only when a request fails and its controller is built: most requests
succeed at once, and tenacity imports tornado whenever tornado is installed.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import math
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from nemovideo.protocol.errors import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    ConfigurationError,
    MissingClientIdError,
    RateLimitedError,
    ServerError,
    StreamDisconnectedError,
    TokenRateLimitedError,
)

if TYPE_CHECKING:
    from tenacity import AsyncRetrying, RetryCallState

__all__ = ["RateGate", "RequestKind", "RetryPolicy", "SharedPause"]

logger = logging.getLogger("nemovideo.retry")

_MAX_SHARED_WAIT = 600.0


class RequestKind(enum.Enum):
    """How safe a request is to repeat."""

    READ = "read"  #: idempotent: GETs
    WRITE = "write"  #: changes something small, creates no billable work (session, claim)
    WORK = "work"  #: creates billable work: chat messages, uploads, render starts


@attrs.frozen
class RetryPolicy:
    """The retry table's numbers. Pass one to `NemoClient(retry=...)` or to a single call.

    Attributes:
        max_retries: retries of 5xx and network failures on READ requests.
        backoff_initial: the first backoff wait (seconds), doubled on each retry.
        backoff_max: the cap on a backoff wait.
        backoff_jitter: up to this many seconds added at random to each backoff wait.
        rate_limit_retries: retries after a 429 (documented: once).
        rate_limit_wait: wait when a 429 gives no ``Retry-After`` (documented: 30 s).
        rate_limit_max_wait: cap on any ``Retry-After`` the server asks for.
        auth_retries: re-acquisitions of an anonymous token after 1001 (documented: once).
        sleep: the coroutine used to wait (tests and time-scaled runs replace it).
    """

    max_retries: int = 2
    backoff_initial: float = 0.5
    backoff_max: float = 8.0
    backoff_jitter: float = 0.5
    rate_limit_retries: int = 1
    rate_limit_wait: float = 30.0
    rate_limit_max_wait: float = 120.0
    auth_retries: int = 1
    sleep: Callable[[float], Awaitable[None]] = attrs.field(default=asyncio.sleep, eq=False)

    def __attrs_post_init__(self) -> None:
        # Checked here, not after a paid request: a negative count or a NaN wait is refused now.
        for name in ("max_retries", "rate_limit_retries", "auth_retries"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigurationError(f"RetryPolicy.{name} must be a whole number >= 0.")
        for name in ("backoff_initial", "backoff_max", "backoff_jitter", "rate_limit_wait",
                     "rate_limit_max_wait"):  # fmt: skip
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not math.isfinite(value)
                or value < 0
            ):
                raise ConfigurationError(f"RetryPolicy.{name} must be a finite number >= 0.")

    @classmethod
    def never(cls) -> RetryPolicy:
        """A policy that retries nothing (the refreshed-token retry included)."""
        return cls(max_retries=0, rate_limit_retries=0, auth_retries=0)

    def wait_for_rate_limit(self, retry_after: float | None) -> float:
        """Seconds to wait after a 429: ``Retry-After`` (capped) or the documented 30 s."""
        wait = self.rate_limit_wait if retry_after is None else retry_after
        return max(0.0, min(wait, self.rate_limit_max_wait))

    def controller(
        self,
        kind: RequestKind,
        *,
        on_auth_failure: Callable[[AuthenticationError], bool] | None = None,
        on_missing_client_id: Callable[[], None] | None = None,
    ) -> AsyncRetrying:
        """A tenacity ``AsyncRetrying`` that applies this table to one call."""
        from tenacity import AsyncRetrying, stop_after_attempt

        decide = _Decide(self, kind, on_auth_failure, on_missing_client_id)
        return AsyncRetrying(
            retry=decide,
            wait=_Wait(self),
            stop=stop_after_attempt(
                1 + self.max_retries + self.rate_limit_retries + self.auth_retries + 1
            ),
            sleep=self.sleep,
            reraise=True,
            before_sleep=_log_retry,
        )


class SharedPause(Protocol):
    """Where a pause is shared beyond one process (a fleet's ledger); times are Unix seconds."""

    async def pause_until(self, ts: float) -> None:
        """Tell every sharer to hold its requests until ``ts``."""

    async def paused_until(self) -> float:
        """Until when the sharers hold their requests (0, or a past time: no pause)."""


class RateGate:
    """Shared back-off: after a 429, every request of the client waits out the same pause.

    One refused request then slows the whole batch, instead of each concurrent flow learning of
    the limit by being refused in turn. With ``shared`` (a fleet's ledger), a pause is also told
    to every process sharing it, and theirs are read at most every ``refresh`` seconds.
    """

    def __init__(self, shared: SharedPause | None = None, *, refresh: float = 1.0) -> None:
        self._until = 0.0
        self.shared = shared
        self.refresh = refresh
        self._read_at = -math.inf  # the loop time the shared pause was last read
        self._telling: set[asyncio.Future[None]] = set()

    def block(self, seconds: float) -> None:
        """Hold requests for ``seconds`` from now (a longer existing pause stands)."""
        loop = asyncio.get_running_loop()
        self._until = max(self._until, loop.time() + seconds)
        if self.shared is not None:
            told = asyncio.ensure_future(self._tell(time.time() + seconds))
            self._telling.add(told)  # a reference until it is done
            told.add_done_callback(self._telling.discard)

    async def _tell(self, ts: float) -> None:
        assert self.shared is not None
        try:
            await self.shared.pause_until(ts)
        except Exception as exc:  # the pause still holds here; the fleet learns by its own 429s
            logger.info("could not share a rate-limit pause: %s", type(exc).__name__)

    @property
    def holding(self) -> bool:
        """Whether :meth:`wait` must be called: a pause is in force now, or the shared pause
        is due to be read again (a cheap check)."""
        now = asyncio.get_running_loop().time()
        if self._until > now:
            return True
        return self.shared is not None and now - self._read_at >= self.refresh

    async def wait(self, sleep: Callable[[float], Any]) -> None:
        """Return once no pause is in force, here or (read at most every ``refresh`` seconds)
        in the shared one. Each pause is waited out once, even if ``sleep`` does not advance
        the clock, as in time-scaled tests."""
        loop = asyncio.get_running_loop()
        if self.shared is not None and loop.time() - self._read_at >= self.refresh:
            self._read_at = loop.time()  # one read at a time: the others go on meanwhile
            try:
                ahead = await self.shared.paused_until() - time.time()
            except Exception as exc:
                logger.info("could not read the shared rate-limit pause: %s", type(exc).__name__)
                ahead = 0.0
            ahead = min(ahead, _MAX_SHARED_WAIT)  # a bad clock or value never blocks for hours
            if ahead > 0:
                self._until = max(self._until, loop.time() + ahead)
        served = None
        while self._until > loop.time() and self._until != served:
            served = self._until
            await sleep(served - loop.time())


class _Decide:
    """Decide, per failure, whether the table allows one more attempt (tenacity's ``retry``)."""

    def __init__(
        self,
        policy: RetryPolicy,
        kind: RequestKind,
        on_auth_failure: Callable[[AuthenticationError], bool] | None,
        on_missing_client_id: Callable[[], None] | None,
    ) -> None:
        self.policy = policy
        self.kind = kind
        self.on_auth_failure = on_auth_failure
        self.on_missing_client_id = on_missing_client_id
        self.used: Counter[str] = Counter()

    def _allow(self, bucket: str, limit: int) -> bool:
        if self.used[bucket] >= limit:
            return False
        self.used[bucket] += 1
        return True

    def __call__(self, retry_state: RetryCallState) -> bool:
        outcome = retry_state.outcome
        if outcome is None or not outcome.failed:
            return False
        exc = outcome.exception()
        policy = self.policy
        if isinstance(exc, (StreamDisconnectedError, TokenRateLimitedError)):
            return False  # a chat message is never re-sent; a refused token is not re-asked
        if isinstance(exc, RateLimitedError):
            return self._allow("rate", policy.rate_limit_retries)
        if isinstance(exc, AuthenticationError):
            if self.on_auth_failure is None or not self.on_auth_failure(exc):
                return False
            return self._allow("auth", policy.auth_retries)
        if isinstance(exc, MissingClientIdError):
            # Only the token request sends a client id; a 400 elsewhere is a plain refusal.
            if self.on_missing_client_id is None or not self._allow("client_id", 1):
                return False
            self.on_missing_client_id()
            return True
        if isinstance(exc, ServerError):
            safe = self.kind is not RequestKind.WORK
            return safe and self._allow("transient", policy.max_retries)
        if isinstance(exc, APIConnectionError):
            safe = self.kind is not RequestKind.WORK or exc.request_sent is False
            return safe and self._allow("transient", policy.max_retries)
        return False


class _Wait:
    """Retry-After for 429s, nothing for fixed-up auth, capped jittered backoff otherwise
    (tenacity's ``wait``)."""

    def __init__(self, policy: RetryPolicy) -> None:
        from tenacity.wait import wait_exponential, wait_random

        self.policy = policy
        # Capped exponential backoff plus full jitter, from tenacity's own building blocks.
        self.backoff = wait_exponential(
            multiplier=policy.backoff_initial, max=policy.backoff_max
        ) + wait_random(0, policy.backoff_jitter)

    def __call__(self, retry_state: RetryCallState) -> float:
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None else None
        if isinstance(exc, RateLimitedError):
            return self.policy.wait_for_rate_limit(exc.retry_after)
        if isinstance(exc, (AuthenticationError, MissingClientIdError)):
            return 0.0
        return float(self.backoff(retry_state))


def _log_retry(retry_state: RetryCallState) -> None:
    outcome = retry_state.outcome
    exc: Any = outcome.exception() if outcome is not None else None
    wait = retry_state.next_action.sleep if retry_state.next_action else 0.0
    kind = "timeout" if isinstance(exc, APITimeoutError) else type(exc).__name__
    logger.info("retrying after %s in %.2fs (attempt %d)", kind, wait, retry_state.attempt_number)
