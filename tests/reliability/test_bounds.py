"""Bounds a hostile or broken server cannot get around: a drip-fed download is cut off, and a
token echoed back in an error body never reaches the error's text."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from yarl import URL

from nemovideo import APITimeoutError, NemoClient, ServerError
from nemovideo.transport.download import download_to_path

SECRET = "nmv_usr_echoed_secret_0123456789"


@pytest.fixture
async def server() -> AsyncIterator[str]:
    async def drip(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()  # no length: close-delimited
        await response.prepare(request)
        for _ in range(200):  # bounded: 20 s at most, the client gives up long before
            await response.write(b"\x00")
            await asyncio.sleep(0.1)
        return response

    async def echo(request: web.Request) -> web.Response:
        # A badly written proxy that prints the request's headers in its error page.
        said = request.headers.get("Authorization", "")
        return web.json_response({"message": f"upstream failed for {said}"}, status=500)

    app = web.Application()
    app.router.add_get("/drip.mp4", drip)
    app.router.add_route("*", "/{tail:.*}", echo)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def test_a_drip_fed_download_is_cut_off(server: str, tmp_path: Path) -> None:
    dest = tmp_path / "video.mp4"
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with aiohttp.ClientSession() as session:
        with pytest.raises(APITimeoutError, match="drip"):
            await download_to_path(
                session, URL(f"{server}/drip.mp4"), dest, headers={}, max_size=1 << 20,
                read_timeout=0.5, connect_timeout=5, expect_mp4=True,
            )  # fmt: skip
    # Each byte came well within the read-stall limit; the average over the window did not.
    assert loop.time() - started < 5
    assert not dest.exists() and not list(tmp_path.iterdir())


async def test_a_token_echoed_in_an_error_body_is_redacted(server: str, tmp_path: Path) -> None:
    async with NemoClient(server, token=SECRET, client_id_path=tmp_path / "cid") as client:
        with pytest.raises(ServerError) as caught:
            await client.session.create()
    error = caught.value
    assert "upstream failed" in str(error)
    for text in (str(error), repr(error), error.message, *map(str, error.args)):
        assert SECRET not in text


async def test_errors_carry_the_answer_status_headers_and_body_redacted(
    server: str, tmp_path: Path
) -> None:
    async with NemoClient(server, token=SECRET, client_id_path=tmp_path / "cid") as client:
        with pytest.raises(ServerError) as caught:
            await client.session.create()
    error = caught.value
    assert error.status_code == error.http_status == 500
    assert error.headers is not None and error.headers.get("Content-Type", "").startswith(
        "application/json"
    )
    assert isinstance(error.body, dict) and "upstream failed" in error.body["message"]
    assert SECRET not in str(error.body) and "[redacted]" in error.body["message"]
