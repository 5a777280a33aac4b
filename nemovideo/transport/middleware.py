"""aiohttp client middlewares: attribution headers, and request logging without secrets."""

from __future__ import annotations

import logging
import time

from aiohttp import ClientHandlerType, ClientRequest, ClientResponse
from yarl import URL

from nemovideo.transport.config import Attribution

__all__ = ["AttributionMiddleware", "LoggingMiddleware"]

logger = logging.getLogger("nemovideo.http")


class AttributionMiddleware:
    """Adds ``X-Skill-Source``, ``X-Skill-Version`` and ``X-Skill-Platform`` to API requests.

    Only requests to the API's own origin get them: a CDN download or a redirect to another
    host never carries them (nor the bearer token, which aiohttp drops on such redirects).
    Without them the backend treats the caller as unknown and anonymous exports fail with 402.
    """

    def __init__(self, api_url: URL, attribution: Attribution) -> None:
        self._origin = api_url.origin()
        self._headers = attribution.headers()

    async def __call__(self, request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        if request.url.origin() == self._origin:
            for name, value in self._headers.items():
                request.headers.setdefault(name, value)
        else:
            for name in self._headers:
                request.headers.popall(name, None)
        return await handler(request)


class LoggingMiddleware:
    """Logs method, path, status and time at DEBUG. Never headers, bodies or query strings."""

    async def __call__(self, request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        if not logger.isEnabledFor(logging.DEBUG):
            return await handler(request)
        started = time.perf_counter()
        where = f"{request.url.host}{request.url.path}"
        try:
            response = await handler(request)
        except BaseException as exc:
            logger.debug("%s %s failed: %s", request.method, where, type(exc).__name__)
            raise
        elapsed = (time.perf_counter() - started) * 1000
        logger.debug("%s %s -> %d (%.1f ms)", request.method, where, response.status, elapsed)
        return response
