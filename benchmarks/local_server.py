"""A purpose-built aiohttp server for the HTTP benchmarks: precomputed answers, nothing else.

Every answer is built once, up front, so the server costs the same for the SDK and for bare
aiohttp and is never the bottleneck. It runs in its own process (:func:`serve_in_child`), so
the client side's CPU is its own core's.

Routes (the API's paths, so the SDK calls them unchanged):

- ``GET /api/state/nemo_agent/me/{sid}/latest``: a realistic state (a three-track draft).
- ``POST /run_sse``: an ADK event stream; the session id ``events-<N>`` asks for N events.
- ``POST /api/upload-video/nemo_agent/me/{sid}``: reads and discards the body, counts it.
- ``GET /renders/{size}.mp4``: ``size`` bytes of a video-like body, with its length.
"""

from __future__ import annotations

import asyncio
import json
import random
from multiprocessing.connection import Connection
from typing import Any

from aiohttp import web

__all__ = ["STATE_BODY", "adk_events", "serve_in_child", "sse_body"]

_CDN = "http://127.0.0.1:9/media/m_eb1167a9c3787c65c1e5/a.png"

_DRAFT: dict[str, Any] = {
    "v": 4,
    "t": [
        {
            "id": "trk_video",
            "tt": 0,
            "m": {"name": "Video"},
            "sg": [
                {
                    "id": "seg_4c299cc854fc",
                    "st": 0,
                    "d": 5000,
                    "src": _CDN,
                    "m": {"name": "a.png", "prompt": "Animate this image: waves roll in"},
                    "fx": {"motion": "ken_burns", "zoom": [1.0, 1.12]},
                }
            ],
        },
        {
            "id": "trk_bgm",
            "tt": 1,
            "m": {"name": "BGM"},
            "sg": [
                {
                    "id": "seg_941cc98a3d42",
                    "st": 0,
                    "d": 5000,
                    "src": "http://127.0.0.1:9/library/bgm/cinematic-rise.m4a",
                    "m": {"name": "Cinematic Rise", "volume": 0.35},
                    "fade": {"in": 500, "out": 1000},
                }
            ],
        },
        {
            "id": "trk_title",
            "tt": 7,
            "m": {"name": "Title"},
            "sg": [
                {
                    "id": "seg_d8025acc3451",
                    "st": 0,
                    "d": 3000,
                    "m": {"name": "Title", "text": "Summer Story"},
                    "style": {"font": "Inter", "size": 64, "color": "#FFFFFF"},
                }
            ],
        },
    ],
    "d": 5000,
    "m": {"ratio": "16:9"},
    "canvas": {"w": 1920, "h": 1080, "bg": "#000000"},
    "fx": [],
}

#: The state answer, as the sandbox sends it after an animate flow (about 1.6 KB).
STATE_BODY: bytes = json.dumps(
    {
        "code": 0,
        "message": "success",
        "data": {
            "session_id": "4879088202122200706",
            "task_id": "82e2e662f728b4fa42485e3a0a5d2f34",
            "task_name": "project",
            "state": {
                "draft": _DRAFT,
                "video_infos": [
                    {
                        "media_id": "m_eb1167a9c3787c65c1e5",
                        "file_name": "a.png",
                        "file_type": "image",
                        "url": _CDN,
                        "duration": None,
                        "width": 64,
                        "height": 36,
                        "size": 175,
                        "source": "upload",
                    }
                ],
                "canvas_config": {"width": 1920, "height": 1080, "ratio": "16:9"},
                "generated_media": [
                    {"media_type": "video", "url": _CDN, "duration": 5.0, "prompt": "waves"}
                ],
                "video_analyses": [
                    {"media_id": "m_eb1167a9c3787c65c1e5", "summary": "A 64x36 image (a.png)."}
                ],
            },
            "updated_at": 1795881787.8818712,
        },
    }
).encode()

_UPLOAD_ANSWER = json.dumps(
    {
        "code": 0,
        "message": "success",
        "data": {
            "files": [{"filename": "big.png", "file_type": "image", "cdn_url": _CDN}],
            "session_state_applied": True,
        },
    }
).encode()

_EVENT_SIZE = 200
_WORDS = [
    "the",
    "waves",
    "roll",
    "in",
    "under",
    "a",
    "warm",
    "sky",
    "as",
    "the",
    "light",
    "fades",
    "slowly",
    "over",
    "the",
    "quiet",
    "bay",
]


