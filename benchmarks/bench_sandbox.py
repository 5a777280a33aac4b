"""Load test of the sandbox: N concurrent session + upload + chat + state flows, bare aiohttp.

Run: ``python benchmarks/bench_sandbox.py [--flows 1000] [--renders 20] [--in-process]``

The sandbox (``time_scale=0.001``, ``render_height=144``) runs in a child process by default, so
the server and the load generator each get a core, as they would in a real test run; pass
``--in-process`` to share one event loop. Prints flows per second, latency percentiles and
errors by kind; the exit status is 1 when any flow failed.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import multiprocessing
import statistics
import sys
import time
from multiprocessing.connection import Connection
from typing import Any

import aiohttp

from nemovideo.sandbox import Sandbox
from nemovideo.sandbox.media import encode_image, gradient

TOKEN = "nmv_usr_bench"
OPTIONS: dict[str, Any] = {
    "time_scale": 0.001,
    "render_height": 144,
    "seed": 0,
    "tokens": {TOKEN: "*"},
    "registered_credits": 10**9,
}
HEADERS = {
    "Authorization": f"Bearer {TOKEN}",
    "X-Skill-Source": "bench",
    "X-Skill-Version": "1.0",
    "X-Skill-Platform": "unknown",
}


def _serve_in_child(pipe: Connection) -> None:
    async def main() -> None:
        async with Sandbox(**OPTIONS) as sandbox:
            pipe.send(sandbox.url)
            await asyncio.get_running_loop().run_in_executor(None, pipe.recv)  # until told

    asyncio.run(main())


async def _json(resp: aiohttp.ClientResponse) -> Any:
    body = await resp.json()
    if resp.status != 200 or (isinstance(body, dict) and body.get("code") not in (None, 0)):
        raise RuntimeError(f"HTTP {resp.status} code {body.get('code')}")
    return body.get("data", body)


async def flow(http: aiohttp.ClientSession, url: str, image: bytes, render: bool) -> float:
    """One user's flow; returns its duration in seconds."""
    started = time.perf_counter()
    async with http.post(
        url + "/api/tasks/me/with-session/nemo_agent",
        json={"task_name": "bench", "language": "en"},
        headers=HEADERS,
    ) as resp:
        sid = (await _json(resp))["session_id"]
    form = aiohttp.FormData()
    form.add_field("files", image, filename="frame.png", content_type="image/png")
    async with http.post(
        f"{url}/api/upload-video/nemo_agent/me/{sid}", data=form, headers=HEADERS
    ) as resp:
        await _json(resp)
    message = {
        "app_name": "nemo_agent",
        "user_id": "me",
        "session_id": sid,
        "new_message": {"parts": [{"text": "animate this image into a 3-second clip"}]},
    }
    async with http.post(url + "/run_sse", json=message, headers=HEADERS) as resp:
        if resp.status != 200:
            raise RuntimeError(f"run_sse HTTP {resp.status}")
        async for _ in resp.content.iter_any():
            pass
    async with http.get(f"{url}/api/state/nemo_agent/me/{sid}/latest", headers=HEADERS) as resp:
        draft = (await _json(resp))["state"]["draft"]
    if len(draft["t"]) != 3:
        raise RuntimeError("draft without the three tracks")
    if render:
        job = {"id": f"render_{sid}", "sessionId": sid, "draft": draft, "output": {"format": "mp4"}}
        async with http.post(url + "/api/render/proxy/lambda", json=job, headers=HEADERS) as resp:
            await _json(resp)
        while True:
            await asyncio.sleep(0.05)
            async with http.get(
                f"{url}/api/render/proxy/lambda/render_{sid}", headers=HEADERS
            ) as r:
                status = (await _json(r))["status"]
            if status == "failed":
                raise RuntimeError("render failed")
            if status == "completed":
                break
    return time.perf_counter() - started


async def run(url: str, flows: int, renders: int) -> int:
    image = encode_image(gradient(64, 36), "png")
    errors: collections.Counter[str] = collections.Counter()
    durations: list[float] = []
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:

        async def one(index: int) -> None:
            try:
                durations.append(await flow(http, url, image, index < renders))
            except Exception as exc:  # counted, the run goes on
                errors[f"{type(exc).__name__}: {exc}"[:100]] += 1

        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(flows)))
        wall = time.perf_counter() - started
    print(f"{flows} concurrent flows ({renders} with a render) in {wall:.2f} s")
    print(f"throughput: {flows / wall:.1f} flows/s")
    if durations:
        durations.sort()
        p95 = durations[int(len(durations) * 0.95) - 1]
        print(
            f"flow latency: median {statistics.median(durations):.2f} s, "
            f"p95 {p95:.2f} s, max {durations[-1]:.2f} s"
        )
    print(f"errors: {sum(errors.values())}")
    for kind, count in errors.most_common():
        print(f"  {count} x {kind}")
    return 1 if errors else 0


async def main_async(args: argparse.Namespace) -> int:
    if args.in_process:
        async with Sandbox(**OPTIONS) as sandbox:
            return await run(sandbox.url, args.flows, args.renders)
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=_serve_in_child, args=(child,), daemon=True)
    process.start()
    try:
        url = await asyncio.get_running_loop().run_in_executor(None, parent.recv)
        return await run(url, args.flows, args.renders)
    finally:
        parent.send("stop")
        process.join(10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flows", type=int, default=1000)
    parser.add_argument("--renders", type=int, default=20, help="flows that also export")
    parser.add_argument("--in-process", action="store_true", help="share one event loop")
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
