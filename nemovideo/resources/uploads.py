"""Uploads: local files (paths, bytes, binary file objects) streamed as multipart, and URLs.

Every file is checked before anything is sent: extension and magic bytes against the accepted
types (4001) and size against the limit (4002), so a wrong file fails fast with a useful message.
Files are streamed from disk in chunks; a 200 MB upload never sits in memory.
"""

from __future__ import annotations

import asyncio
import io
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, Union

import aiohttp
from aiohttp.abc import AbstractStreamWriter
from aiohttp.payload import Payload

from nemovideo.protocol.converter import structure
from nemovideo.protocol.errors import ConfigurationError
from nemovideo.protocol.files import HEAD_BYTES, check_upload
from nemovideo.protocol.inputs import as_upload_item
from nemovideo.protocol.models import UploadedFile, UploadResult
from nemovideo.resources._paths import session_path
from nemovideo.transport.calls import per_call
from nemovideo.transport.http import HTTPTransport
from nemovideo.transport.retry import RequestKind, RetryPolicy

__all__ = ["FileInput", "UploadResource"]

#: What ``upload.files()`` takes: a path, bytes, a binary file object, or (filename, bytes or file).
FileInput = Union[
    str,
    "os.PathLike[str]",
    bytes,
    bytearray,
    memoryview,
    IO[bytes],
    tuple[str, bytes | IO[bytes]],
]

#: Called with (bytes sent, total bytes).
UploadProgress = Callable[[int, int], object]

_CHUNK = 1 << 18
_UPLOAD_PATH = "/api/upload-video/nemo_agent/me/{}"
_STATE_PATH = "/api/state/nemo_agent/me/{}/latest"


class _Progress:
    def __init__(self, total: int, callback: UploadProgress | None) -> None:
        self.total = total
        self.sent = 0
        self.callback = callback

    def add(self, count: int) -> None:
        self.sent += count
        if self.callback is not None:
            self.callback(self.sent, self.total)


class _Source:
    """One checked file: where its bytes come from, its name, size and MIME type."""

    def __init__(
        self, filename: str, size: int, mime: str, path: Path | None, data: Any, start: int
    ) -> None:
        self.filename = filename
        self.size = size
        self.mime = mime
        self.path = path
        self.data = data  # bytes-like or a seekable binary file object, when no path
        self.start = start

    @classmethod
    def from_input(cls, item: Any, limit: int) -> _Source:
        item = as_upload_item(item, limit)  # a data: URI or a PIL image: (filename, bytes)
        filename: str | None = None
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
            filename, item = item
        if isinstance(item, (str, os.PathLike)):
            return cls._from_path(Path(item), limit)
        if isinstance(item, (bytes, bytearray, memoryview)):
            data = bytes(item) if isinstance(item, memoryview) else item
            found = check_upload(filename, bytes(data[:HEAD_BYTES]), len(data), limit=limit)
            name = filename or f"upload.{found.name}"
            return cls(name, len(data), found.mime, None, data, 0)
        if hasattr(item, "read"):
            return cls._from_file(item, filename, limit)
        raise ConfigurationError(
            f"Cannot upload a {type(item).__name__}: pass a file path, bytes, a binary file "
            "object opened with 'rb', or a (filename, bytes) pair."
        )

    @classmethod
    def _from_path(cls, path: Path, limit: int) -> _Source:
        try:
            size = path.stat().st_size
            if path.is_dir():
                raise ConfigurationError(f"{path} is a folder; pass the path of a file in it.")
            with open(path, "rb") as fh:
                head = fh.read(HEAD_BYTES)
        except FileNotFoundError:
            raise ConfigurationError(f"No such file: {path}. Check the path.") from None
        except PermissionError:
            raise ConfigurationError(f"Cannot read {path}: permission denied.") from None
        found = check_upload(path.name, head, size, limit=limit)
        return cls(path.name, size, found.mime, path, None, 0)

    @classmethod
    def _from_file(cls, fh: Any, filename: str | None, limit: int) -> _Source:
        if isinstance(fh, io.TextIOBase):
            raise ConfigurationError("The file is open in text mode; open it with 'rb'.")
        try:
            start = fh.tell()
            fh.seek(0, os.SEEK_END)
            size = fh.tell() - start
            fh.seek(start)
            head = fh.read(HEAD_BYTES)
            fh.seek(start)
        except (OSError, AttributeError, ValueError):
            raise ConfigurationError(
                "The file object cannot seek (a pipe or socket?); pass a path or the bytes instead."
            ) from None
        if not isinstance(head, bytes):
            raise ConfigurationError("The file object returned text; open it with 'rb'.")
        name = filename or os.path.basename(str(getattr(fh, "name", "") or ""))
        found = check_upload(name or None, head, size, limit=limit)
        return cls(name or f"upload.{found.name}", size, found.mime, None, fh, start)


