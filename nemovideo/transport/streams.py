"""Opening the chat stream: one POST of work, a streaming answer handed over unread.

Only refusals (429, an expired anonymous token) and failures to connect are retried: once the
request may have reached the server it is never sent again (the message would run, and be
charged, twice). Reading the events is the chat resource's business.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

import aiohttp

from nemovideo.protocol.envelope import decode_answer, error_from_response
from nemovideo.protocol.errors import InvalidResponseError, NemoError
from nemovideo.transport.calls import current_headers, note_request_id
from nemovideo.transport.retry import RequestKind, RetryPolicy
from nemovideo.transport.wire import map_client_error, read_capped

if TYPE_CHECKING:
    from nemovideo.transport.http import HTTPTransport

__all__ = ["open_stream"]


@contextlib.asynccontextmanager
async def open_stream(
    transport: HTTPTransport,
    path: str,
    *,
    json: Any,
    headers: Mapping[str, str] | None = None,
    retry: RetryPolicy | None = None,
    what: str = "the chat message",
) -> AsyncIterator[aiohttp.ClientResponse]:
    """POST ``json`` to ``path`` and hand over the streaming response (status 2xx), closed
    when the block ends.

    Raises:
        NemoError: the refusal mapped from the answer (after the retries refusals allow).
    """
    policy = retry or transport.config.retry
    timeouts = transport.config.timeouts
    client_timeout = aiohttp.ClientTimeout(
        total=None,
        connect=timeouts.connect,
        sock_connect=timeouts.connect,
        sock_read=timeouts.stream_read,
    )

    async def send(request_headers: dict[str, str]) -> aiohttp.ClientResponse:
        return await _start(transport, path, json, request_headers, client_timeout, what)

    response = await transport.run_with_retries(
        send,
        kind=RequestKind.WORK,
        policy=policy,
        authenticated=True,
        extra_headers={**(current_headers() or {}), **(headers or {})},
    )
    try:
        yield response
    finally:
        response.close()


async def _start(
    transport: HTTPTransport,
    path: str,
    json: Any,
    headers: dict[str, str],
    client_timeout: aiohttp.ClientTimeout,
    what: str,
) -> aiohttp.ClientResponse:
    url = transport.url(path)
    try:
        response = await transport.session().post(
            url,
            json=json,
            headers=headers,
            timeout=client_timeout,
            middlewares=transport.request_middlewares(),
            **transport.proxies.options(url),
        )
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
        raise map_client_error(exc, what=what) from None
    if 200 <= response.status < 300 and response.content_type != "application/json":
        note_request_id(response.headers)
        return response
    try:
        body = await read_capped(response, transport.config.max_body_bytes)
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError, NemoError):
        body = b""
    finally:
        response.close()
    if 200 <= response.status < 300:
        # A gateway may refuse with an enveloped JSON error on HTTP 200 instead of a stream.
        decode_answer(response.status, response.headers, body)
        raise InvalidResponseError(
            f"Expected an event stream for {what}, got a JSON answer.",
            http_status=response.status,
        )
    raise error_from_response(response.status, body, response.headers)
