"""What stands in front of every handler: the request log, injected faults, error answers.

Also the one helper that sends file bytes (CDN and download fallback), which knows how to
truncate or drop a body on purpose.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import BinaryIO

from aiohttp import web
from aiohttp.typedefs import Middleware

from nemovideo.sandbox.core import (
    ATTRIBUTION_HEADERS,
    CORE,
    ApiError,
    Core,
    RequestContext,
    current,
    enter,
    has_attribution,
)
from nemovideo.sandbox.faults import FaultRule
from nemovideo.sandbox.store import CdnRequest, RequestRecord

__all__ = ["ROUTE_NAMES", "Handler", "gateway", "send_file"]

logger = logging.getLogger("nemovideo.sandbox")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: The fault route name of each registered resource (canonical path), filled by the apps.
ROUTE_NAMES: web.AppKey[dict[str, str]] = web.AppKey("nemovideo_sandbox_routes", dict)

_REASONS = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}
_CHUNK = 256 * 1024


def _route_of(request: web.Request) -> str | None:
    info = request.match_info
    if info.http_exception is not None:
        return None
    canonical = info.route.resource.canonical if info.route.resource else ""
    return request.app[ROUTE_NAMES].get(canonical)


def _error_page(rule: FaultRule) -> web.Response:
    status = rule.status
    reason = _REASONS.get(status, "Error")
    if rule.html:
        page = (
            f"<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
            f"<center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n"
            "</body>\r\n</html>\r\n"
        )
        return web.Response(status=status, text=page, content_type="text/html")
    return web.json_response({"code": status, "message": reason}, status=status)


async def _cut(request: web.Request, response: web.Response, rule: FaultRule) -> web.StreamResponse:
    """Send the headers and part of ``response``'s body, then break the connection."""
    body = bytes(response.body) if isinstance(response.body, (bytes, bytearray)) else b""
    out = web.StreamResponse(status=response.status, headers=response.headers)
    out.content_length = len(body)
    await out.prepare(request)
    sent = rule.after_bytes if rule.after_bytes is not None else len(body) // 2
    await out.write(body[: max(0, min(sent, len(body) - 1))])
    _break(request, rule)
    return out


def _break(request: web.Request, rule: FaultRule) -> None:
    transport = request.transport
    if transport is None:
        return
    if rule.kind == "truncate":
        transport.close()  # a clean close that leaves the announced length unmet
    else:
        transport.abort()


def _check_attribution(request: web.Request, route: str) -> None:
    """Every API request must carry the three ``X-Skill-*`` headers (API.md "Required headers").

    The render start decides for itself: the documented answer there is 402 for anonymous users.
    """
    if route == "render_start" or has_attribution(request.headers):
        return
    missing = ", ".join(n for n in ATTRIBUTION_HEADERS if not request.headers.get(n))
    raise ApiError(
        400,
        f"Missing attribution headers: {missing}. Every API request must carry X-Skill-Source, "
        "X-Skill-Version and X-Skill-Platform.",
    )


async def _apply(
    core: Core, request: web.Request, handler: Handler, rule: FaultRule | None
) -> web.StreamResponse:
    if rule is not None:
        if rule.kind == "rate_limit":
            retry = core.retry_after_header(rule.retry_after)
            raise ApiError(429, "Rate limited; slow down.", headers={"Retry-After": retry})
        if rule.kind == "http_error":
            return _error_page(rule)
        if rule.kind == "slow":
            await core.clock.sleep(rule.delay)
    response = await handler(request)
    if (
        rule is not None
        and rule.kind in ("drop_mid_body", "truncate")
        and isinstance(response, web.Response)
        and not response.prepared
    ):
        return await _cut(request, response, rule)
    return response


def gateway(*, cdn: bool) -> Middleware:
    """The middleware of the API app (``cdn=False``) or of the CDN app."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        core = request.app[CORE]
        route = "cdn" if cdn else _route_of(request)
        rule = core.faults.pick(route) if route is not None else None
        # Logged before the answer is sent, so a client that has read the whole body always
        # finds its request in the log; the status is filled in as soon as it is known.
        names = tuple(sorted({name.lower() for name in request.headers}))
        authorized = "Authorization" in request.headers
        attributed = any(name.startswith("x-skill-") for name in names)
        fault = rule.kind if rule is not None else None
        record: RequestRecord | CdnRequest
        if cdn:
            record = CdnRequest(
                request.method, request.path, 0, names, authorized, attributed, fault
            )
            core.cdn_requests.append(record)
        else:
            record = RequestRecord(
                request.method, request.path, route, 0, names, authorized, attributed, fault
            )
            core.requests.append(record)
        request_id = f"req_{core.next_number():010d}"
        enter(RequestContext(fault=rule, record=record, request_id=request_id))
        try:
            if not cdn and route is not None:
                _check_attribution(request, route)
            response = await _apply(core, request, handler, rule)
            record.status = response.status
            if not response.prepared:
                response.headers["X-Request-Id"] = request_id
            return response
        except ApiError as error:
            record.status = error.status(core.options.error_style)
            answer = error.response(core.options.error_style)
            answer.headers["X-Request-Id"] = request_id
            return answer
        except web.HTTPException as exc:
            record.status = exc.status
            raise
        except BaseException:
            record.status = 500
            raise

    return middleware


async def send_file(
    request: web.Request, source: bytes | Path, size: int, content_type: str
) -> web.StreamResponse:
    """Send a stored blob (bytes or a file) with its ``Content-Length``; honours ``truncate`` and
    ``drop_mid_body``."""
    rule = current().fault
    cut_at: int | None = None
    if rule is not None and rule.kind in ("truncate", "drop_mid_body"):
        wanted = rule.after_bytes if rule.after_bytes is not None else size // 2
        cut_at = max(0, min(wanted, size - 1))
    headers = {"Content-Type": content_type, "X-Request-Id": current().request_id}
    response = web.StreamResponse(headers=headers)
    response.content_length = size
    current().mark(response.status)
    await response.prepare(request)
    if request.method == "HEAD":
        return response
    if cut_at is None and (isinstance(source, bytes) or size <= _CHUNK):
        # A blob held in memory, or a small file from the page cache: one write on the loop
        # beats a hop to a worker thread for every read.
        if isinstance(source, Path):
            with source.open("rb") as small:
                source = small.read()
        await response.write(source)
        await response.write_eof()
        return response
    handle: BinaryIO
    if isinstance(source, bytes):
        handle = io.BytesIO(source)
    else:
        handle = await asyncio.to_thread(source.open, "rb")
    sent = 0
    try:
        while chunk := await asyncio.to_thread(handle.read, _CHUNK):
            if rule is not None and cut_at is not None and sent + len(chunk) >= cut_at:
                await response.write(chunk[: cut_at - sent])
                _break(request, rule)
                return response
            await response.write(chunk)
            sent += len(chunk)
    finally:
        handle.close()
    await response.write_eof()
    return response
