"""Each endpoint: the exact request on the wire and the typed answer."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from aiohttp import web

from nemovideo import (
    ConfigurationError,
    Draft,
    FileTooLargeError,
    NemoClient,
    RenderFailedError,
    RenderStatus,
    TrackType,
    UnsupportedFileTypeError,
)
from nemovideo.protocol.errors import APIConnectionError, InvalidResponseError

from .conftest import FakeAPI, ok

PNG = b"\x89PNG\r\n\x1a\n" + bytes(200)
SID = "1780000000000000001"
UPLOAD = f"/api/upload-video/nemo_agent/me/{SID}"
DRAFT = {
    "t": [
        {"tt": 0, "m": {"name": "Video"}, "sg": [{"st": 0, "d": 5000, "src": "https://c/x.jpg"}]},
        {"tt": 1, "m": {"name": "BGM"}, "sg": [{"st": 0, "d": 5000, "m": {"name": "Lo-fi",
                                                                          "volume": 0.35}}]},
    ],
    "d": 5000,
    "zz_unknown": {"keep": [1, 2, {"me": None}]},
}  # fmt: skip


async def test_session_create_and_claim_link(api: FakeAPI, client: NemoClient) -> None:
    api.json("POST", "/api/tasks/me/with-session/nemo_agent",
             ok({"task_id": "t1", "session_id": 17800000000000000001}))  # fmt: skip
    api.json("POST", "/api/auth/claim-token", ok({"claim_token": "clm_abc", "expires_in": 604800}))
    session = await client.session.create(language="zh")
    assert session.session_id == "17800000000000000001"  # a JSON number keeps every digit
    assert json.loads(api.seen[0].body) == {"task_name": "project", "language": "zh"}
    link = await client.session.claim_link(session)
    assert link.url == "https://nemovideo.com/workspace/claim?ct=clm_abc"
    assert json.loads(api.seen[1].body) == {"task_id": "t1", "session_id": "17800000000000000001"}
    assert "nmv_usr" not in link.url and "clm_abc" not in repr(link)


async def test_upload_files_streams_multipart_with_progress(
    api: FakeAPI, client: NemoClient, tmp_path: Path
) -> None:
    image = tmp_path / "pic.png"
    image.write_bytes(PNG * 1000)
    api.json("POST", UPLOAD, ok({"files": [{"filename": "pic.png", "file_type": "image",
                                            "cdn_url": "https://cdn/x", "width": 10,
                                            "height": 10, "extra": 1}],
                                 "session_state_applied": True}))  # fmt: skip
    seen: list[tuple[int, int]] = []
    result = await client.upload.files(
        SID, image, ("b.png", PNG), on_progress=lambda d, t: seen.append((d, t))
    )
    assert result.files[0].file_type == "image" and result.session_state_applied is True
    body = api.seen[0].body
    assert api.seen[0].headers["Content-Type"].startswith("multipart/form-data")
    assert body.count(b'name="files"') == 2
    assert b'filename="pic.png"' in body and b'filename="b.png"' in body
    total = len(PNG) * 1001
    assert seen[-1] == (total, total)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


async def test_upload_refuses_wrong_type_and_size_before_sending(
    api: FakeAPI, make_client: Callable[..., NemoClient], tmp_path: Path
) -> None:
    client = make_client(upload_limit=1000)
    fake = tmp_path / "notes.jpg"
    fake.write_text("just some text, not an image at all" * 3)
    with pytest.raises(UnsupportedFileTypeError, match="Accepted"):
        await client.upload.files(SID, fake)
    with pytest.raises(UnsupportedFileTypeError, match=r"\.txt|extension"):
        await client.upload.files(SID, ("a.txt", PNG))
    big = tmp_path / "big.png"
    big.write_bytes(PNG * 10)
    with pytest.raises(FileTooLargeError) as info:
        await client.upload.files(SID, big)
    assert info.value.code == 4002
    with pytest.raises(ConfigurationError, match="No such file"):
        await client.upload.files(SID, tmp_path / "missing.png")
    assert api.seen == []


async def test_upload_urls(api: FakeAPI, client: NemoClient) -> None:
    api.json("POST", UPLOAD, ok({"files": [{"filename": "x.jpg", "file_type": "image"}]}))
    await client.upload.urls(SID, "https://example.com/x.jpg")
    assert json.loads(api.seen[0].body) == {
        "urls": ["https://example.com/x.jpg"],
        "source_type": "url",
    }
    with pytest.raises(ConfigurationError):
        await client.upload.urls(SID, ["file:///etc/passwd"])


async def test_state_get_typed_draft_and_round_trip(api: FakeAPI, client: NemoClient) -> None:
    api.json("GET", f"/api/state/nemo_agent/me/{SID}/latest",
             ok({"session_id": SID, "task_id": "t", "task_name": "project",
                 "state": {"draft": DRAFT, "video_infos": [{"url": "u"}],
                           "canvas_config": {"ratio": "16:9"}}}))  # fmt: skip
    state = await client.state.get(SID)
    assert state.draft.is_exportable
    assert [t.type for t in state.draft.tracks] == [TrackType.VIDEO, TrackType.AUDIO]
    assert state.draft.to_wire() == DRAFT
    assert state.draft.summary() == (
        "Timeline (2 tracks): 1. Video: x.jpg (0-5s) 2. BGM: Lo-fi (0-5s, 35%)"
    )


async def test_render_start_body_and_unenveloped_status(api: FakeAPI, client: NemoClient) -> None:
    api.json("POST", "/api/render/proxy/lambda", {"status": "pending"})
    draft = Draft.from_wire(DRAFT)
    job = await client.render.start(SID, draft)
    sent = json.loads(api.seen[0].body)
    assert re.fullmatch(r"render_\d{13,}_[0-9a-f]{8}", sent["id"]) and job.id == sent["id"]
    assert sent["sessionId"] == SID and "session_id" not in sent
    assert sent["draft"] == DRAFT
    assert sent["output"] == {"format": "mp4", "quality": "high"}
    api.json("GET", f"/api/render/proxy/lambda/{job.id}",
             {"taskId": "t", "status": "completed", "progress": 100,
              "output": {"url": "https://cdn/x.mp4", "duration": 5, "size": 10}})  # fmt: skip
    done = await client.render.get(job.id)
    assert done.status is RenderStatus.COMPLETED and done.url == "https://cdn/x.mp4"
    assert done.size == 10


async def test_render_empty_draft_refused_locally(api: FakeAPI, client: NemoClient) -> None:
    with pytest.raises(ConfigurationError, match="nothing to export"):
        await client.render.start(SID, {"t": [{"tt": 0, "sg": []}]})
    assert api.seen == []


async def test_render_failure_resubmits_once_with_new_id(api: FakeAPI, client: NemoClient) -> None:
    started: list[str] = []

    async def start(request: web.Request) -> web.Response:
        started.append((await request.json())["id"])
        return web.json_response({"status": "pending"})

    async def status(request: web.Request) -> web.Response:
        return web.json_response({"status": "failed", "error": "encoder crashed"})

    api.on("POST", "/api/render/proxy/lambda", start)
    job = await client.render.start(SID, DRAFT)
    answer_render_status(api, status)
    with pytest.raises(RenderFailedError) as info:
        await client.render.wait(job)
    assert len(started) == 2 and started[0] != started[1]
    assert info.value.job_id == started[1]


def answer_render_status(api: FakeAPI, handler: object) -> None:
    """Answer any render status path with ``handler`` (the second job's id is not known yet)."""
    original = api.handle

    async def handle(request: web.Request) -> web.StreamResponse:
        if request.method == "GET" and request.path.startswith("/api/render/proxy/lambda/"):
            return await handler(request)  # type: ignore[operator, no-any-return]
        return await original(request)

    api.handle = handle  # type: ignore[method-assign]


async def test_download_from_cdn_sends_no_token_and_is_atomic(
    api: FakeAPI, cdn: FakeAPI, client: NemoClient, tmp_path: Path
) -> None:
    payload = b"\x00\x00\x00\x18ftypmp42" + bytes(5000)
    cdn.json("GET", "/r/x.mp4", payload)
    from nemovideo import RenderJob

    job = RenderJob(id="render_1", status=RenderStatus.COMPLETED, url=f"{cdn.url}/r/x.mp4",
                    size=len(payload))  # fmt: skip
    dest = tmp_path / "out.mp4"
    await client.render.download(job, dest)
    assert dest.read_bytes() == payload
    headers = cdn.seen[0].headers
    assert "Authorization" not in headers
    assert not any(h.lower().startswith("x-skill") for h in headers)
    assert list(tmp_path.glob(".*part")) == []


async def test_truncated_download_leaves_nothing_and_falls_back(
    api: FakeAPI, cdn: FakeAPI, client: NemoClient, tmp_path: Path
) -> None:
    from nemovideo import RenderJob

    good = b"G" * 4096

    async def cut_short(request: web.Request) -> web.StreamResponse:
        # Announces the whole file, sends 100 bytes, then drops the connection.
        response = web.StreamResponse()
        response.content_length = len(good)
        await response.prepare(request)
        await response.write(good[:100])
        assert request.transport is not None
        request.transport.close()
        return response

    cdn.on("GET", "/r/x.mp4", cut_short)
    api.json("GET", "/api/render/proxy/render_2/download", good)
    job = RenderJob(id="render_2", status=RenderStatus.COMPLETED, url=f"{cdn.url}/r/x.mp4",
                    size=len(good))  # fmt: skip
    dest = tmp_path / "out.mp4"
    await client.render.download(job, dest)
    assert dest.read_bytes() == good
    assert api.seen[-1].headers["Authorization"].startswith("Bearer ")
    api.on("GET", "/api/render/proxy/render_2/download", cut_short)
    dest2 = tmp_path / "out2.mp4"
    with pytest.raises((InvalidResponseError, APIConnectionError), match=r"truncated|broke"):
        await client.render.download(job, dest2)
    assert not dest2.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]
