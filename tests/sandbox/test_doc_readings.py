"""The sandbox follows the documents strictly where they are clear, and offers each reading as an
option where they are not (token repeats, keep-alives, event ids, state shapes)."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from nemovideo.sandbox import Sandbox
from tests.sandbox.support import ATTRIBUTION, Api, parse_sse

TOKEN_PATH = "/api/auth/anonymous-token"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/credits/balance/simple"),
        ("POST", "/api/tasks/me/with-session/nemo_agent"),
        ("POST", "/run_sse"),
    ],
)
async def test_every_api_route_requires_the_three_attribution_headers(
    api: Api, method: str, path: str
) -> None:
    partial = {"X-Skill-Source": "nemo-video", "X-Skill-Version": "1.9.0"}
    status, data, _ = await api.call(method, path, attribution=False, headers=partial, json={})
    assert status == 400
    assert "X-Skill-Platform" in data["message"] and "client" not in data["message"].lower()


async def test_the_token_route_requires_them_too(nemo_sandbox: Sandbox, http: Any) -> None:
    bare = Api(http, nemo_sandbox.url)
    status, _, _ = await bare.call(
        "POST", TOKEN_PATH, attribution=False, headers={"X-Client-Id": "c-1"}
    )
    assert status == 400
    status, _, _ = await bare.call("POST", TOKEN_PATH, headers={"X-Client-Id": "c-1"})
    assert status == 200


async def test_the_chat_body_is_snake_case_only(api: Api) -> None:
    sid = await api.new_session()
    camel = {
        "appName": "nemo_agent",
        "userId": "me",
        "sessionId": sid,
        "newMessage": {"parts": [{"text": "hi"}]},
    }
    headers = {**api.headers(), "Accept": "text/event-stream"}
    async with api.http.post(api.url + "/run_sse", json=camel, headers=headers) as resp:
        assert resp.status == 422
        missing = {item["loc"][-1] for item in (await resp.json())["detail"]}
    assert missing == {"app_name", "user_id", "session_id", "new_message"}


@pytest.mark.parametrize("repeat", ["same", "new_user", "refuse"])
async def test_a_repeated_token_request_per_reading(
    nemo_sandbox_factory: Any, http: aiohttp.ClientSession, repeat: str
) -> None:
    sandbox = await nemo_sandbox_factory(repeat_token=repeat)
    api = Api(http, sandbox.url)
    first = await api.call("POST", TOKEN_PATH, headers={"X-Client-Id": "c-1"})
    second = await api.call("POST", TOKEN_PATH, headers={"X-Client-Id": "c-1"})
    assert first[0] == 200
    one = first[1]["data"]
    if repeat == "same":
        assert second[1]["data"]["token"] == one["token"]
    elif repeat == "new_user":
        two = second[1]["data"]
        assert two["token"] != one["token"] and two["user_id"] != one["user_id"]
    else:
        assert second[0] == 429 and float(second[2].headers["Retry-After"]) > 0
    # After expiry the same client id re-acquires, whatever the reading.
    sandbox.expire_token(one["token"])
    again = await api.call("POST", TOKEN_PATH, headers={"X-Client-Id": "c-1"})
    assert again[0] == 200 and again[1]["data"]["token"] != one["token"]


@pytest.mark.nemo_sandbox(heartbeat_style="named", heartbeat_interval=2.0)
async def test_named_heartbeat_events(api: Api) -> None:
    sid = await api.new_session()
    headers = {**api.headers(), "Accept": "text/event-stream"}
    async with api.http.post(
        api.url + "/run_sse", json=api.chat_body(sid, "animate into a 5-second clip"),
        headers=headers,
    ) as resp:  # fmt: skip
        body = await resp.read()
    assert b"event: heartbeat\ndata: {}\n\n" in body
    assert b"event: heartbeat\ndata: ping\n\n" in body


@pytest.mark.parametrize("ids", ["shared", "own"])
async def test_text_event_ids_per_reading(
    nemo_sandbox_factory: Any, http: aiohttp.ClientSession, ids: str
) -> None:
    sandbox = await nemo_sandbox_factory(event_ids=ids)
    api = Api(http, sandbox.url)
    await api.anonymous()
    sid = await api.new_session()
    events = [e for e in await api.chat(sid, "animate into a 5-second clip") if isinstance(e, dict)]

    def is_text(event: dict[str, Any]) -> bool:
        parts = (event.get("content") or {}).get("parts", [])
        return any("text" in p and not p.get("thought") for p in parts)

    texts = [e for e in events if is_text(e)]
    end = next(i for i, e in enumerate(texts) if not e.get("partial"))
    partials, final = texts[:end], texts[end]  # the first message: its chunks, then its repeat
    assert partials
    if ids == "shared":
        assert {e["id"] for e in partials} == {final["id"]}
    else:
        assert len({e["id"] for e in partials} | {final["id"]}) == len(partials) + 1


@pytest.mark.nemo_sandbox(video_analyses="object")
async def test_video_analyses_as_an_object(api: Api, small_png: bytes) -> None:
    sid = await api.new_session()
    await api.upload(sid, ("cat.png", small_png))
    await api.chat(sid, "animate this image into a 2-second clip")
    analyses = (await api.state(sid))["state"]["video_analyses"]
    assert isinstance(analyses, dict) and len(analyses) == 1
    (media_id, analysis), *_ = analyses.items()
    assert analysis["media_id"] == media_id


def test_parse_sse_helper_still_reads_named_blocks() -> None:
    assert parse_sse(b'data: {"a":1}\n\n') == [{"a": 1}]
    assert ATTRIBUTION["X-Skill-Source"]
