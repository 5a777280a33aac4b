"""What crosses the socket: reading a capped body, and naming aiohttp's failures in the SDK's terms.

Shared by the JSON transport and the file download, which must agree on both: an answer larger
than allowed is refused rather than buffered, and a failure says whether the request left.
"""

from __future__ import annotations

import asyncio

import aiohttp

from nemovideo.protocol.errors import (
    APIConnectionError,
    APITimeoutError,
    ConfigurationError,
    InvalidResponseError,
    NemoError,
)

__all__ = ["map_client_error", "read_capped"]


def map_client_error(exc: BaseException, *, what: str = "the request") -> NemoError:
    """Translate an aiohttp or socket failure into the SDK's error, saying whether it was sent.

    A failure to connect proves the request never left; anything later leaves it unknown.
    """
    name = type(exc).__name__
    detail = str(exc).split("\n", 1)[0][:200]
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return APITimeoutError(
            f"Timed out connecting for {what}; check the network and NEMO_API_URL.",
            request_sent=False,
        )
    if isinstance(exc, aiohttp.ClientConnectorError):
        return APIConnectionError(
            f"Could not connect for {what} ({name}: {detail}); check the network and the URL.",
            request_sent=False,
        )
    if isinstance(exc, (asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
        return APITimeoutError(
            f"The server did not answer {what} in time; it may still be working on it.",
            request_sent=None,
        )
    if isinstance(exc, aiohttp.InvalidURL):
        return ConfigurationError(f"Invalid URL for {what}: {detail}")
    return APIConnectionError(
        f"The connection broke during {what} ({name}: {detail}); the server may or may not "
        "have received it.",
        request_sent=None,
    )


async def read_capped(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """The whole body, refusing (not buffering) more than ``limit`` bytes."""
    declared = response.content_length
    if declared is not None:
        if declared > limit:
            raise InvalidResponseError(
                f"The server announced a {declared}-byte answer, over the {limit}-byte limit "
                "(max_body_bytes); refusing to read it.",
                http_status=response.status,
            )
        if response.headers.get("Content-Encoding", "identity").strip().lower() == "identity":
            # The parser stops at the declared length, so one read cannot pass the limit. (A
            # compressed body can expand past it: that is counted chunk by chunk below.)
            return await response.read()
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(1 << 16):
        size += len(chunk)
        if size > limit:
            raise InvalidResponseError(
                f"The server's answer grew past {limit} bytes (max_body_bytes); stopped reading.",
                http_status=response.status,
            )
        chunks.append(chunk)
    return b"".join(chunks)
