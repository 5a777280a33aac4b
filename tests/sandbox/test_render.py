"""Exports: a real H.264 MP4 of the draft, the CDN origin, the fallback download, the rules."""

from __future__ import annotations

import asyncio
import io
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import av
import numpy as np
import pytest

from nemovideo.sandbox import Sandbox
from nemovideo.sandbox.media import decode_still
from tests.sandbox.support import ATTRIBUTION, Api


async def generated(api: Api, image: bytes | None, seconds: int = 2) -> tuple[str, dict[str, Any]]:
    sid = await api.new_session()
    if image is not None:
        await api.upload(sid, ("sunset.jpg", image))
    await api.chat(sid, f"animate this image into a {seconds}-second clip")
    return sid, (await api.state(sid))["state"]["draft"]


async def test_render_end_to_end_is_a_playable_mp4_of_the_image(
    nemo_sandbox: Sandbox, api: Api, sunset_jpeg: bytes
) -> None:
    sid, draft = await generated(api, sunset_jpeg)
    status, job = await api.render(sid, "render_1700000000000", draft)
    assert status == 200 and "code" not in job  # not enveloped
    assert (job["id"], job["status"], job["progress"]) == ("render_1700000000000", "pending", 0)
    assert job["taskId"]
    done = await api.wait_render("render_1700000000000")
    assert done["status"] == "completed" and done["progress"] == 100
    output = done["output"]
    assert urlsplit(output["url"]).port == urlsplit(nemo_sandbox.cdn_url).port
    assert urlsplit(output["url"]).port != urlsplit(nemo_sandbox.url).port
    async with api.http.get(output["url"]) as resp:  # no token, no attribution headers
        assert resp.status == 200 and resp.content_type == "video/mp4"
        assert int(resp.headers["Content-Length"]) == output["size"]
        data = await resp.read()
    assert len(data) == output["size"]
    assert not any(r.had_authorization or r.had_attribution for r in nemo_sandbox.cdn_requests)

    with av.open(io.BytesIO(data)) as container:
        video = container.streams.video[0]
        assert video.codec_context.name == "h264"
        assert (video.codec_context.width, video.codec_context.height) == (256, 144)
        frames = list(container.decode(video=0))
    fps = 24
    assert abs(len(frames) / fps - 2.0) <= 1 / fps
    assert abs(output["duration"] - 2.0) <= 1 / fps
    assert frames[0].format.name == "yuv420p"
    first = frames[0].to_ndarray(format="rgb24").reshape(-1, 3).mean(axis=0)
    source = decode_still(sunset_jpeg)
    assert source is not None
    expected = source.reshape(-1, 3).mean(axis=0)
    assert np.abs(first - expected).max() < 12, (first, expected)
    # Row by row too: the first frame shows the whole image, nothing drawn over it yet.
    rows = frames[0].to_ndarray(format="rgb24").mean(axis=(1, 2))
    source_rows = source.mean(axis=(1, 2))[np.linspace(0, source.shape[0] - 1, 144).astype(int)]
    assert np.abs(rows - source_rows).max() < 20
    assert (
        np.abs(
            frames[-1].to_ndarray(format="rgb24").astype(int)
            - frames[0].to_ndarray(format="rgb24").astype(int)
        ).mean()
        > 0.5
    )  # the camera moved (Ken Burns)
    with av.open(io.BytesIO(data)) as container:
        assert len(container.streams.audio) == 1  # the BGM track became a quiet tone
    assert data.index(b"moov") < data.index(b"mdat")  # +faststart


async def test_fallback_download_needs_the_token(
    nemo_sandbox: Sandbox, api: Api, http: aiohttp.ClientSession, small_png: bytes
) -> None:
    sid, draft = await generated(api, small_png, seconds=1)
    await api.render(sid, "render_dl", draft)
    done = await api.wait_render("render_dl")
    status, body, resp = await api.call("GET", "/api/render/proxy/render_dl/download")
    assert status == 200 and resp.content_type == "video/mp4"
    assert isinstance(body, bytes) and len(body) == done["output"]["size"]
    anonymous_url = nemo_sandbox.url + "/api/render/proxy/render_dl/download"
    async with http.get(anonymous_url, headers=ATTRIBUTION) as anon:
        assert (await anon.json())["code"] == 1001


