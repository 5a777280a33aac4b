"""Security: the token stays secret, credentials stay home, hostile servers stay bounded."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import logging
import ssl
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiohttp import web

from nemovideo import (
    APIConnectionError,
    InvalidResponseError,
    NemoClient,
    NemoError,
    RenderJob,
    RenderStatus,
    SessionNotFoundError,
)
from nemovideo.sandbox import Sandbox

from ..conftest import fast_retry
from ..integration.test_animate import image

SECRET = "nmv_usr_TOPSECRET0123456789"


@pytest.fixture
async def secret_sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox(time_scale=0.001, render_height=32, render_fps=5, seed=3,
                       tokens={SECRET: "*"}) as sb:  # fmt: skip
        yield sb


async def test_token_never_in_logs_reprs_errors_or_urls(
    secret_sandbox: Sandbox, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, aiohttp's and the sandbox's included
    client = NemoClient(secret_sandbox.url, token=SECRET, client_id_path=tmp_path / "cid",
                        journal_path=tmp_path / "j.db", poll_interval=0.02, max_polls=1000,
                        retry=fast_retry(),
                        time_scale=secret_sandbox.options.time_scale)  # fmt: skip
    texts: list[str] = [repr(client), repr(client.config), str(client.config)]
    async with client:
        video = await client.animate(image(), output=tmp_path / "v.mp4")
        texts += [repr(video), str(video.claim_url), video._repr_html_()[:2000]]
        with pytest.raises(SessionNotFoundError) as info:
            await client.state.get("999999")
        texts += [str(info.value), repr(info.value)]
        texts += [
            repr(
                await client.session.claim_link(task_id=video.task_id, session_id=video.session_id)
            )
        ]
    texts += [record.getMessage() for record in caplog.records]
    texts += [str(r.path) for r in secret_sandbox.requests]
    # The ledger's every byte (the database and its write-ahead log), not only its rows.
    texts += [p.read_bytes().decode("latin-1") for p in tmp_path.glob("j.db*")]
    leaks = [text for text in texts if SECRET in text]
    assert leaks == []
    assert any(r.levelno == logging.DEBUG for r in caplog.records)  # logging was really on


async def _serve(app: web.Application, ssl_context: ssl.SSLContext | None = None) -> tuple[
    web.AppRunner, str
]:  # fmt: skip
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    scheme = "https" if ssl_context else "http"
    return runner, f"{scheme}://127.0.0.1:{port}"


async def test_redirect_to_another_origin_carries_no_credentials(tmp_path: Path) -> None:
    seen: list[dict[str, str]] = []

    async def elsewhere(request: web.Request) -> web.Response:
        seen.append(dict(request.headers))
        return web.json_response({"code": 0, "data": {"available": 1, "frozen": 0, "total": 1}})

    other_app = web.Application()
    other_app.router.add_get("/landing", elsewhere)
    other, other_url = await _serve(other_app)

    async def redirect(_: web.Request) -> web.Response:
        raise web.HTTPFound(f"{other_url}/landing")

    api_app = web.Application()
    api_app.router.add_get("/api/credits/balance/simple", redirect)
    api, api_url = await _serve(api_app)
    try:
        async with NemoClient(api_url, token=SECRET, client_id_path=tmp_path / "c") as client:
            await client.credits.get()
    finally:
        await api.cleanup()
        await other.cleanup()
    assert len(seen) == 1
    assert "Authorization" not in seen[0]
    assert not [h for h in seen[0] if h.lower().startswith("x-skill")]


async def test_tls_is_verified_by_default(tmp_path: Path) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_context)

    async def credits(_: web.Request) -> web.Response:
        return web.json_response({"code": 0, "data": {"available": 7, "frozen": 0, "total": 7}})

    app = web.Application()
    app.router.add_get("/api/credits/balance/simple", credits)
    runner, url = await _serve(app, server_context)
    try:
        async with NemoClient(url, token=SECRET, client_id_path=tmp_path / "c") as client:
            with pytest.raises(APIConnectionError, match=r"(?i)certif|ssl"):
                await client.credits.get()
        async with NemoClient(url, token=SECRET, client_id_path=tmp_path / "c",
                              verify_ssl=False) as insecure:  # fmt: skip
            assert (await insecure.credits.get()).available == 7
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def _hostile(handler: Callable[[web.Request], Any]) -> AsyncIterator[str]:
    """A server answering every path with ``handler``; yields its URL."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner, url = await _serve(app)
    try:
        yield url
    finally:
        await runner.cleanup()


