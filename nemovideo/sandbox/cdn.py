"""The CDN origin: serves uploads and renders WITHOUT a token, on its own port.

Being a different origin from the API is the point: a client that sends its bearer token or
attribution headers here is caught by ``sandbox.cdn_requests`` (``had_authorization``).
"""

from __future__ import annotations

from aiohttp import web

from nemovideo.sandbox.core import CORE
from nemovideo.sandbox.gateway import send_file

__all__ = ["media_file", "render_file"]


async def media_file(request: web.Request) -> web.StreamResponse:
    """``GET /media/<media_id>/<name>``: an uploaded file."""
    core = request.app[CORE]
    record = core.media.get(request.match_info["media_id"])
    key = record.blob_key if record is not None else None
    size = core.blobs.size(key) if key is not None else None
    if record is None or key is None or size is None:
        raise web.HTTPNotFound(text="Not Found")
    source = core.blobs.source(key)
    if source is None:
        raise web.HTTPNotFound(text="Not Found")
    return await send_file(request, source, size, record.mime)


async def render_file(request: web.Request) -> web.StreamResponse:
    """``GET /renders/<name>.mp4``: a finished render."""
    core = request.app[CORE]
    key = f"renders/{request.match_info['name']}"
    size = core.blobs.size(key)
    if size is None:
        raise web.HTTPNotFound(text="Not Found")
    return await send_file(request, core.blobs.path(key), size, "video/mp4")