async def test_the_same_id_returns_the_same_job(nemo_sandbox: Sandbox, api: Api) -> None:
    sid, draft = await generated(api, None, seconds=1)
    _, first = await api.render(sid, "render_same", draft)
    _, again = await api.render(sid, "render_same", draft)
    assert first["taskId"] == again["taskId"]
    assert len(nemo_sandbox.core.render_jobs) == 1
    other = await api.new_session()
    status, _ = await api.render(other, "render_same", draft)
    assert status == 409


async def test_empty_draft_is_refused(api: Api) -> None:
    sid = await api.new_session()
    draft = (await api.state(sid))["state"]["draft"]
    status, body = await api.render(sid, "render_empty", draft)
    assert status == 422 and body["error"] == "EMPTY_DRAFT"
    status, body = await api.render(sid, "render_none", None)
    assert status == 422


async def test_anonymous_export_needs_the_attribution_headers(api: Api) -> None:
    sid, draft = await generated(api, None, seconds=1)
    body = {"id": "render_x", "sessionId": sid, "draft": draft, "output": {"format": "mp4"}}
    status, data, _ = await api.call(
        "POST", "/api/render/proxy/lambda", json=body, attribution=False
    )
    assert status == 402 and data["code"] == 402


async def test_registered_token_without_render_scope_is_403(
    nemo_sandbox_factory, http: aiohttp.ClientSession
) -> None:
    sb = await nemo_sandbox_factory(tokens={"nmv_usr_nr": "read write upload"})
    api = Api(http, sb.url, "nmv_usr_nr")
    sid, draft = await generated(api, None, seconds=1)
    status, _ = await api.render(sid, "render_y", draft)
    assert status == 403


async def test_unknown_session_and_unknown_job(api: Api) -> None:
    _, draft = await generated(api, None, seconds=1)
    status, body = await api.render("424242", "render_z", draft)
    assert body["code"] == 1002
    status, body, _ = await api.call("GET", "/api/render/proxy/lambda/render_nope")
    assert status == 404


async def test_older_paths_are_not_served(api: Api) -> None:
    # Only the current documents' routes: an SDK leaning on an old one must fail here too.
    sid, draft = await generated(api, None, seconds=1)
    body = {"id": "render_old", "sessionId": sid, "draft": draft, "output": {"format": "mp4"}}
    status, _, _ = await api.call("POST", "/api/render/proxy/draft", json=body)
    assert status in (404, 405)
    await api.render(sid, "render_new", draft)
    status, _, _ = await api.call("GET", "/api/render/proxy/render_new")
    assert status == 404


async def test_render_start_takes_only_the_documented_camel_case_session_id(api: Api) -> None:
    sid, draft = await generated(api, None, seconds=1)
    body = {"id": "render_snake", "session_id": sid, "draft": draft, "output": {"format": "mp4"}}
    status, data, _ = await api.call("POST", "/api/render/proxy/lambda", json=body)
    assert status == 422 and "sessionId" in data["message"]


@pytest.mark.nemo_sandbox(render_id_reuse="refuse")
async def test_a_seen_render_id_can_be_refused(api: Api) -> None:
    sid, draft = await generated(api, None, seconds=1)
    await api.render(sid, "render_twice", draft)
    body = {"id": "render_twice", "sessionId": sid, "draft": draft, "output": {"format": "mp4"}}
    status, data, _ = await api.call("POST", "/api/render/proxy/lambda", json=body)
    assert status == 409 and data["success"] is False


