"""Fixtures of the sandbox tests: the sandbox itself comes from the nemovideo pytest plugin."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import numpy as np
import pytest
from aiohttp import web

from nemovideo.sandbox import Sandbox
from nemovideo.sandbox.media import encode_image, gradient
from tests.sandbox.support import Api


@pytest.fixture(scope="session")
def sunset_jpeg() -> bytes:
    """A 320x180 warm gradient as a JPEG."""
    return encode_image(gradient(320, 180), "jpeg", quality=2)


@pytest.fixture(scope="session")
def small_png() -> bytes:
    """A 64x36 cool gradient as a PNG."""
    return encode_image(gradient(64, 36, (30, 120, 200), (10, 40, 80)), "png")


RED = (220, 20, 20)


@pytest.fixture(scope="session")
def red_png() -> bytes:
    """A 64x48 (4:3) solid red PNG: a render of it is red, never grey."""
    return encode_image(np.full((48, 64, 3), RED, np.uint8), "png")


@pytest.fixture
async def pictures(red_png: bytes) -> AsyncIterator[str]:
    """A loopback web site (its base URL) serving pictures for uploads by URL.

    ``/red.png`` and ``/picture`` (no extension) serve :func:`red_png`; ``/missing.png`` is a
    404, ``/notes.png`` is text, ``/slow.png`` answers after a second.
    """

    async def red(_: web.Request) -> web.Response:
        return web.Response(body=red_png, content_type="image/png")

    async def text(_: web.Request) -> web.Response:
        return web.Response(text="no picture here " * 10)

    async def slow(_: web.Request) -> web.Response:
        await asyncio.sleep(1)
        return web.Response(body=red_png, content_type="image/png")

    app = web.Application()
    app.router.add_get("/red.png", red)
    app.router.add_get("/picture", red)
    app.router.add_get("/notes.png", text)
    app.router.add_get("/slow.png", slow)
    runner = web.AppRunner(app, shutdown_timeout=2)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def api(nemo_sandbox: Sandbox, http: aiohttp.ClientSession) -> Api:
    """A client holding an anonymous token of ``nemo_sandbox``."""
    client = Api(http, nemo_sandbox.url)
    await client.anonymous()
    return client
