"""Streaming a file to disk: never whole in memory, never half-written at the final path.

The bytes go to a hidden temporary file beside the destination; its size is checked against
what the server announced (and what the render job reported), and only then is it renamed into
place. On any failure the temporary file is removed and nothing appears at the destination.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import BinaryIO

import aiohttp
from yarl import URL

from nemovideo.protocol.envelope import error_from_response
from nemovideo.protocol.errors import (
    APIConnectionError,
    ConfigurationError,
    InvalidResponseError,
)
from nemovideo.transport.http import map_client_error, read_capped

__all__ = ["ProgressCallback", "download_to_path"]

#: Called with (bytes done, total bytes or None).
ProgressCallback = Callable[[int, "int | None"], object]

_CHUNK = 1 << 20


def _temp_path(dest: Path) -> Path:
    return dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:12]}.part")


def _check_destination(dest: Path) -> None:
    if dest.exists() and dest.is_dir():
        raise ConfigurationError(f"The download destination {dest} is a folder; give a file path.")
    if not dest.parent.is_dir():
        raise ConfigurationError(
            f"The folder {dest.parent} does not exist; create it or choose another destination."
        )


async def download_to_path(
    session: aiohttp.ClientSession,
    url: URL,
    dest: Path,
    *,
    headers: Mapping[str, str],
    expected_size: int | None = None,
    max_size: int,
    read_timeout: float,
    connect_timeout: float,
    on_progress: ProgressCallback | None = None,
) -> int:
    """Download ``url`` to ``dest`` atomically; return the number of bytes written.

    Raises:
        ConfigurationError: the destination is unusable.
        InvalidResponseError: the body was shorter or longer than announced, or over ``max_size``.
        APIConnectionError: the connection broke (nothing is left at ``dest``).
        NemoError: the server refused (mapped from its status).
    """
    _check_destination(dest)
    timeout = aiohttp.ClientTimeout(
        total=None, sock_connect=connect_timeout, connect=connect_timeout, sock_read=read_timeout
    )
    tmp = _temp_path(dest)
    done = False
    try:
        # Opening a local file is instant; chunks then go to the page cache in microseconds.
        with open(tmp, "wb") as fh:  # noqa: ASYNC230
            written = await _stream(
                session, url, fh, headers, timeout, expected_size, max_size, on_progress
            )
        os.replace(tmp, dest)
        done = True
        return written
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
        if isinstance(exc, OSError) and not isinstance(exc, ConnectionError) and exc.filename:
            raise ConfigurationError(
                f"Cannot write the download to {dest}: {exc.strerror}. Check the folder's "
                "permissions and free space."
            ) from None
        raise map_client_error(exc, what="the download") from None
    finally:
        if not done:
            with contextlib.suppress(OSError):
                tmp.unlink()


async def _stream(
    session: aiohttp.ClientSession,
    url: URL,
    fh: BinaryIO,
    headers: Mapping[str, str],
    timeout: aiohttp.ClientTimeout,
    expected_size: int | None,
    max_size: int,
    on_progress: ProgressCallback | None,
) -> int:
    async with session.get(url, headers=dict(headers), timeout=timeout) as response:
        if response.status >= 400:
            body = await read_capped(response, 64 * 1024)
            raise error_from_response(response.status, body, response.headers)
        announced = response.content_length
        limit = min(x for x in (announced, expected_size, max_size) if x is not None)
        if expected_size is not None and announced is not None and announced != expected_size:
            raise InvalidResponseError(
                f"The download announced {announced} bytes but the render reported "
                f"{expected_size}; refusing a file that may be wrong."
            )
        total = announced if announced is not None else expected_size
        written = 0
        if on_progress is not None:
            on_progress(0, total)
        try:
            async for chunk in response.content.iter_chunked(_CHUNK):
                written += len(chunk)
                if written > limit:
                    raise InvalidResponseError(
                        f"The download sent more than the {limit} bytes announced or allowed; "
                        "stopped and discarded it."
                    )
                fh.write(chunk)
                if on_progress is not None:
                    on_progress(written, total)
        except aiohttp.ClientPayloadError:
            raise APIConnectionError(
                f"The download broke after {written} bytes; nothing was saved. Try again."
            ) from None
        expected = announced if announced is not None else expected_size
        if expected is not None and written != expected:
            raise InvalidResponseError(
                f"The download ended after {written} of {expected} bytes (truncated); "
                "nothing was saved. Try again."
            )
        if written == 0:
            raise InvalidResponseError("The download was empty; nothing was saved.")
        return written