@pytest.mark.parametrize("style", ["exact", "approximate", "absent"])
async def test_output_size_styles(nemo_sandbox_factory: Any, http: aiohttp.ClientSession,
                                  style: str) -> None:  # fmt: skip
    sandbox = await nemo_sandbox_factory(output_size=style)
    api = Api(http, sandbox.url)
    await api.anonymous()
    sid, draft = await generated(api, None, seconds=1)
    await api.render(sid, "render_size", draft)
    done = await api.wait_render("render_size")
    real = sandbox.render_job("render_size").size
    if style == "exact":
        assert done["output"]["size"] == real
    elif style == "approximate":
        assert done["output"]["size"] % 2**20 == 0 and done["output"]["size"] != real
    else:
        assert "size" not in done["output"] and done["output"]["url"]


async def test_one_active_export_per_session_others_queue(api: Api) -> None:
    sid, draft = await generated(api, None, seconds=1)
    await api.render(sid, "render_a", draft)
    await api.render(sid, "render_b", draft)
    seen = set()
    while True:
        _, a, _ = await api.call("GET", "/api/render/proxy/lambda/render_a")
        _, b, _ = await api.call("GET", "/api/render/proxy/lambda/render_b")
        assert not (a["status"] == "processing" and b["status"] == "processing")
        seen.add((a["status"], b["status"]))
        if b["status"] == "completed":
            break
        await asyncio.sleep(0.005)
    assert ("processing", "pending") in seen or ("completed", "pending") in seen


async def test_cancel_fails_the_job(api: Api) -> None:
    sid, draft = await generated(api, None, seconds=1)
    await api.render(sid, "render_c", draft)
    status, body, _ = await api.call("POST", "/api/render/proxy/lambda/render_c/cancel")
    assert status == 200 and body["status"] == "failed"
    assert (await api.wait_render("render_c"))["status"] == "failed"


@pytest.mark.nemo_sandbox(render_failure_rate=1.0)
async def test_render_failure_rate(api: Api) -> None:
    sid, draft = await generated(api, None, seconds=1)
    await api.render(sid, "render_f", draft)
    done = await api.wait_render("render_f")
    assert done["status"] == "failed" and "output" not in done and done["error"]


async def test_render_job_record_is_inspectable(nemo_sandbox: Sandbox, api: Api) -> None:
    sid, draft = await generated(api, None, seconds=1)
    await api.render(sid, "render_i", draft)
    await api.wait_render("render_i")
    job = nemo_sandbox.render_job("render_i")
    assert (job.status, job.width, job.height, job.session_id) == ("completed", 256, 144, sid)


async def test_undecodable_heic_is_accepted_but_its_render_fails_and_says_why(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(200)
    sid = await api.new_session()
    _status, body = await api.upload(sid, ("photo.heic", heic))
    assert body["code"] == 0 and body["data"]["files"][0]["file_type"] == "image"
    await api.chat(sid, "animate this photo, 1 second")
    draft = (await api.state(sid))["state"]["draft"]
    await api.render(sid, "render_heic", draft)
    with caplog.at_level("WARNING", logger="nemovideo.sandbox"):
        done = await api.wait_render("render_heic")
    assert done["status"] == "failed" and "output" not in done  # never a grey placeholder
    assert "could not decode the uploaded media 'photo.heic'" in done["error"]
    assert "photo.heic" in caplog.text


async def test_uploaded_video_is_probed(api: Api, tmp_path) -> None:
    from nemovideo.sandbox.encode import RenderPlan, render_mp4

    path = tmp_path / "clip.mp4"
    render_mp4(RenderPlan(width=64, height=36, fps=10, duration_ms=1500), path)
    sid = await api.new_session()
    _, body = await api.upload(sid, ("clip.mp4", path.read_bytes()))
    info = body["data"]["files"][0]
    assert (info["file_type"], info["width"], info["height"]) == ("video", 64, 36)
    assert abs(info["duration"] - 1.5) < 0.15
