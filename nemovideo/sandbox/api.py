"""The enveloped JSON endpoints: tokens, claim links, sessions, credits, state and uploads.

An upload by URL of another site is fetched (http(s), at most ``upload_limit`` bytes, within
:data:`URL_FETCH_TIMEOUT`) and stored as if uploaded, so it renders as the picture it is. A URL
that cannot be fetched fails the upload: HTTP 422 ``{"code": 422, "message": "Could not fetch
..."}`` (4001 if what it serves is no accepted media, 4002 if it is too large); nothing is
recorded for it.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import aiohttp
from aiohttp import BodyPartReader, web

from nemovideo.protocol.errors import FileTooLargeError, UnsupportedFileTypeError
from nemovideo.protocol.files import HEAD_BYTES, FileType, check_upload, type_from_name
from nemovideo.sandbox import media
from nemovideo.sandbox.blobs import IN_MEMORY_BYTES
from nemovideo.sandbox.core import CORE, TOKEN_LIFETIME, ApiError, Core
from nemovideo.sandbox.store import MediaRecord, SessionRecord, TokenRecord, empty_draft

__all__ = ["ROUTES", "URL_FETCH_TIMEOUT", "ok", "read_json"]

#: Real seconds (not simulated) one URL upload may take to fetch: connecting, and the whole body.
URL_FETCH_TIMEOUT = aiohttp.ClientTimeout(total=60, sock_connect=10, sock_read=20)
_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})

_CLIENT_ID = re.compile(r"^[\x21-\x7e]{1,64}$")
_SAFE_NAME = re.compile(r"[^\w .()-]+")


def ok(data: Any) -> web.Response:
    """The success envelope ``{"code": 0, "message": "success", "data": ...}``."""
    return web.json_response({"code": 0, "message": "success", "data": data})


async def read_json(request: web.Request, *, required: bool = True) -> dict[str, Any]:
    """The request's JSON object body; HTTP 422 when it is not one (``{}`` if optional)."""
    raw = await request.read()
    if not raw.strip() and not required:
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(422, "The body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise ApiError(422, "The body must be a JSON object.")
    return body


def _text(body: dict[str, Any], key: str, default: str) -> str:
    value = body.get(key, default)
    if not isinstance(value, str) or not value.strip():
        raise ApiError(422, f"'{key}' must be a non-empty string.")
    return value


async def anonymous_token(request: web.Request) -> web.Response:
    """``POST /api/auth/anonymous-token``: one token per client id per 7 days."""
    core = request.app[CORE]
    client_id = request.headers.get("X-Client-Id", "").strip()
    if not client_id:
        raise ApiError(400, "Missing X-Client-Id header.")
    if not _CLIENT_ID.match(client_id):
        raise ApiError(400, "X-Client-Id must be at most 64 printable characters.")
    record = core.issue_anonymous(client_id, request.remote or "unknown")
    expires = record.expires_at or record.issued_at + TOKEN_LIFETIME
    return ok(
        {
            "token": record.token,
            "credits": record.account.available,
            "user_id": record.account.user_id,
            "expires_at": int(expires),
            "expires_in": max(0, int(expires - core.clock.now())),
        }
    )


async def claim_token(request: web.Request) -> web.Response:
    """``POST /api/auth/claim-token``: a browser link's claim token for a session's work."""
    core = request.app[CORE]
    token = core.authenticate(request, "read")
    body = await read_json(request)
    session = core.session_of(token, _text(body, "session_id", ""))
    task_id = body.get("task_id")
    if task_id is not None and str(task_id) != session.task_id:
        raise ApiError(1002, f"Session not found for task {task_id}")
    claim = core.new_id("clm_", 16)
    core.claims[claim] = session.session_id
    return ok({"claim_token": claim, "expires_in": 604800})


async def create_session(request: web.Request) -> web.Response:
    """``POST /api/tasks/me/with-session/nemo_agent``: a task and its chat session."""
    core = request.app[CORE]
    token = core.authenticate(request, "write")
    body = await read_json(request, required=False)
    session_id = str(core.rng.randrange(10**18, 10**19))
    session = SessionRecord(
        session_id=session_id,
        task_id=core.new_id("", 16),
        task_name=_text(body, "task_name", "project"),
        language=_text(body, "language", "en"),
        owner=token.account.user_id,
        rng=_session_random(core, session_id),
        draft=empty_draft(),
        updated_at=core.clock.now(),
    )
    core.sessions[session_id] = session
    return ok({"task_id": session.task_id, "session_id": session_id, "user_id": session.owner})


def _session_random(core: Core, session_id: str) -> Any:
    import random

    # Per-session generators keep a seeded scenario's choices independent of interleaving.
    return random.Random(f"{core.options.seed}:{session_id}")


async def credits(request: web.Request) -> web.Response:
    """``GET /api/credits/balance/simple``."""
    core = request.app[CORE]
    token = core.authenticate(request, "read")
    return ok(token.account.credits_payload())


async def state(request: web.Request) -> web.Response:
    """``GET /api/state/nemo_agent/me/<sid>/latest``."""
    core = request.app[CORE]
    token = core.authenticate(request, "read")
    session = core.session_of(token, request.match_info["sid"])
    return ok(session.state_payload(analyses=core.options.video_analyses))


def _safe_name(filename: str, fallback: str) -> str:
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    safe = _SAFE_NAME.sub("_", base).strip("._")
    return safe[:120] or fallback


async def _read_part(core: Core, part: BodyPartReader) -> tuple[bytes, int]:
    """The part's bytes (up to the limit) and its full size (the rest is drained)."""
    limit = core.options.upload_limit
    data = bytearray()
    size = 0
    while chunk := await part.read_chunk(256 * 1024):
        size += len(chunk)
        if size <= limit:
            data += chunk
        elif len(data) != HEAD_BYTES:  # over the limit: keep only what sniffing needs
            data = bytearray((data + chunk)[:HEAD_BYTES])
    return bytes(data), size


def _file_type(filename: str | None, head: bytes, size: int, limit: int) -> FileType:
    try:
        return check_upload(filename, head, size, limit=limit)
    except UnsupportedFileTypeError as exc:
        raise ApiError(4001, exc.message) from None
    except FileTooLargeError as exc:
        raise ApiError(4002, exc.message) from None


def _check(filename: str | None, head: bytes, size: int, limit: int) -> tuple[str, str]:
    found = _file_type(filename, head, size, limit)
    return found.kind.value, found.mime


async def _store(
    core: Core, filename: str, data: bytes, kind: str, mime: str, source: str
) -> MediaRecord:
    media_id = core.new_id("m_", 10)
    # One folder for every upload (a folder per upload would cost a mkdir each time).
    key = f"media/{media_id}-{filename}"
    if len(data) <= IN_MEMORY_BYTES:
        # Kept in memory: stored on the loop, and only an unknown probe needs FFmpeg's thread.
        core.blobs.put(key, data)
        found = media.known_probe(data, kind)
        if found is None:
            found = await asyncio.to_thread(media.probe_bytes, data, kind)
    else:

        def store_and_probe() -> media.Probe:
            core.blobs.put(key, data)
            return media.probe_bytes(data, kind)

        found = await asyncio.to_thread(store_and_probe)
    record = MediaRecord(
        media_id=media_id,
        filename=filename,
        file_type=kind,
        mime=mime,
        cdn_url=f"{core.cdn_url}/media/{media_id}/{quote(filename)}",
        blob_key=key,
        size=len(data),
        duration=found.duration,
        width=found.width,
        height=found.height,
        source=source,
    )
    core.media[media_id] = record
    return record


async def _multipart_files(core: Core, request: web.Request) -> list[MediaRecord]:
    reader = await request.multipart()
    accepted: list[tuple[str, bytes, str, str]] = []
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader) or part.name != "files":
            continue  # other form fields are ignored, as by the service
        data, size = await _read_part(core, part)
        number = len(accepted) + 1
        filename = part.filename
        kind, mime = _check(filename, data[:HEAD_BYTES], size, core.options.upload_limit)
        ext = (type_from_name(filename) if filename else None) or None
        fallback = f"upload_{number}.{ext.name if ext else mime.rsplit('/', 1)[-1]}"
        accepted.append((_safe_name(filename or "", fallback), data, kind, mime))
    if not accepted:
        raise ApiError(422, "No file parts named 'files' in the upload.")
    return [
        await _store(core, name, data, kind, mime, "upload") for name, data, kind, mime in accepted
    ]