def _pad(event: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """``event`` with its text grown until its JSON is about ``_EVENT_SIZE`` bytes."""
    size = len(json.dumps(event))
    parts = event["content"]["parts"]
    if "text" in parts[0] and size < _EVENT_SIZE:
        words: list[str] = []
        while size + len(" ".join(words)) < _EVENT_SIZE:
            words.append(rng.choice(_WORDS))
        parts[0]["text"] += " ".join(words)
    return event


def adk_events(count: int, seed: int = 0) -> list[str]:
    """``count`` ADK events of about 200 bytes as JSON: streamed text mostly, some tool calls.

    The mix follows an animate turn: 80% partial text chunks (runs of up to 20 sharing a
    message id), the rest tool calls, tool results and state deltas in equal parts.
    """
    rng = random.Random(seed)
    out: list[str] = []
    base = {"author": "nemo_agent", "invocationId": "e-6f1c2a7b", "timestamp": 1795881787.88}
    message_id = ""
    chunks = 0
    for index in range(count):
        event_id = f"evt-{index:08d}"
        roll = rng.random()
        event: dict[str, Any]
        if roll < 0.8:
            # Chunks of one message share its id; a message runs for about 20 chunks.
            if not message_id or chunks >= 20:
                message_id, chunks = event_id, 0
            chunks += 1
            event = {
                "content": {"parts": [{"text": ""}], "role": "model"},
                "partial": True,
                "id": message_id,
                **base,
            }
            event = _pad(event, rng)
        elif roll < 0.87:
            call = {"id": f"call_{index}", "name": "generate_video", "args": {"duration_s": 5}}
            event = {
                "content": {"parts": [{"functionCall": call}], "role": "model"},
                "id": event_id,
                **base,
            }
        elif roll < 0.94:
            answer = {"status": "ok", "draft_version": 4, "duration_s": 5}
            response = {"id": f"call_{index}", "name": "generate_video", "response": answer}
            event = {
                "content": {"parts": [{"functionResponse": response}], "role": "user"},
                "id": event_id,
                **base,
            }
        else:
            event = {
                "actions": {"stateDelta": {"draft_version": 4, "progress": index}},
                "id": event_id,
                **base,
            }
        if roll >= 0.8:
            message_id = ""  # tool work ends the message being streamed
        out.append(json.dumps(event, separators=(",", ":")))
    return out


def sse_body(count: int) -> bytes:
    """The event-stream body of ``count`` ADK events, as ``/run_sse`` sends it."""
    return "".join(f"data: {data}\n\n" for data in adk_events(count)).encode()


_BLOCK = bytes(range(256)) * 4096  # 1 MiB, not all zeros


async def _state(request: web.Request) -> web.Response:
    return web.Response(body=STATE_BODY, content_type="application/json")


async def _run_sse(request: web.Request) -> web.StreamResponse:
    body = await request.json()
    session_id = str(body.get("session_id", ""))
    count = int(session_id.removeprefix("events-")) if session_id.startswith("events-") else 10
    cache: dict[int, bytes] = request.app[_SSE_CACHE]
    payload = cache.get(count)
    if payload is None:
        payload = cache[count] = sse_body(count)
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    view = memoryview(payload)
    step = 64 * 1024
    for offset in range(0, len(view), step):
        await response.write(view[offset : offset + step])
    await response.write_eof()
    return response


async def _upload(request: web.Request) -> web.Response:
    received = 0
    async for chunk in request.content.iter_any():
        received += len(chunk)
    request.app[_UPLOADED].append(received)
    return web.Response(body=_UPLOAD_ANSWER, content_type="application/json")


async def _render(request: web.Request) -> web.StreamResponse:
    size = int(request.match_info["size"])
    response = web.StreamResponse(headers={"Content-Type": "video/mp4"})
    response.content_length = size
    await response.prepare(request)
    left = size
    while left > 0:
        piece = _BLOCK if left >= len(_BLOCK) else _BLOCK[:left]
        await response.write(piece)
        left -= len(piece)
    await response.write_eof()
    return response


_SSE_CACHE: web.AppKey[dict[int, bytes]] = web.AppKey("sse_cache", dict)
_UPLOADED: web.AppKey[list[int]] = web.AppKey("uploaded", list)


def build_app(preload_events: tuple[int, ...] = ()) -> web.Application:
    """The benchmark app; ``preload_events`` builds those stream bodies before serving."""
    app = web.Application()
    app[_SSE_CACHE] = {count: sse_body(count) for count in preload_events}
    app[_UPLOADED] = []
    app.router.add_get("/api/state/nemo_agent/me/{sid}/latest", _state)
    app.router.add_post("/run_sse", _run_sse)
    app.router.add_post("/api/upload-video/nemo_agent/me/{sid}", _upload)
    app.router.add_get("/renders/{size:\\d+}.mp4", _render)
    return app


def serve_in_child(pipe: Connection, preload_events: tuple[int, ...] = ()) -> None:
    """Serve on an ephemeral loopback port; send the URL, then run until any message arrives."""

    async def main() -> None:
        runner = web.AppRunner(build_app(preload_events), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        pipe.send(f"http://127.0.0.1:{port}")
        try:
            await asyncio.get_running_loop().run_in_executor(None, pipe.recv)
        except EOFError:  # the parent went away: stop too
            pass
        finally:
            await runner.cleanup()

    asyncio.run(main())
