"""Fault injection: every kind is injected and observable, and seeded runs replay."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import pytest

from nemovideo.sandbox import FaultRule, Sandbox
from tests.sandbox.support import Api, adk_events, parse_sse

CREDITS = "/api/credits/balance/simple"


async def test_rate_limit_has_a_scaled_fractional_retry_after(
    nemo_sandbox: Sandbox, api: Api
) -> None:
    nemo_sandbox.faults.add(FaultRule(route="credits", kind="rate_limit", retry_after=30, times=1))
    status, body, resp = await api.call("GET", CREDITS)
    assert status == 429 and body["code"] == 429
    assert resp.headers["Retry-After"] == "0.03"
    assert (await api.credits())["available"] == 100  # times=1: the next one passes
    assert nemo_sandbox.faults.injected["rate_limit"] == 1
    assert nemo_sandbox.requests[-2].fault == "rate_limit"


async def test_http_errors_as_html_pages_or_json(nemo_sandbox: Sandbox, api: Api) -> None:
    nemo_sandbox.faults.script(
        "credits",
        [FaultRule(route="credits", kind="http_error", status=502, html=True),
         FaultRule(route="credits", kind="http_error", status=503), None],
    )  # fmt: skip
    status, body, resp = await api.call("GET", CREDITS)
    assert status == 502 and resp.content_type == "text/html"
    assert b"502 Bad Gateway" in body and body.lstrip().startswith(b"<html>")
    status, body, resp = await api.call("GET", CREDITS)
    assert status == 503 and body["code"] == 503
    status, body, _ = await api.call("GET", CREDITS)
    assert status == 200
    assert nemo_sandbox.faults.injected["http_error"] == 2


async def test_slow_answers_wait_on_the_scaled_clock(nemo_sandbox: Sandbox, api: Api) -> None:
    nemo_sandbox.faults.add(FaultRule(route="state", kind="slow", delay=200))
    sid = await api.new_session()
    started = time.monotonic()
    await api.state(sid)
    assert time.monotonic() - started >= 0.2 * 0.9
    assert nemo_sandbox.faults.injected["slow"] == 1


async def test_drop_mid_body_breaks_the_answer(nemo_sandbox: Sandbox, api: Api) -> None:
    nemo_sandbox.faults.add(FaultRule(route="credits", kind="drop_mid_body", after_bytes=10))
    with pytest.raises(aiohttp.ClientError):
        await api.call("GET", CREDITS)
    assert nemo_sandbox.faults.injected["drop_mid_body"] == 1


async def test_truncated_cdn_download(nemo_sandbox: Sandbox, api: Api, sunset_jpeg: bytes) -> None:
    sid = await api.new_session()
    _, body = await api.upload(sid, ("sunset.jpg", sunset_jpeg))
    url = body["data"]["files"][0]["cdn_url"]
    nemo_sandbox.faults.add(FaultRule(route="cdn", kind="truncate", times=1))
    async with api.http.get(url) as resp:
        assert int(resp.headers["Content-Length"]) == len(sunset_jpeg)
        with pytest.raises(aiohttp.ClientPayloadError):
            await resp.read()
    async with api.http.get(url) as resp:
        assert await resp.read() == sunset_jpeg
    assert [r.fault for r in nemo_sandbox.cdn_requests] == ["truncate", None]


async def test_dropped_stream_still_finishes_the_work_server_side(
    nemo_sandbox: Sandbox, api: Api
) -> None:
    sid = await api.new_session()
    nemo_sandbox.faults.add(FaultRule(route="run_sse", kind="drop_mid_stream", after_events=3))
    received = bytearray()

    async def listen() -> None:
        async with api.http.post(
            api.url + "/run_sse", json=api.chat_body(sid, "generate a clip"), headers=api.headers()
        ) as resp:
            async for chunk in resp.content.iter_any():
                received.extend(chunk)

    with pytest.raises(aiohttp.ClientError):
        await listen()
    assert len(adk_events(parse_sse(bytes(received)))) == 3
    await nemo_sandbox.idle()
    draft = (await api.state(sid))["state"]["draft"]
    assert [t["tt"] for t in draft["t"]] == [0, 1, 7]  # the work went on
    assert len(nemo_sandbox.chat_deliveries) == 1 and not nemo_sandbox.duplicate_deliveries()
    assert await api.credits() == {"available": 0, "frozen": 0, "total": 0}


async def test_error_inside_the_stream_refunds_the_credits(nemo_sandbox: Sandbox, api: Api) -> None:
    sid = await api.new_session()
    nemo_sandbox.faults.add(FaultRule(route="run_sse", kind="stream_error", after_events=2))
    items = await api.chat(sid, "generate a clip")
    last = items[-1]
    assert last["error"].startswith("RuntimeError: ")
    assert last["error_details"]["error_type"] == "RuntimeError"
    assert await api.credits() == {"available": 100, "frozen": 0, "total": 100}
    assert (await api.state(sid))["state"]["draft"]["t"] == []


async def test_model_error_event(nemo_sandbox: Sandbox, api: Api) -> None:
    sid = await api.new_session()
    nemo_sandbox.faults.add(FaultRule(route="run_sse", kind="model_error", after_events=0))
    events = adk_events(await api.chat(sid, "hello"))
    assert len(events) == 1
    assert events[0]["errorCode"] and events[0]["errorMessage"] and events[0]["turnComplete"]


async def test_render_fail_fault(nemo_sandbox: Sandbox, api: Api) -> None:
    sid = await api.new_session()
    await api.chat(sid, "generate a 1 second clip")
    draft = (await api.state(sid))["state"]["draft"]
    nemo_sandbox.faults.add(FaultRule(route="render_start", kind="render_fail"))
    await api.render(sid, "render_bad", draft)
    assert (await api.wait_render("render_bad"))["status"] == "failed"
    assert nemo_sandbox.faults.injected["render_fail"] == 1


async def test_token_expires_mid_flow(nemo_sandbox: Sandbox, api: Api) -> None:
    nemo_sandbox.faults.add(FaultRule(route="*", kind="token_expiry", after_requests=2, times=1))
    sid = await api.new_session()  # 1st authenticated request
    await api.state(sid)  # 2nd
    _, body, _ = await api.call("GET", CREDITS)  # 3rd: the token has expired
    assert body["code"] == 1001
    _, body, _ = await api.call("GET", CREDITS)
    assert body["code"] == 1001  # and stays expired
    await api.anonymous()  # same client id: a fresh token, same user
    assert (await api.state(sid))["session_id"] == sid


def test_rules_are_validated() -> None:
    with pytest.raises(ValueError, match="route"):
        FaultRule(route="nowhere", kind="slow")
    with pytest.raises(ValueError, match="cannot happen"):
        FaultRule(route="state", kind="drop_mid_stream")
    with pytest.raises(ValueError, match="probability"):
        FaultRule(route="state", kind="slow", probability=2)


async def _scenario(sb: Sandbox, http: aiohttp.ClientSession) -> tuple[Any, ...]:
    """A fixed flow under probabilistic faults; returns what it observed."""
    sb.faults.add(FaultRule(route="state", kind="http_error", status=500, probability=0.5))
    api = Api(http, sb.url)
    await api.anonymous()
    sid = await api.new_session()
    statuses = [(await api.call("GET", f"/api/state/nemo_agent/me/{sid}/latest"))[0]
                for _ in range(12)]  # fmt: skip
    sb.faults.clear()
    items = await api.chat(sid, "generate a clip")
    events = [{k: v for k, v in e.items() if k != "timestamp"} for e in adk_events(items)]
    text = repr(events).replace(sb.cdn_url, "CDN")
    draft = repr((await api.state(sid))["state"]["draft"]).replace(sb.cdn_url, "CDN")
    return sid, statuses, text, draft, dict(sb.faults.injected)


async def test_a_seeded_scenario_replays_identically(
    nemo_sandbox_factory, http: aiohttp.ClientSession
) -> None:
    first = await _scenario(await nemo_sandbox_factory(seed=7), http)
    second = await _scenario(await nemo_sandbox_factory(seed=7), http)
    other = await _scenario(await nemo_sandbox_factory(seed=8), http)
    assert first == second
    assert 500 in first[1] and 200 in first[1]
    assert other != first


async def test_probability_and_times_limit_injections(nemo_sandbox: Sandbox, api: Api) -> None:
    nemo_sandbox.faults.add(FaultRule(route="credits", kind="rate_limit", probability=0.5, times=3))
    results = await asyncio.gather(*(api.call("GET", CREDITS) for _ in range(40)))
    assert sum(status == 429 for status, _, _ in results) == 3
    nemo_sandbox.faults.clear()
    assert nemo_sandbox.faults.rules == ()
    assert nemo_sandbox.faults.injected["rate_limit"] == 3