async def _fetch(core: Core, url: str) -> tuple[bytes, str | None]:
    """The bytes behind ``url`` (at most the upload limit) and the name its path gives."""
    limit = core.options.upload_limit
    host = (urlsplit(url).hostname or "").lower()
    # Proxies from the environment, as any HTTP client; never for loopback (local test servers).
    trust_env = host not in _LOOPBACK_HOSTS and not host.startswith("127.")
    where = url if len(url) <= 200 else url[:200] + "..."
    try:
        async with (
            aiohttp.ClientSession(timeout=URL_FETCH_TIMEOUT, trust_env=trust_env) as http,
            http.get(url) as resp,
        ):
            if resp.status != 200:
                raise ApiError(422, f"Could not fetch {where}: HTTP {resp.status}.")
            if resp.content_length is not None and resp.content_length > limit:
                raise ApiError(4002, f"{where} is {resp.content_length} bytes, over the "
                                     f"upload limit of {limit} bytes.")  # fmt: skip
            data = bytearray()
            async for chunk in resp.content.iter_chunked(256 * 1024):
                data += chunk
                if len(data) > limit:
                    raise ApiError(4002, f"{where} is over the upload limit of {limit} bytes.")
            name = unquote(resp.url.path.rstrip("/").rsplit("/", 1)[-1]) or None
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
        reason = "timed out" if isinstance(exc, asyncio.TimeoutError) else str(exc) or repr(exc)
        raise ApiError(422, f"Could not fetch {where}: {reason}.") from None
    return bytes(data), name