class _MediaPayload(Payload):
    """A multipart part that streams one source and reports progress as bytes leave."""

    def __init__(self, source: _Source, progress: _Progress) -> None:
        super().__init__(source, content_type=source.mime, filename=source.filename)
        self._source = source
        self._progress = progress
        self._size = source.size
        # The name as UTF-8 (RFC 7578), not percent-escaped: "été.jpg" stays "été.jpg".
        self.set_content_disposition(
            "form-data", quote_fields=False, name="files", filename=source.filename
        )

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        raise TypeError("A media upload is binary and has no text form.")

    async def write(self, writer: AbstractStreamWriter) -> None:
        source = self._source
        if source.path is None and not hasattr(source.data, "read"):
            view = memoryview(source.data)
            for offset in range(0, len(view), _CHUNK):
                chunk = view[offset : offset + _CHUNK]
                await writer.write(bytes(chunk))
                self._progress.add(len(chunk))
            return
        loop = asyncio.get_running_loop()
        if source.path is not None:
            # Opened here, not in a thread: a cancellation between a threaded open and the
            # try block below would leak the file.
            fh: Any = open(source.path, "rb")  # noqa: ASYNC230, SIM115
        else:
            fh = source.data
            fh.seek(source.start)
        try:
            remaining = source.size
            while remaining > 0:
                chunk = await loop.run_in_executor(None, fh.read, min(_CHUNK, remaining))
                if not chunk:
                    raise ConfigurationError(
                        f"{source.filename} shrank while it was being uploaded; upload it again."
                    )
                remaining -= len(chunk)
                await writer.write(chunk)
                self._progress.add(len(chunk))
        finally:
            if source.path is not None:
                fh.close()

    async def write_with_length(
        self, writer: AbstractStreamWriter, content_length: int | None
    ) -> None:
        await self.write(writer)


