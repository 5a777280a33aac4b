"""Fixtures of the sandbox tests: the sandbox itself comes from the nemovideo pytest plugin."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

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
