"""The /run_sse chat stream: ADK events, two-stage generation, edits, keep-alives, errors."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from nemovideo.sandbox import Sandbox
from tests.sandbox.support import Api, adk_events, calls, texts


def track_types(draft: dict) -> list[int]:
    return [t["tt"] for t in draft["t"]]


async def test_partial_chunks_then_one_final_event_with_the_whole_text(api: Api) -> None:
    sid = await api.new_session()
    events = adk_events(await api.chat(sid, "What can you do?"))
    partials = [e for e in events if e.get("partial")]
    finals = [e for e in events if not e.get("partial")]
    assert len(partials) >= 2 and len(finals) == 1
    final = finals[0]
    assert "".join(texts(partials, partial=True)) == texts(finals, partial=False)[0]
    assert {e["id"] for e in partials} == {final["id"]}  # partials share the final's id
    assert final["turnComplete"] is True and final["author"] == "nemo_agent"
    assert final["content"]["role"] == "model"
    assert len({e["invocationId"] for e in events}) == 1
    assert all(isinstance(e["timestamp"], float) for e in events)


async def test_two_stage_generation_builds_video_bgm_and_title(
    nemo_sandbox: Sandbox, api: Api, sunset_jpeg: bytes
) -> None:
    sid = await api.new_session()
    _, body = await api.upload(sid, ("sunset.jpg", sunset_jpeg))
    image_url = body["data"]["files"][0]["cdn_url"]
    items = await api.chat(sid, 'Animate this image into an 8-second clip titled "Golden Hour"')
    events = adk_events(items)
    names = [c["name"] for c in calls(events)]
    assert names == ["generate_video", "add_bgm", "add_title"]
    generate = calls(events)[0]
    assert generate["args"]["duration_s"] == 8
    responses = [
        p["functionResponse"]
        for e in events
        for p in e.get("content", {}).get("parts", [])
        if "functionResponse" in p
    ]
    assert [r["id"] for r in responses] == [c["id"] for c in calls(events)]
    assert events[-1]["turnComplete"] is True
    draft = (await api.state(sid))["state"]["draft"]
    assert track_types(draft) == [0, 1, 7]
    video, bgm, title = draft["t"]
    assert [t["m"]["name"] for t in draft["t"]] == ["Video", "BGM", "Title"]
    assert video["sg"][0]["src"] == image_url and video["sg"][0]["d"] == 8000
    assert bgm["sg"][0]["m"]["volume"] == 0.35 and bgm["sg"][0]["d"] == 8000
    assert title["sg"][0]["m"]["text"] == "Golden Hour" and title["sg"][0]["st"] == 0
    assert draft["d"] == 8000 and draft["m"]["ratio"] == "16:9"
    state = (await api.state(sid))["state"]
    assert len(state["generated_media"]) == 1 and len(state["video_analyses"]) == 1
    assert (await api.credits()) == {"available": 0, "frozen": 0, "total": 0}


async def test_credits_are_frozen_while_generation_runs(
    nemo_sandbox_factory, http: aiohttp.ClientSession
) -> None:
    sb = await nemo_sandbox_factory(time_scale=0.002)
    api = Api(http, sb.url)
    await api.anonymous()
    sid = await api.new_session()
    async with http.post(
        sb.url + "/run_sse", json=api.chat_body(sid, "generate a clip"), headers=api.headers()
    ) as resp:
        async for line in resp.content:
            if b"functionCall" in line:
                break
        assert await api.credits() == {"available": 0, "frozen": 100, "total": 100}
        await resp.read()
    assert await api.credits() == {"available": 0, "frozen": 0, "total": 0}


async def test_generation_without_media_uses_a_neutral_source(api: Api) -> None:
    sid = await api.new_session()
    await api.chat(sid, "Generate a 5 second video of a calm sea")
    video = (await api.state(sid))["state"]["draft"]["t"][0]
    assert video["tt"] == 0 and video["sg"][0]["src"] is None and video["sg"][0]["d"] == 5000


@pytest.mark.nemo_sandbox(silent_edit_ratio=0.0)
async def test_edits_add_music_and_title_and_change_duration(
    nemo_sandbox: Sandbox, api: Api
) -> None:
    nemo_sandbox.set_credits(api.token or "", 1000)
    sid = await api.new_session()
    await api.chat(sid, "generate a 5-second clip")
    await api.chat(sid, "remove the music")
    assert track_types((await api.state(sid))["state"]["draft"]) == [0, 7]
    await api.chat(sid, "add some background music")
    events = adk_events(await api.chat(sid, "add a title 'Hello World'"))
    assert texts(events, partial=False)  # not silent with ratio 0
    await api.chat(sid, "make it 10 seconds")
    draft = (await api.state(sid))["state"]["draft"]
    assert track_types(draft) == [0, 1, 7]
    assert draft["d"] == 10000 and draft["t"][0]["sg"][0]["d"] == 10000
    assert draft["t"][1]["sg"][0]["d"] == 10000
    assert draft["t"][2]["sg"][0]["m"]["text"] == "Hello World"


async def test_silent_edits_follow_the_configured_ratio(
    nemo_sandbox_factory, http: aiohttp.ClientSession
) -> None:
    async def silent_share(ratio: float) -> float:
        sb = await nemo_sandbox_factory(silent_edit_ratio=ratio, tokens={"nmv_usr_t": "*"})
        api = Api(http, sb.url, "nmv_usr_t")
        sid = await api.new_session()
        silent = 0
        for n in range(20):
            events = adk_events(await api.chat(sid, f"add a title 'Take {n}'"))
            assert calls(events), "an edit always calls a tool"
            silent += not texts(events, partial=False) and not texts(events, partial=True)
        return silent / 20

    assert await silent_share(0.0) == 0.0
    assert await silent_share(1.0) == 1.0
    assert 0.1 <= await silent_share(0.3) <= 0.55


async def test_keepalives_only_in_long_turns(api: Api) -> None:
    sid = await api.new_session()
    short = await api.chat(sid, "hello, what can you do?")
    assert all(isinstance(i, dict) and "invocationId" in i for i in short)
    long = await api.chat(sid, "generate a clip")
    kinds = {i[0] if isinstance(i, tuple) else i.get("type") for i in long}
    assert {"comment", "empty", "heartbeat"} <= kinds  # mixed style rotates all three


@pytest.mark.nemo_sandbox(heartbeat_style="none")
async def test_plain_adk_style_sends_no_keepalives(api: Api) -> None:
    sid = await api.new_session()
    items = await api.chat(sid, "generate a clip")
    assert all(isinstance(i, dict) and "invocationId" in i for i in items)


async def test_non_streaming_request_gets_no_partials(api: Api) -> None:
    sid = await api.new_session()
    events = adk_events(await api.chat(sid, "hello", streaming=False))
    assert events and not any(e.get("partial") for e in events)


async def test_state_delta_and_thought_events_occur(nemo_sandbox: Sandbox, api: Api) -> None:
    nemo_sandbox.set_credits(api.token or "", 10_000)
    sid = await api.new_session()
    events = []
    for _ in range(4):
        events += adk_events(await api.chat(sid, "generate a clip"))
    delta_only = [e for e in events if "content" not in e and e["actions"]["stateDelta"]]
    thoughts = [
        p for e in events for p in e.get("content", {}).get("parts", []) if p.get("thought")
    ]
    assert delta_only and thoughts


@pytest.mark.parametrize(
    "body",
    [
        {"app_name": "nemo_agent", "user_id": "me", "session_id": "1"},
        {"app_name": "nemo_agent", "user_id": "me", "new_message": {"parts": [{"text": "x"}]}},
        {"app_name": "nemo_agent", "user_id": "me", "session_id": "1", "new_message": "hi"},
        [1, 2],
    ],
)
async def test_malformed_body_is_422(api: Api, body: object) -> None:
    status, data, _ = await api.call("POST", "/run_sse", json=body)
    assert status == 422 and isinstance(data["detail"], list)


async def test_invalid_json_is_422(api: Api) -> None:
    status, _data, _ = await api.call(
        "POST", "/run_sse", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert status == 422


async def test_unknown_session_is_adk_404_or_gateway_1002(
    api: Api, nemo_sandbox_factory, http: aiohttp.ClientSession
) -> None:
    status, data, _ = await api.call("POST", "/run_sse", json=api.chat_body("999", "hi"))
    assert (status, data) == (404, {"detail": "Session not found: 999"})
    sb = await nemo_sandbox_factory(unknown_session_style="code")
    other = Api(http, sb.url)
    await other.anonymous()
    status, data, _ = await other.call("POST", "/run_sse", json=other.chat_body("999", "hi"))
    assert status == 404 and data["code"] == 1002


async def test_out_of_credits_is_2001_before_the_stream(nemo_sandbox: Sandbox, api: Api) -> None:
    sid = await api.new_session()
    nemo_sandbox.set_credits(api.token or "", 30)
    status, data, resp = await api.call("POST", "/run_sse", json=api.chat_body(sid, "animate it"))
    assert status == 402 and data["code"] == 2001
    assert resp.content_type == "application/json"
    assert nemo_sandbox.chat_deliveries == []  # refused before delivery
    assert (await api.credits())["available"] == 30


async def test_expired_token_on_the_stream_is_http_401(nemo_sandbox: Sandbox, api: Api) -> None:
    sid = await api.new_session()
    nemo_sandbox.expire_token(api.token or "")
    status, data, _ = await api.call("POST", "/run_sse", json=api.chat_body(sid, "hi"))
    assert (status, data["code"]) == (401, 1001)


async def test_deliveries_are_recorded_and_duplicates_detected(
    nemo_sandbox: Sandbox, api: Api
) -> None:
    sid = await api.new_session()
    await api.chat(sid, "hello")
    await api.chat(sid, "add a title 'A'")
    assert [d.text for d in nemo_sandbox.chat_deliveries] == ["hello", "add a title 'A'"]
    assert nemo_sandbox.duplicate_deliveries() == []
    await api.chat(sid, "hello")
    duplicates = nemo_sandbox.duplicate_deliveries()
    assert [(d.session_id, d.text, d.delivery) for d in duplicates] == [(sid, "hello", 2)]
    assert nemo_sandbox.session(sid).turns == 3


async def test_turns_of_one_session_run_one_after_another(api: Api) -> None:
    sid = await api.new_session()
    first, second = await asyncio.gather(
        api.chat(sid, "generate a 3 second clip"), api.chat(sid, "hello there")
    )
    assert calls(adk_events(first)) and not calls(adk_events(second))
