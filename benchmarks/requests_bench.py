"""P1-P3: requests and the chat stream, the SDK against bare aiohttp, on the local server.

Both sides send the same requests with the same headers to the same server process, over one
kept-alive connection pool each, and read the whole answer: the SDK's figure includes its
retry controller, middlewares, envelope decoding and typed models, which is the point.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from harness import TOKEN, Result, Timing, interleave_async

from nemovideo import NemoClient
from nemovideo.transport.middleware import AttributionMiddleware
from nemovideo.transport.retry import RequestKind

__all__ = ["run_requests_benchmarks"]

_SID = "4879088202122200706"


def _headers(client: NemoClient) -> dict[str, str]:
    """What the SDK sends with every API request, so the baseline sends the same bytes."""
    return {"Authorization": f"Bearer {TOKEN}", **client.config.attribution.headers()}


def _timed(body: Callable[[], Awaitable[Any]], cpu: Timing) -> Callable[[], Awaitable[float]]:
    async def run() -> float:
        started, cpu_started = time.perf_counter(), time.process_time()
        await body()
        cpu.samples.append(time.process_time() - cpu_started)
        return time.perf_counter() - started

    return run


async def _spread(calls: int, workers: int, one: Callable[[], Awaitable[Any]]) -> None:
    """``calls`` calls of ``one`` by ``workers`` concurrent callers, each one after the other."""

    async def worker(share: int) -> None:
        for _ in range(share):
            await one()

    shares = [calls // workers + (1 if i < calls % workers else 0) for i in range(workers)]
    await asyncio.gather(*(worker(share) for share in shares))


def _ratio_row(
    key: str,
    workload: str,
    timings: dict[str, Timing],
    cpu: dict[str, Timing],
    bound: float,
    per: int,
    unit: str,
) -> Result:
    sdk, bare = timings["sdk"].median, timings["bare"].median
    ratio = sdk / bare
    cpu_sdk, cpu_bare = cpu["sdk"].median, cpu["bare"].median
    return Result(
        key=key,
        workload=workload,
        figure=ratio,
        unit="x",
        target=f"<= {bound:.2f}",
        passed=ratio <= bound,
        details={
            "sdk_median_s": sdk,
            "bare_median_s": bare,
            "sdk_samples_s": timings["sdk"].samples,
            "bare_samples_s": timings["bare"].samples,
            f"sdk_us_per_{unit}": sdk / per * 1e6,
            f"bare_us_per_{unit}": bare / per * 1e6,
            f"sdk_cpu_us_per_{unit}": cpu_sdk / per * 1e6,
            f"bare_cpu_us_per_{unit}": cpu_bare / per * 1e6,
            "cpu_ratio": cpu_sdk / cpu_bare,
        },
    )


#: The SDK's layers, each measured on top of the one before (see _bench_state).
LAYERS = ("bare", "middleware", "transport", "sdk")


async def _bench_state(
    url: str, calls: int, workers: int, rounds: int, key: str, workload: str, layers: bool
) -> Result:
    """``state.get`` against bare aiohttp; with ``layers``, also the layers in between.

    The layers, each adding one part of the SDK to the one before, interleaved in the same
    rounds: ``middleware`` is bare aiohttp with the SDK's attribution middleware (which adds
    the attribution headers); ``transport`` is the SDK's transport (token, retry table,
    envelope decoding) returning the decoded JSON; ``sdk`` adds the typed ``SessionState``.
    """
    async with NemoClient(url, token=TOKEN, journal_path=None) as client:
        headers = _headers(client)
        state_url = f"{url}/api/state/nemo_agent/me/{_SID}/latest"
        state_path = f"/api/state/nemo_agent/me/{_SID}/latest"
        attribution = AttributionMiddleware(client.config.base_url, client.config.attribution)
        token_only = {"Authorization": headers["Authorization"]}
        transport = client._transport
        async with (
            aiohttp.ClientSession() as http,
            aiohttp.ClientSession(middlewares=(attribution,)) as with_middleware,
        ):

            async def sdk_one() -> None:
                await client.state.get(_SID)

            async def bare_one() -> None:
                async with http.get(state_url, headers=headers) as response:
                    await response.json()

            async def middleware_one() -> None:
                async with with_middleware.get(state_url, headers=token_only) as response:
                    await response.json()

            async def transport_one() -> None:
                await transport.request("GET", state_path, kind=RequestKind.READ)

            ones = {
                "bare": bare_one,
                "middleware": middleware_one,
                "transport": transport_one,
                "sdk": sdk_one,
            }
            names = LAYERS if layers else ("sdk", "bare")
            cpu = {name: Timing() for name in names}
            sides = {
                name: _timed(lambda one=ones[name]: _spread(calls, workers, one), cpu[name])
                for name in names
            }
            timings = await interleave_async(sides, rounds)
    for side in cpu.values():
        del side.samples[:1]  # the warm-up round's
    row = _ratio_row(key, workload, timings, cpu, 1.10, calls, "call")
    if layers:
        row.details["layers_cpu_us_per_call"] = {
            name: cpu[name].median / calls * 1e6 for name in names
        }
        row.details["layers_us_per_call"] = {
            name: timings[name].median / calls * 1e6 for name in names
        }
        steps = [f"{name} {cpu[name].median / calls * 1e6:.0f}" for name in names]
        row.note = "CPU us per call, one layer at a time: " + ", ".join(steps)
    return row


async def _bench_stream(url: str, events: int, rounds: int) -> Result:
    session_id = f"events-{events}"
    async with NemoClient(url, token=TOKEN, journal_path=None) as client:
        headers = {**_headers(client), "Accept": "text/event-stream"}
        message = {
            "app_name": "nemo_agent",
            "user_id": "me",
            "session_id": session_id,
            "new_message": {"parts": [{"text": "animate this image"}]},
        }
        counts = {"sdk": 0, "bare": 0}
        async with aiohttp.ClientSession() as http:

            async def sdk() -> None:
                seen = 0
                async with client.chat.stream(session_id, "animate this image") as stream:
                    async for _ in stream:
                        seen += 1
                counts["sdk"] = seen

            async def bare() -> None:
                seen = 0
                async with http.post(url + "/run_sse", json=message, headers=headers) as response:
                    async for line in response.content:
                        if line.startswith(b"data: "):
                            json.loads(line[6:])
                            seen += 1
                counts["bare"] = seen

            cpu = {"sdk": Timing(), "bare": Timing()}
            sides = {"sdk": _timed(sdk, cpu["sdk"]), "bare": _timed(bare, cpu["bare"])}
            timings = await interleave_async(sides, rounds)
    for side in cpu.values():
        del side.samples[:1]
    if counts["bare"] != events or counts["sdk"] < events:
        raise RuntimeError(f"P3 read the wrong number of events: {counts} of {events}")
    row = _ratio_row(
        "P3", f"chat.stream of {events:,} ADK events", timings, cpu, 1.30, events, "event"
    )
    row.details["events"] = events
    row.details["body_mb"] = events * 200 / 1e6
    return row


async def _run(url: str, quick: bool) -> list[Result]:
    calls = 200 if quick else 2000
    rounds = 3 if quick else 7
    events = 10_000 if quick else 100_000
    return [
        await _bench_state(url, calls, 1, rounds, "P1", f"{calls:,} sequential state.get", False),
        await _bench_state(
            url, calls, 64, rounds, "P2", f"{calls:,} state.get, 64 callers", layers=True
        ),
        await _bench_stream(url, events, 3 if quick else 5),
    ]


def run_requests_benchmarks(url: str, quick: bool) -> list[Result]:
    """P1, P2 and P3 against the local server at ``url``."""
    return asyncio.run(_run(url, quick))