class UploadResource:
    """``client.upload``: ``files(session_id, *items)`` and ``urls(session_id, urls)``."""

    def __init__(self, transport: HTTPTransport) -> None:
        self._transport = transport

    def check(self, *items: FileInput) -> list[str]:
        """Check files without sending them; return their names. Raises like :meth:`files`."""
        limit = self._transport.config.upload_limit
        return [_Source.from_input(item, limit).filename for item in items]

    @per_call()
    async def files(
        self,
        session_id: str,
        *items: FileInput,
        on_progress: UploadProgress | None = None,
        retry: RetryPolicy | None = None,
        timeout: float | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> UploadResult:
        """Upload one or more local files into the session.

        Args:
            session_id: the session to upload into.
            items: paths, bytes, binary file objects, or ``(filename, bytes)`` pairs.
            on_progress: called with ``(bytes sent, total bytes)`` as the upload goes.

        Example:
            >>> result = await client.upload.files(sid, "sunset.jpg")  # doctest: +SKIP
            >>> result.files[0].file_type  # doctest: +SKIP
            'image'

        The server may stay silent for minutes after the last byte while it stores and probes
        the file: ``Timeouts.upload_processing`` (10 minutes) bounds that silence. If the upload
        times out or breaks anyway, :meth:`landed` tells whether the session got the file
        before anything is sent again.

        Raises:
            UnsupportedFileTypeError: (4001) an extension or content is not an accepted type.
            FileTooLargeError: (4002) a file is over the upload limit (200 MB by default).
            ConfigurationError: a path does not exist, or nothing was given.
            APITimeoutError: the server stayed silent longer than ``upload_processing``.
        """
        if not items:
            raise ConfigurationError("upload.files() needs at least one file.")
        limit = self._transport.config.upload_limit
        sources = [_Source.from_input(item, limit) for item in items]
        total = sum(s.size for s in sources)

        def body() -> aiohttp.MultipartWriter:
            progress = _Progress(total, on_progress)
            writer = aiohttp.MultipartWriter("form-data")
            for source in sources:
                writer.append_payload(_MediaPayload(source, progress))
            return writer

        answer = await self._transport.request(
            "POST",
            session_path(_UPLOAD_PATH, session_id),
            kind=RequestKind.WORK,
            body=body,
            retry=retry,
            long=True,
            what="the upload",
        )
        return structure(answer, UploadResult)

    @per_call()
    async def urls(
        self,
        session_id: str,
        urls: str | Sequence[str] | Iterable[str],
        *,
        retry: RetryPolicy | None = None,
        timeout: float | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> UploadResult:
        """Have the service fetch media from public URLs into the session.

        The service downloads the file before it answers, so this request may last minutes:
        ``Timeouts.url_upload`` (15 minutes) bounds it, not the ordinary ``request`` limit.

        Raises:
            ConfigurationError: a URL is not an absolute http(s) URL.
            APITimeoutError: no answer within ``url_upload``; check :meth:`landed` before
                sending the URL again.
        """
        items = [urls] if isinstance(urls, str) else list(urls)
        if not items:
            raise ConfigurationError("upload.urls() needs at least one URL.")
        for url in items:
            if not isinstance(url, str) or not url.lower().startswith(("http://", "https://")):
                raise ConfigurationError(
                    f"Not an http(s) URL: {str(url)[:80]!r}. Pass absolute http(s) URLs, or "
                    "local files with upload.files()."
                )
        answer = await self._transport.request(
            "POST",
            session_path(_UPLOAD_PATH, session_id),
            kind=RequestKind.WORK,
            json={"urls": items, "source_type": "url"},
            retry=retry,
            timeout=self._transport.config.timeouts.url_upload,
            what="the URL upload",
        )
        return structure(answer, UploadResult)

    @per_call()
    async def landed(
        self,
        session_id: str,
        *,
        known: int = 0,
        retry: RetryPolicy | None = None,
        timeout: float | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> UploadResult | None:
        """After an upload timed out or broke: the media the session gained, from its state.

        An upload is work: it is never repeated blindly. A timed-out one may well have
        landed (the server kept processing after the client stopped waiting), and the state
        says so. ``known`` is how many media the session listed before the upload (0 for a new
        session); the media past that are returned, or ``None`` when there are none (sending
        the upload again is then safe).

        Example:
            >>> try:  # doctest: +SKIP
            ...     result = await client.upload.files(sid, "big.mp4")
            ... except (APITimeoutError, APIConnectionError, ServerError):
            ...     result = await client.upload.landed(sid) or await client.upload.files(
            ...         sid, "big.mp4"
            ...     )

        Raises:
            SessionNotFoundError: the session does not exist.
        """
        answer: Any = await self._transport.request(
            "GET",
            session_path(_STATE_PATH, session_id),
            kind=RequestKind.READ,
            retry=retry,
            what="checking whether the upload landed",
        )
        flat = dict(answer) if isinstance(answer, dict) else {}
        inner = flat.get("state")
        infos = (inner if isinstance(inner, dict) else flat).get("video_infos")
        media = [m for m in infos if isinstance(m, dict)] if isinstance(infos, list) else []
        new = [_uploaded(m) for m in media[max(0, known) :]]
        return UploadResult(files=tuple(new), session_state_applied=True) if new else None


def _uploaded(info: dict[str, Any]) -> UploadedFile:
    """A state's ``video_infos`` entry read as an upload answer's file (fields vary by version)."""

    def text(*keys: str) -> str | None:
        for key in keys:
            value = info.get(key)
            if isinstance(value, str) and value:
                return value
        return None

    def number(key: str) -> Any:
        value = info.get(key)
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return value if ok else None

    width, height = number("width"), number("height")
    return UploadedFile(
        filename=text("filename", "name", "file_name") or "",
        file_type=text("file_type", "type", "media_type") or "",
        cdn_url=text("cdn_url", "url", "source_url"),
        duration=number("duration"),
        width=int(width) if width is not None else None,
        height=int(height) if height is not None else None,
    )
