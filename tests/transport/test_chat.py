"""The chat stream: one POST, typed events, no duplication, and honest failures."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import pytest
from aiohttp import web

from nemovideo import (
    APITimeoutError,
    NemoClient,
    SessionNotFoundError,
    StreamDisconnectedError,
    TextEvent,
    Timeouts,
    ToolCallEvent,
)

from .conftest import FakeAPI

SAMPLE = [
    {"content": {"parts": [{"text": "Animating your image"}], "role": "model"}, "partial": True,
     "invocationId": "e-1", "author": "nemo_agent", "id": "x"},
    {"content": {"parts": [{"text": " into a clip."}], "role": "model"}, "partial": True,
     "invocationId": "e-1", "author": "nemo_agent", "id": "x"},
    {"content": {"parts": [{"text": "Animating your image into a clip."}], "role": "model"},
     "invocationId": "e-1", "author": "nemo_agent", "id": "x"},
    {"content": {"parts": [{"functionCall": {"id": "fc-1", "args": {"duration_s": 5},
                                             "name": "generate_video"}}], "role": "model"}},
    {"content": {"parts": [{"functionResponse": {"id": "fc-1", "name": "generate_video",
                                                 "response": {"status": "ok"}}}],
                 "role": "user"}},
]  # fmt: skip


def sse_handler(
    events: list[object], *, pause: float = 0.0, cut_after: int | None = None,
    keepalive_only: bool = False,
) -> Callable[[web.Request], object]:  # fmt: skip
    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        if keepalive_only:
            for _ in range(200):
                await response.write(b": keep-alive\r\n\r\n")
                await asyncio.sleep(0.01)
            return response
        for index, event in enumerate(events):
            if cut_after is not None and index == cut_after:
                assert request.transport is not None
                request.transport.close()
                return response
            data = event if isinstance(event, str) else json.dumps(event)
            await response.write(f"data: {data}\n\n".encode())
            if pause:
                await asyncio.sleep(pause)
        await response.write_eof()
        return response

    return handler


async def test_stream_yields_typed_events_and_send_dedupes(
    api: FakeAPI, client: NemoClient
) -> None:
    api.on("POST", "/run_sse", sse_handler([*SAMPLE, ""]))  # type: ignore[arg-type]
    events = [e async for e in client.chat.stream("42", "animate this image")]
    texts = [e for e in events if isinstance(e, TextEvent)]
    assert [t.partial for t in texts] == [True, True, False]
    calls = [e for e in events if isinstance(e, ToolCallEvent)]
    assert calls[0].name == "generate_video" and calls[0].args == {"duration_s": 5}
    body = json.loads(api.seen[0].body)
    assert body == {
        "app_name": "nemo_agent",
        "user_id": "me",
        "session_id": "42",
        "new_message": {"parts": [{"text": "animate this image"}]},
    }
    assert api.seen[0].headers["Accept"] == "text/event-stream"
    reply = await client.chat.send("42", "again")
    assert reply.text == "Animating your image into a clip."
    assert not reply.silent and len(reply.tool_calls) == 1


async def test_silent_reply(api: FakeAPI, client: NemoClient) -> None:
    api.on("POST", "/run_sse", sse_handler(SAMPLE[3:]))  # type: ignore[arg-type]
    reply = await client.chat.send("42", "add BGM")
    assert reply.silent and reply.text == ""


async def test_disconnect_mid_stream_is_reported_and_never_resent(
    api: FakeAPI, client: NemoClient
) -> None:
    api.on("POST", "/run_sse", sse_handler(SAMPLE, pause=0.01, cut_after=2))  # type: ignore[arg-type]
    with pytest.raises(StreamDisconnectedError) as info:
        await client.chat.send("42", "animate")
    assert info.value.delivered is True and info.value.session_id == "42"
    assert "Do not send it again" in str(info.value)
    await asyncio.sleep(0.05)
    assert api.count("POST", "/run_sse") == 1


async def test_keepalives_only_time_out(
    api: FakeAPI, make_client: Callable[..., NemoClient]
) -> None:
    client = make_client(timeouts=Timeouts(stream_idle=0.3, stream_read=5, stream_total=10))
    api.on("POST", "/run_sse", sse_handler([], keepalive_only=True))  # type: ignore[arg-type]
    with pytest.raises(APITimeoutError, match="keep-alives"):
        await client.chat.send("42", "hello")
    assert api.count("POST", "/run_sse") == 1


async def test_total_timeout(api: FakeAPI, make_client: Callable[..., NemoClient]) -> None:
    client = make_client(timeouts=Timeouts(stream_idle=10, stream_read=10, stream_total=0.3))
    api.on("POST", "/run_sse", sse_handler(SAMPLE * 50, pause=0.02))  # type: ignore[arg-type]
    with pytest.raises(APITimeoutError, match="finish within"):
        await client.chat.send("42", "hello")


async def test_unknown_session_refused_before_stream(api: FakeAPI, client: NemoClient) -> None:
    api.json("POST", "/run_sse", {"detail": "Session not found: 9"}, status=404)
    with pytest.raises(SessionNotFoundError):
        await client.chat.send("9", "hello")


async def test_breaking_out_early_closes_the_connection(api: FakeAPI, client: NemoClient) -> None:
    api.on("POST", "/run_sse", sse_handler(SAMPLE * 20, pause=0.005))  # type: ignore[arg-type]
    async with client.chat.stream("42", "hello") as stream:
        async for _event in stream:
            break
    assert stream.delivered is True
