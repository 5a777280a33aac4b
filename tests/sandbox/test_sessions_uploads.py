"""Sessions, state, uploads (multipart and by URL) and the CDN origin serving them."""

from __future__ import annotations

from urllib.parse import urlsplit

import aiohttp

from nemovideo.sandbox import Sandbox
from tests.sandbox.support import Api


async def test_new_session_has_a_long_numeric_id_and_an_empty_state(api: Api) -> None:
    sid = await api.new_session()
    assert sid.isdigit() and len(sid) >= 18  # beyond 2**53: must stay a string
    state = await api.state(sid)
    assert state["session_id"] == sid and state["task_name"] == "project" and state["task_id"]
    inner = state["state"]
    assert inner["draft"]["t"] == [] and inner["draft"]["m"]["ratio"] == "16:9"
    assert {"v", "canvas", "fx"} <= set(inner["draft"])  # keys the SDK must round-trip
    assert inner["video_infos"] == [] and inner["generated_media"] == []
    assert inner["video_analyses"] == []
    assert inner["canvas_config"] == {"width": 1920, "height": 1080, "ratio": "16:9"}


async def test_unknown_session_and_another_users_session_are_1002(
    nemo_sandbox: Sandbox, api: Api, http: aiohttp.ClientSession
) -> None:
    status, body, _ = await api.call("GET", "/api/state/nemo_agent/me/123456789/latest")
    assert (status, body["code"]) == (200, 1002)
    sid = await api.new_session()
    stranger = Api(http, nemo_sandbox.url)
    await stranger.anonymous("someone-else")
    status, body, _ = await stranger.call("GET", f"/api/state/nemo_agent/me/{sid}/latest")
    assert body["code"] == 1002


async def test_multipart_upload_of_two_files_reaches_state_and_cdn(
    nemo_sandbox: Sandbox, api: Api, sunset_jpeg: bytes, small_png: bytes
) -> None:
    sid = await api.new_session()
    status, body = await api.upload(sid, ("sunset.jpg", sunset_jpeg), ("icon.png", small_png))
    assert status == 200 and body["code"] == 0, body
    data = body["data"]
    assert data["session_state_applied"] is True
    first, second = data["files"]
    assert (first["filename"], first["file_type"], first["width"], first["height"]) == (
        "sunset.jpg", "image", 320, 180,
    )  # fmt: skip
    assert (second["width"], second["height"]) == (64, 36)
    assert "duration" in first
    infos = (await api.state(sid))["state"]["video_infos"]
    assert [i["url"] for i in infos] == [first["cdn_url"], second["cdn_url"]]
    # The CDN is another origin and needs no token.
    assert urlsplit(first["cdn_url"]).port != urlsplit(nemo_sandbox.url).port
    async with api.http.get(first["cdn_url"]) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Length"] == str(len(sunset_jpeg))
        assert await resp.read() == sunset_jpeg
    assert nemo_sandbox.cdn_requests[-1].had_authorization is False


async def test_type_is_judged_by_content_4001(api: Api) -> None:
    sid = await api.new_session()
    status, body = await api.upload(sid, ("photo.png", b"just some text, not an image"))
    assert (status, body["code"]) == (200, 4001)
    assert "accepted" in body["message"].lower()


async def test_too_large_is_4002(nemo_sandbox_factory, http, small_png: bytes) -> None:
    sb = await nemo_sandbox_factory(upload_limit=1000)
    api = Api(http, sb.url)
    await api.anonymous()
    sid = await api.new_session()
    _status, body = await api.upload(sid, ("big.png", small_png + bytes(2000)))
    assert body["code"] == 4002
    assert (await api.state(sid))["state"]["video_infos"] == []


async def test_upload_by_url_of_the_sandbox_cdn_and_of_elsewhere(
    nemo_sandbox: Sandbox, api: Api, sunset_jpeg: bytes, pictures: str
) -> None:
    sid = await api.new_session()
    _, body = await api.upload(sid, ("sunset.jpg", sunset_jpeg))
    cdn_url = body["data"]["files"][0]["cdn_url"]
    other = await api.new_session()
    data = await api.data(
        "POST",
        f"/api/upload-video/nemo_agent/me/{other}",
        json={"urls": [cdn_url, pictures + "/red.png"], "source_type": "url"},
    )
    known, remote = data["files"]
    assert (known["file_type"], known["width"], known["cdn_url"]) == ("image", 320, cdn_url)
    assert (remote["file_type"], remote["width"]) == ("image", 64)  # fetched and probed
    assert remote["cdn_url"].startswith(nemo_sandbox.cdn_url + "/")
    assert len((await api.state(other))["state"]["video_infos"]) == 2
    status, body, _ = await api.call(
        "POST", f"/api/upload-video/nemo_agent/me/{other}", json={"urls": ["ftp://x/y.png"]}
    )
    assert body["code"] == 4001
    status, body, _ = await api.call(
        "POST", f"/api/upload-video/nemo_agent/me/{other}", json={"urls": []}
    )
    assert status == 422


async def test_upload_needs_the_upload_scope(
    nemo_sandbox_factory, http: aiohttp.ClientSession, small_png: bytes
) -> None:
    sb = await nemo_sandbox_factory(tokens={"nmv_usr_rw": "read write"})
    api = Api(http, sb.url, "nmv_usr_rw")
    sid = await api.new_session()
    status, _body = await api.upload(sid, ("a.png", small_png))
    assert status == 403


async def test_cdn_answers_404_for_unknown_files(nemo_sandbox: Sandbox, http) -> None:
    async with http.get(nemo_sandbox.cdn_url + "/media/nope/x.png") as resp:
        assert resp.status == 404
    async with http.get(nemo_sandbox.cdn_url + "/renders/nope.mp4") as resp:
        assert resp.status == 404


async def test_cdn_log_flags_any_attribution_header(
    nemo_sandbox: Sandbox, api: Api, small_png
) -> None:
    sid = await api.new_session()
    _, body = await api.upload(sid, ("a.png", small_png))
    url = body["data"]["files"][0]["cdn_url"]
    async with api.http.get(url, headers={"X-Skill-Source": "leaky"}) as resp:
        await resp.read()
    async with api.http.get(url, headers={"Authorization": "Bearer leaked"}) as resp:
        await resp.read()
    leaky, leaked = nemo_sandbox.cdn_requests[-2:]
    assert (leaky.had_attribution, leaky.had_authorization) == (True, False)
    assert (leaked.had_attribution, leaked.had_authorization) == (False, True)
    assert "leaked" not in repr(nemo_sandbox.cdn_requests)
