"""Where a lenient reading of the documents used to decide in the SDK's favour: caller sessions,
downloads, proxies, slow server work, keep-alives, unknown statuses, 2001 links, taken ids."""

from __future__ import annotations

import asyncio
import logging
import struct
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import ClientHandlerType, ClientRequest, ClientResponse, web

from nemovideo import (
    Draft,
    InsufficientCreditsError,
    NemoClient,
    RenderJob,
    RenderStatus,
    Timeouts,
)
from nemovideo.protocol.errors import (
    APIConnectionError,
    APITimeoutError,
    InvalidResponseError,
    NemoError,
    ServerError,
)
from nemovideo.transport.download import is_complete_mp4

from .conftest import FakeAPI, ok

CREDITS = "/api/credits/balance/simple"
TOKEN = "/api/auth/anonymous-token"
SID = "1780000000000000001"
UPLOAD = f"/api/upload-video/nemo_agent/me/{SID}"
SKILL = ("X-Skill-Source", "X-Skill-Version", "X-Skill-Platform")
DRAFT = {"t": [{"tt": 0, "sg": [{"st": 0, "d": 5000, "src": "https://c/x.jpg"}]}], "d": 5000}
PNG = b"\x89PNG\r\n\x1a\n" + bytes(200)


def box(kind: bytes, payload: bytes = b"") -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


MP4 = box(b"ftyp", b"isom\x00\x00\x02\x00") + box(b"moov", bytes(64)) + box(b"mdat", bytes(4000))


# -- 2. a caller's own aiohttp session ---------------------------------------------------------


