"""Per-call options: ``timeout=`` and ``extra_headers=`` on every resource method.

A resource method decorated with :func:`per_call` takes ``timeout`` (an overall deadline in
seconds for that call, retries included) and ``extra_headers`` (added to each API request the
call makes, after the SDK's own; never to a CDN download). The headers travel in a context
variable, so the transport picks them up wherever the call's requests are made.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import math
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, TypeVar

from nemovideo.protocol.errors import APITimeoutError, ConfigurationError

if sys.version_info >= (3, 11):
    from asyncio import timeout as _deadline
else:  # pragma: no cover - Python 3.10
    from async_timeout import timeout as _deadline

__all__ = ["current_headers", "note_request_id", "per_call", "per_call_options"]

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])

_HEADERS: contextvars.ContextVar[Mapping[str, str] | None] = contextvars.ContextVar(
    "nemovideo_extra_headers", default=None
)


_REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "nemovideo_request_id", default=None
)


def note_request_id(headers: Mapping[str, str]) -> None:
    """Remember the request id of an answer that succeeded (for the call's result)."""
    _REQUEST_ID.set(headers.get("X-Request-Id") or headers.get("Request-Id"))


def _stamp(result: Any) -> Any:
    """Put the last answer's request id on a result model that has room for it."""
    if getattr(result, "request_id", False) is None:
        rid = _REQUEST_ID.get()
        if rid:
            # The models are frozen: the id is set once, here, before anyone sees the result.
            object.__setattr__(result, "request_id", rid[:200])
    return result


def current_headers() -> Mapping[str, str] | None:
    """The extra headers of the call being made (``None`` outside one)."""
    return _HEADERS.get()


def _checked(timeout: object, extra_headers: object) -> Mapping[str, str] | None:
    if timeout is not None and (
        isinstance(timeout, bool)
        or not isinstance(timeout, (int, float))
        or not math.isfinite(timeout)
        or timeout <= 0
    ):
        raise ConfigurationError(f"timeout must be a positive number of seconds (got {timeout!r}).")
    if extra_headers is None:
        return None
    if not isinstance(extra_headers, Mapping):
        raise ConfigurationError("extra_headers must be a mapping of header names to values.")
    for name, value in extra_headers.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise ConfigurationError("extra_headers names and values must be strings.")
        if any(ch in name + value for ch in "\r\n\0"):
            raise ConfigurationError(f"extra_headers[{name!r}] holds a line break.")
    return dict(extra_headers)


@contextlib.asynccontextmanager
async def per_call_options(
    timeout: float | None, extra_headers: Mapping[str, str] | None, what: str
) -> AsyncIterator[None]:
    """Apply one call's ``timeout`` and ``extra_headers`` to the requests made in the block.

    Raises:
        ConfigurationError: an unusable ``timeout`` or ``extra_headers``.
        APITimeoutError: the block did not finish within ``timeout``.
    """
    headers = _checked(timeout, extra_headers)
    if headers is not None:
        outer = _HEADERS.get()
        token = _HEADERS.set({**outer, **headers} if outer else headers)
    try:
        if timeout is None:
            yield
        else:
            try:
                async with _deadline(timeout):
                    yield
            except asyncio.TimeoutError:  # not the builtin one before Python 3.11
                raise APITimeoutError(
                    f"{what} did not finish within its timeout={timeout:g} s.", request_sent=None
                ) from None
    finally:
        if headers is not None:
            _HEADERS.reset(token)


def per_call(*, deadline: bool = True) -> Callable[[F], F]:
    """Give a resource coroutine method the ``timeout=`` and ``extra_headers=`` keywords, and
    its result the server's ``request_id`` (from the last answer the call read).

    The method declares both keywords in its signature (so users and type checkers see them);
    this wrapper applies them. With ``deadline=False`` the method applies ``timeout`` itself.
    """

    def decorate(method: F) -> F:
        what = method.__qualname__.replace("Resource.", ".").lower()

        @functools.wraps(method)
        async def call(*args: Any, **kwargs: Any) -> Any:
            timeout = kwargs.get("timeout") if deadline else None
            headers = kwargs.get("extra_headers")
            if timeout is None and headers is None:
                return _stamp(await method(*args, **kwargs))
            async with per_call_options(timeout, headers, f"client.{what}()"):
                return _stamp(await method(*args, **kwargs))

        return call  # type: ignore[return-value]

    return decorate