async def _fetched(core: Core, url: str) -> MediaRecord:
    """An upload of another site's URL: fetched, checked by content and stored."""
    data, name = await _fetch(core, url)
    named = name if name is not None and type_from_name(name) is not None else None
    found = _file_type(named, data[:HEAD_BYTES], len(data), core.options.upload_limit)
    if named is None:  # no usable extension in the URL: name it after its content
        named = f"{(name or 'remote').rsplit('.', 1)[0]}.{found.name}"
    filename = _safe_name(named, f"remote.{found.name}")
    return await _store(core, filename, data, found.kind.value, found.mime, "url")


async def _from_url(core: Core, url: str) -> MediaRecord:
    """A URL upload. URLs of this sandbox's CDN reuse the stored bytes; others are fetched."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ApiError(4001, f"Only http(s) URLs can be uploaded, not {url[:80]!r}.")
    if core.cdn_url and url.startswith(core.cdn_url + "/media/"):
        media_id = parts.path.split("/")[2] if parts.path.count("/") >= 3 else ""
        known = core.media.get(media_id)
        if known is None or known.blob_key is None or core.blobs.size(known.blob_key) is None:
            raise ApiError(4001, "The URL points at nothing this CDN serves.")
        new_id = core.new_id("m_", 10)
        copy = MediaRecord(
            new_id,
            known.filename,
            known.file_type,
            known.mime,
            known.cdn_url,
            known.blob_key,
            known.size,
            known.duration,
            known.width,
            known.height,
            "url",
        )
        core.media[new_id] = copy
        return copy
    return await _fetched(core, url)


async def upload(request: web.Request) -> web.Response:
    """``POST /api/upload-video/nemo_agent/me/<sid>``: multipart ``files`` or JSON ``urls``."""
    core = request.app[CORE]
    token: TokenRecord = core.authenticate(request, "upload")
    session = core.session_of(token, request.match_info["sid"])
    if request.content_type.startswith("multipart/"):
        records = await _multipart_files(core, request)
    elif request.content_type == "application/json":
        body = await read_json(request)
        urls = body.get("urls")
        if not isinstance(urls, list) or not urls or not all(isinstance(u, str) for u in urls):
            raise ApiError(422, "'urls' must be a non-empty list of strings.")
        records = [await _from_url(core, url) for url in urls]
    else:
        raise ApiError(422, "Upload as multipart/form-data (parts named 'files') or JSON urls.")
    session.media.extend(records)
    session.updated_at = core.clock.now()
    return ok({"files": [r.file_payload() for r in records], "session_state_applied": True})


#: (method, path, handler, fault route name) of every endpoint in this module.
ROUTES: list[tuple[str, str, Any, str]] = [
    ("POST", "/api/auth/anonymous-token", anonymous_token, "token"),
    ("POST", "/api/auth/claim-token", claim_token, "claim"),
    ("POST", "/api/tasks/me/with-session/nemo_agent", create_session, "session"),
    ("GET", "/api/credits/balance/simple", credits, "credits"),
    ("GET", "/api/state/nemo_agent/me/{sid}/latest", state, "state"),
    ("POST", "/api/upload-video/nemo_agent/me/{sid}", upload, "upload"),
]