async def test_a_callers_session_carries_attribution_to_the_api_and_nothing_to_the_cdn(
    api: FakeAPI, cdn: FakeAPI, tmp_path: Path
) -> None:
    api.json("GET", CREDITS, ok({"available": 1, "frozen": 0, "total": 1}))
    cdn.json("GET", "/r/out.mp4", MP4)
    marks: list[str] = []

    async def mark(request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        marks.append(request.url.path)
        return await handler(request)

    async with aiohttp.ClientSession(middlewares=(mark,)) as session:
        client = NemoClient(api.url, token="nmv_usr_t", session=session,
                            client_id_path=tmp_path / "cid", journal_path=None)  # fmt: skip
        async with client:
            await client.credits.get()
            job = RenderJob(
                id="render_1", status=RenderStatus.COMPLETED, url=f"{cdn.url}/r/out.mp4"
            )
            await client.render.download(job, tmp_path / "out.mp4")
    for name in SKILL:
        assert api.seen[0].headers[name]
    sent = cdn.seen[0].headers
    assert not any(name.lower().startswith("x-skill") for name in sent)
    assert "Authorization" not in sent
    assert marks == [CREDITS, "/r/out.mp4"]  # the caller's middlewares still run, first
    assert (tmp_path / "out.mp4").read_bytes() == MP4


# -- 6. downloads: the transfer's length and a complete MP4, not output.size ------------------


async def test_output_size_is_only_a_hint(
    api: FakeAPI, cdn: FakeAPI, client: NemoClient, tmp_path: Path
) -> None:
    cdn.json("GET", "/r/x.mp4", MP4)
    seen: list[tuple[int, int | None]] = []
    job = RenderJob(
        id="render_2", status=RenderStatus.COMPLETED, url=f"{cdn.url}/r/x.mp4", size=15728640
    )  # fmt: skip  (the first document's example figure)
    dest = await client.render.download(
        job, tmp_path / "x.mp4", on_progress=lambda d, t: seen.append((d, t))
    )
    assert dest.read_bytes() == MP4
    assert seen[-1] == (len(MP4), len(MP4))  # the transfer's own length wins


async def _close_delimited(body: bytes) -> tuple[str, asyncio.AbstractServer]:
    """A server whose answer has no Content-Length and no chunking: its end is the close."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\nConnection: close\r\n\r\n")
        writer.write(body)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return f"http://127.0.0.1:{port}/r/out.mp4", server


@pytest.mark.parametrize("cut", [len(MP4) - 100, len(box(b"ftyp", b"isom\x00\x00\x02\x00"))])
async def test_a_download_without_a_length_must_be_a_complete_mp4(
    api: FakeAPI, client: NemoClient, tmp_path: Path, cut: int
) -> None:
    url, server = await _close_delimited(MP4[:cut])
    api.json("GET", "/api/render/proxy/render_3/download", b"", status=503)
    try:
        job = RenderJob(id="render_3", status=RenderStatus.COMPLETED, url=url)
        with pytest.raises(NemoError) as info:
            await client.render.download(job, tmp_path / "out.mp4")
        assert not (tmp_path / "out.mp4").exists()
        assert not list(tmp_path.glob(".*part"))
        first = [r for r in api.seen if r.path.endswith("/download")]
        assert first  # the fallback was tried after the cut-short CDN answer
        assert isinstance(info.value, (ServerError, InvalidResponseError))
    finally:
        server.close()
        await server.wait_closed()
    url, server = await _close_delimited(MP4)
    try:
        job = RenderJob(id="render_3", status=RenderStatus.COMPLETED, url=url)
        assert (await client.render.download(job, tmp_path / "out.mp4")).read_bytes() == MP4
    finally:
        server.close()
        await server.wait_closed()


def test_mp4_box_walk(tmp_path: Path) -> None:
    path = tmp_path / "f.mp4"
    for data, whole in [
        (MP4, True),
        (MP4[:-1], False),
        (MP4[:16], False),  # cut between boxes, before moov
        (box(b"ftyp") + box(b"mdat", bytes(10)), False),  # no moov
        (box(b"ftyp") + struct.pack(">I4sQ", 1, b"moov", 16), True),  # 64-bit size
        (box(b"ftyp") + struct.pack(">I4s", 0, b"moov") + bytes(5), True),  # to the end
        (b"GGGG", False),
    ]:
        path.write_bytes(data)
        assert is_complete_mp4(path) is whole, data[:24]


# -- 7. slow server-side work ----------------------------------------------------------------


async def test_uploads_allow_minutes_of_server_work(
    api: FakeAPI, make_client: Callable[..., NemoClient]
) -> None:
    async def slow(request: web.Request) -> web.Response:
        await request.read()
        await asyncio.sleep(0.4)  # storing and probing a big file
        return web.json_response(ok({"files": [{"filename": "a.png", "file_type": "image"}]}))

    api.on("POST", UPLOAD, slow)
    client = make_client(timeouts=Timeouts(request=0.15))
    assert (await client.upload.files(SID, ("a.png", PNG))).files[0].filename == "a.png"
    assert (await client.upload.urls(SID, "https://example.com/a.png")).files
    strict = make_client(timeouts=Timeouts(request=5, upload_processing=0.15, url_upload=0.15))
    with pytest.raises(APITimeoutError):
        await strict.upload.files(SID, ("a.png", PNG))
    with pytest.raises(APITimeoutError):
        await strict.upload.urls(SID, "https://example.com/a.png")


async def test_a_timed_out_upload_is_found_in_the_state(api: FakeAPI, client: NemoClient) -> None:
    state = f"/api/state/nemo_agent/me/{SID}/latest"
    info = {"file_name": "a.png", "file_type": "image", "url": "https://cdn/a.png", "width": 64}
    api.json("GET", state, ok({"state": {"video_infos": []}}),
             ok({"state": {"video_infos": [info]}}))  # fmt: skip
    assert await client.upload.landed(SID) is None
    landed = await client.upload.landed(SID)
    assert landed is not None and landed.files[0].filename == "a.png"
    assert landed.files[0].cdn_url == "https://cdn/a.png" and landed.files[0].width == 64
    assert await client.upload.landed(SID, known=1) is None


# -- 8. keep-alives named heartbeat ----------------------------------------------------------


async def test_named_heartbeats_do_not_reset_the_heartbeats_only_timer(
    api: FakeAPI, make_client: Callable[..., NemoClient]
) -> None:
    async def heartbeats(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for n in range(60):
            data = b"{}" if n % 2 else b"ping"
            await response.write(b"event: heartbeat\ndata: " + data + b"\n\n")
            await asyncio.sleep(0.02)
        return response

    api.on("POST", "/run_sse", heartbeats)
    client = make_client(timeouts=Timeouts(stream_idle=0.3))
    with pytest.raises(APITimeoutError, match="only keep-alives"):
        await client.chat.send(SID, "animate it")


# -- 9. an unknown render status -------------------------------------------------------------


async def test_an_unknown_render_status_keeps_the_wait_going(
    api: FakeAPI, client: NemoClient, caplog: pytest.LogCaptureFixture
) -> None:
    path = "/api/render/proxy/lambda/render_5"
    api.json("GET", path, {"status": "transcoding", "progress": 10},
             {"status": "transcoding", "progress": 50}, {"status": "Encoding"},
             {"status": "completed", "output": {"url": "https://cdn/x.mp4"}})  # fmt: skip
    caplog.set_level(logging.WARNING, logger="nemovideo.render")
    job = await client.render.wait("render_5", timeout=10)
    assert job.status is RenderStatus.COMPLETED
    unknown = [r.getMessage() for r in caplog.records if "unknown" in r.getMessage()]
    assert len(unknown) == 2  # once per spelling
    api.json("GET", path, {"status": "transcoding"})
    with pytest.raises(APITimeoutError, match="processing"):
        await client.render.wait("render_5", poll_interval=0.01, timeout=0.1)


# -- 3. 2001 names the registration link -----------------------------------------------------


async def test_out_of_credits_names_the_register_link_for_an_anonymous_user(
    api: FakeAPI, make_client: Callable[..., NemoClient]
) -> None:
    api.json("POST", TOKEN, ok({"token": "nmv_usr_anon", "user_id": "anon_42"}))
    api.json("POST", "/run_sse", {"code": 2001, "message": "insufficient credits"}, status=402)
    client = make_client(token=None)
    with pytest.raises(InsufficientCreditsError) as info:
        await client.chat.send(SID, "animate it")
    assert info.value.link == "https://nemovideo.com/register?bind=anon_42"
    assert "https://nemovideo.com/register?bind=anon_42" in str(info.value)


async def test_the_user_id_can_come_from_the_session_answer(
    api: FakeAPI, make_client: Callable[..., NemoClient]
) -> None:
    api.json("POST", "/api/tasks/me/with-session/nemo_agent",
             ok({"task_id": "t", "session_id": SID, "user_id": "anon_7"}))  # fmt: skip
    api.json("POST", "/run_sse", ok(None) | {"code": 2001})
    client = make_client(token="nmv_usr_saved_anonymous_token", web_url="https://web.example")
    await client.session.create()
    with pytest.raises(InsufficientCreditsError) as info:
        await client.chat.send(SID, "animate it")
    assert info.value.link == "https://web.example/register?bind=anon_7"


async def test_a_registered_user_gets_no_register_link(api: FakeAPI, client: NemoClient) -> None:
    api.json("POST", "/run_sse", {"code": 2001, "message": "insufficient credits"}, status=402)
    with pytest.raises(InsufficientCreditsError) as info:
        await client.chat.send(SID, "animate it")
    assert info.value.link is None


# -- render start refused because the id is taken -------------------------------------------


async def test_a_taken_render_id_is_submitted_once_more_with_a_new_one(
    api: FakeAPI, client: NemoClient
) -> None:
    api.json("POST", "/api/render/proxy/lambda",
             {"success": False, "error": "ID_TAKEN", "message": "id taken"},
             {"status": "pending"}, status=409)  # fmt: skip

    async def taken_then_ok(request: web.Request) -> web.Response:
        taken = sum(1 for s in api.seen if s.path == "/api/render/proxy/lambda") == 1
        body = {"success": False, "error": "ID_TAKEN"} if taken else {"status": "pending"}
        return web.json_response(body, status=409 if taken else 200)

    api.on("POST", "/api/render/proxy/lambda", taken_then_ok)
    job = await client.render.start(SID, Draft.from_wire(DRAFT), job_id="render_1")
    assert job.id != "render_1" and job.id.startswith("render_")
    assert api.count("POST", "/api/render/proxy/lambda") == 2


# -- 11. proxies from the environment --------------------------------------------------------


@pytest.fixture
async def proxy(api: FakeAPI) -> AsyncIterator[list[str]]:
    """A tiny HTTP proxy on loopback that forwards every request to the fake API."""
    seen: list[str] = []

    async def forward(request: web.Request) -> web.Response:
        seen.append(str(request.url))
        async with aiohttp.ClientSession() as session, session.request(
            request.method, api.url + request.rel_url.path_qs, headers={
                k: v for k, v in request.headers.items() if k.lower() not in ("host",)
            }, data=await request.read()
        ) as answer:  # fmt: skip
            body = await answer.read()
            return web.Response(body=body, status=answer.status,
                                content_type=answer.content_type)  # fmt: skip

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", forward)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    seen.append(f"http://127.0.0.1:{port}")
    yield seen
    await runner.cleanup()


@pytest.mark.parametrize("setting", ["honoured", "no_proxy", "trust_env_off"])
async def test_proxy_variables_are_honoured(
    api: FakeAPI,
    proxy: list[str],
    make_client: Callable[..., NemoClient],
    monkeypatch: pytest.MonkeyPatch,
    setting: str,
) -> None:
    proxy_url = proxy.pop(0)
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy",
                 "ALL_PROXY", "all_proxy"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy_url)
    if setting == "no_proxy":
        monkeypatch.setenv("NO_PROXY", "api.nemovideo.test")
    api.json("GET", CREDITS, ok({"available": 7, "frozen": 0, "total": 7}))
    # A host only the proxy can reach: it is never resolved here when proxied.
    port = api.url.rsplit(":", 1)[1]
    settings: dict[str, Any] = {
        "allow_insecure": True,
        "base_url": f"http://api.nemovideo.test:{port}",
    }
    if setting == "trust_env_off":
        settings["trust_env"] = False
    client = make_client(**settings)
    if setting == "honoured":
        assert (await client.credits.get()).available == 7
        assert proxy == [f"http://api.nemovideo.test:{port}{CREDITS}"]
        assert api.seen[0].headers["X-Skill-Source"]
    else:
        assert client._transport.proxies.options(client._transport.url(CREDITS)) == {}
        with pytest.raises(APIConnectionError):  # direct: the made-up host does not resolve
            await client.credits.get()
        assert proxy == []


async def test_loopback_always_goes_direct(
    api: FakeAPI, client: NemoClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.delenv("NO_PROXY", raising=False)
    api.json("GET", CREDITS, ok({"available": 1, "frozen": 0, "total": 1}))
    assert (await client.credits.get()).available == 1
    assert client.config.trust_env is True
