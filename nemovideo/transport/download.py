"""Streaming a file to disk: never whole in memory, never half-written at the final path.

The bytes go to a hidden temporary file beside the destination; they are checked against the
transfer's own ``Content-Length`` and, for an MP4, against the file's own structure (its
top-level boxes reach exactly to the end and one of them is ``moov``), and only then is the file
renamed into place. A size the render job reported is a progress hint, never a check: the
documents show it once, in an early example. On any failure the temporary file is removed and
nothing appears at the destination.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import struct
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import aiohttp
from yarl import URL

from nemovideo.protocol.envelope import error_from_response
from nemovideo.protocol.errors import (
    APIConnectionError,
    APITimeoutError,
    ConfigurationError,
    InvalidResponseError,
)
from nemovideo.transport.durable import fsync_folder
from nemovideo.transport.wire import map_client_error, read_capped

__all__ = ["MIN_DOWNLOAD_RATE", "ProgressCallback", "download_to_path", "is_complete_mp4"]

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
    size_hint: int | None = None,
    max_size: int,
    read_timeout: float,
    connect_timeout: float,
    on_progress: ProgressCallback | None = None,
    expect_mp4: bool = False,
    request_options: Mapping[str, Any] | None = None,
) -> int:
    """Download ``url`` to ``dest`` atomically; return the number of bytes written.

    Args:
        size_hint: the size the API reported, for progress only while the transfer does not
            announce its own ``Content-Length``.
        expect_mp4: when the transfer announces no length (so a cut cannot be told from the
            end), check the file is a complete MP4 before moving it into place.
        request_options: more options for the GET (middlewares, proxy).

    Raises:
        ConfigurationError: the destination is unusable.
        InvalidResponseError: the body was shorter or longer than announced, over ``max_size``,
            or (``expect_mp4``) not a complete MP4.
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
            written, announced = await _stream(
                session,
                url,
                fh,
                headers,
                timeout,
                size_hint,
                max_size,
                on_progress,
                dict(request_options or {}),
            )
            # On disk before the rename, and the rename on disk after it: a crash then leaves
            # the whole file or none (synchronous: a thread could outlive a cancelled fh).
            fh.flush()
            os.fsync(fh.fileno())
        if expect_mp4 and announced is None and not await asyncio.to_thread(is_complete_mp4, tmp):
            raise InvalidResponseError(
                f"The download ended after {written} bytes without a complete MP4 (cut short?); "
                "nothing was saved. Try again."
            )
        os.replace(tmp, dest)
        fsync_folder(dest.parent)
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
    size_hint: int | None,
    max_size: int,
    on_progress: ProgressCallback | None,
    options: dict[str, Any],
) -> tuple[int, int | None]:
    async with session.get(url, headers=dict(headers), timeout=timeout, **options) as response:
        if response.status >= 400:
            body = await read_capped(response, 64 * 1024)
            raise error_from_response(response.status, body, response.headers)
        announced = response.content_length
        encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            announced = None  # the length of the compressed body, not of the file
        if announced is not None and announced > max_size:
            raise InvalidResponseError(
                f"The download announced {announced} bytes, over the {max_size}-byte limit "
                "(max_download_bytes); refusing it."
            )
        limit = announced if announced is not None else max_size
        hint = size_hint if size_hint is not None and size_hint > 0 else None
        total = announced if announced is not None else hint
        written = 0
        if on_progress is not None:
            on_progress(0, total)
        pace = _Pace(timeout.sock_read or 60.0)
        try:
            async for chunk in response.content.iter_chunked(_CHUNK):
                written += len(chunk)
                pace.check(written)
                if written > limit:
                    raise InvalidResponseError(
                        f"The download sent more than the {limit} bytes announced or allowed; "
                        "stopped and discarded it."
                    )
                fh.write(chunk)
                if on_progress is not None:
                    # A hint can be off: the total shown never drops below what has arrived.
                    on_progress(written, max(total, written) if total is not None else None)
        except aiohttp.ClientPayloadError:
            raise APIConnectionError(
                f"The download broke after {written} bytes; nothing was saved. Try again."
            ) from None
        if announced is not None and written != announced:
            raise InvalidResponseError(
                f"The download ended after {written} of {announced} bytes (truncated); "
                "nothing was saved. Try again."
            )
        if written == 0:
            raise InvalidResponseError("The download was empty; nothing was saved.")
        return written, announced


#: The least a download must average over each ``download_read`` window: a server dripping a
#: byte now and then never trips the per-read stall limit, but it trips this.
MIN_DOWNLOAD_RATE = 1024


class _Pace:
    """Fails a transfer whose average over a window (the read-stall limit) is a drip."""

    def __init__(self, window: float) -> None:
        self.window = window
        loop = asyncio.get_running_loop()
        self._clock = loop.time
        self._start = self._clock()
        self._base = 0

    def check(self, written: int) -> None:
        elapsed = self._clock() - self._start
        if elapsed < self.window:
            return
        if (written - self._base) / elapsed < MIN_DOWNLOAD_RATE:
            raise APITimeoutError(
                f"The download slowed to a drip (under {MIN_DOWNLOAD_RATE} bytes a second for "
                f"{elapsed:.0f} s); stopped, nothing was saved. Try again later.",
                request_sent=True,
            )
        self._start, self._base = self._clock(), written


_BOX_HEADER = struct.Struct(">I4s")
_LARGE_SIZE = struct.Struct(">Q")


def is_complete_mp4(path: str | os.PathLike[str]) -> bool:
    """Whether the file's top-level MP4 boxes run exactly to its end and include ``moov``.

    A body cut short mid-box leaves a box that claims more bytes than the file has; one cut
    exactly between boxes usually lacks ``moov`` (the index a player needs), which encoders
    write either first or last. Reads only the box headers.

    Example:
        >>> import tempfile
        >>> with tempfile.NamedTemporaryFile(suffix=".mp4", delete=False) as fh:
        ...     _ = fh.write(b"\x00\x00\x00\x08ftyp" + b"\x00\x00\x00\x08moov")
        >>> is_complete_mp4(fh.name)
        True
    """
    seen_moov = False
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        offset = 0
        while offset < size:
            if size - offset < 8:
                return False
            fh.seek(offset)
            box_size, kind = _BOX_HEADER.unpack(fh.read(8))
            header = 8
            if box_size == 1:  # a 64-bit size follows the type
                raw = fh.read(8)
                if len(raw) < 8:
                    return False
                box_size = _LARGE_SIZE.unpack(raw)[0]
                header = 16
            elif box_size == 0:  # "extends to the end of the file": only the last box may
                box_size = size - offset
            if box_size < header or offset + box_size > size:
                return False
            seen_moov = seen_moov or kind == b"moov"
            offset += box_size
    return seen_moov