async def _flood(
    request: web.Request, response: web.StreamResponse, first: bytes, filler: bytes, times: int
) -> web.StreamResponse:
    """Send ``first``, then ``filler`` ``times`` times or until the client hangs up."""
    await response.prepare(request)
    try:
        await response.write(first)
        for _ in range(times):
            await response.write(filler)
    except (ConnectionError, RuntimeError):
        pass
    return response


async def test_endless_sse_line_is_bounded(tmp_path: Path) -> None:
    async def endless(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        return await _flood(request, response, b"data: ", b"x" * 65536, 10_000)

    async with (
        _hostile(endless) as url,
        NemoClient(url, token=SECRET, client_id_path=tmp_path / "c",
                   max_event_bytes=1 << 20) as client,
    ):  # fmt: skip
        with pytest.raises(InvalidResponseError, match="max_event_bytes"):
            await client.chat.send("1", "hello")


async def test_endless_json_body_and_huge_content_length_are_refused(tmp_path: Path) -> None:
    async def endless(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        if request.path.endswith("huge"):
            response.content_length = 10**12
        return await _flood(request, response, b'{"code": 0, "data": "', b"y" * 65536, 10_000)

    async with (
        _hostile(endless) as url,
        NemoClient(url, token=SECRET, client_id_path=tmp_path / "c",
                   max_body_bytes=1 << 20) as client,
    ):  # fmt: skip
        with pytest.raises(InvalidResponseError, match="max_body_bytes"):
            await client.credits.get()
        transport = client._transport
        with pytest.raises(InvalidResponseError, match="limit"):
            await transport.request("GET", "/huge", kind=transport_kind())


def transport_kind() -> Any:
    from nemovideo.transport.retry import RequestKind

    return RequestKind.READ


async def test_download_larger_than_announced_and_hostile_job_id(tmp_path: Path) -> None:
    async def oversized(request: web.Request) -> web.StreamResponse:
        # No Content-Length; the job's size is only a progress hint (the documents show it in
        # one early example), so max_download_bytes is the bound.
        return await _flood(request, web.StreamResponse(), b"", b"z" * 65536, 64)

    dest = tmp_path / "out"
    dest.mkdir()
    async with (
        _hostile(oversized) as url,
        NemoClient(url, token=SECRET, client_id_path=tmp_path / "c",
                   retry=fast_retry(), max_download_bytes=1_000_000) as client,
    ):  # fmt: skip
        job = RenderJob(id="../../escape", status=RenderStatus.COMPLETED,
                        url=f"{url}/x.mp4", size=1000)  # fmt: skip
        with pytest.raises(NemoError, match="more than"):
            await client.render.download(job, dest)
    assert list(tmp_path.rglob("*escape*")) == []
    assert list(dest.iterdir()) == []
    assert not (tmp_path.parent / "escape.mp4").exists()


async def test_hostile_job_id_stays_inside_destination(
    secret_sandbox: Sandbox, tmp_path: Path
) -> None:
    from nemovideo.resources.render import _safe_name

    assert "/" not in _safe_name("../../etc/passwd")
    assert _safe_name("..") == "__"
    await asyncio.sleep(0)


async def test_a_small_compressed_answer_cannot_expand_past_the_cap(tmp_path: Path) -> None:
    # 2 MiB of JSON gzipped into a few KiB: its Content-Length is far under the cap, and only
    # counting what the decompressor gives back keeps it bounded.
    inflated = b'{"code": 0, "data": "' + b"a" * (2 << 20) + b'"}'
    body = gzip.compress(inflated)

    async def bomb(request: web.Request) -> web.Response:
        return web.Response(
            body=body, headers={"Content-Type": "application/json", "Content-Encoding": "gzip"}
        )

    async with (
        _hostile(bomb) as url,
        NemoClient(url, token=SECRET, client_id_path=tmp_path / "c",
                   max_body_bytes=1 << 20) as client,
    ):  # fmt: skip
        assert len(body) < 1 << 20
        with pytest.raises(InvalidResponseError, match="grew past"):
            await client.credits.get()
