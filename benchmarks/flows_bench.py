"""P7: 1,000 ``animate`` flows against the sandbox, 100 at a time, 50 ms per request.

The sandbox runs in its own process (the client gets a core of its own, the server the other)
and delays every request, API and CDN alike, by 50 ms with a ``slow`` fault rule. The baseline
is the critical path: requests per flow (counted in the sandbox's request logs) x 50 ms x the
number of waves, ceil(flows / concurrency). Everything else is kept out of the way: simulated
time runs 100,000 times faster (a 300 s generation takes 3 ms), the render poll interval is
1 ms, and the renderer encodes each distinct video once and copies it afterwards.

Why the copy: the sandbox's renders are real H.264 + AAC files, and the AAC track of a 5 s
video costs about 100 ms of CPU whatever the picture size (``render_height=32``,
``render_fps=1`` take the picture to 7 ms). A thousand of them would keep both cores busy for
50 s and measure the sandbox's encoder, not the SDK.
"""

from __future__ import annotations

import asyncio
import math
import shutil
import struct
import tempfile
import threading
import time
import zlib
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from harness import TOKEN, Result, spawn

from nemovideo import NemoClient

__all__ = ["run_flows_benchmark", "tiny_png"]

_TIME_SCALE = 1e-5
_LATENCY = 0.05


def tiny_png(width: int = 64, height: int = 36) -> bytes:
    """A valid RGB PNG with a gradient, built with zlib alone."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(
        b"\x00" + b"".join(bytes((x * 4 % 256, y * 7 % 256, 128)) for x in range(width))
        for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def _reuse_renders() -> None:
    """Make the sandbox encode each distinct render plan once, then copy the file."""
    import nemovideo.sandbox.render as render_module

    real = render_module.render_mp4  # type: ignore[attr-defined]
    done: dict[Any, tuple[Path, float]] = {}
    lock = threading.Lock()

    def render_once(plan: Any, out_path: Path, should_stop: Any = lambda: False) -> float:
        key = (plan.width, plan.height, plan.fps, plan.duration_ms, len(plan.sounds))
        with lock:
            known = done.get(key)
        if known is None:
            duration = real(plan, out_path, should_stop)
            keep = Path(tempfile.mkdtemp(prefix="nemovideo-bench-")) / "render.mp4"
            shutil.copyfile(out_path, keep)
            with lock:
                done[key] = (keep, duration)
            return duration
        shutil.copyfile(known[0], out_path)
        return known[1]

    render_module.render_mp4 = render_once  # type: ignore[attr-defined]


def _sandbox_child(pipe: Connection, reuse_renders: bool) -> None:
    """Serve a sandbox; answer ``"count"`` with (API requests, CDN requests, CPU seconds)."""
    from nemovideo.sandbox import FaultRule, Sandbox

    if reuse_renders:
        _reuse_renders()

    async def main() -> None:
        slow = FaultRule(route="*", kind="slow", delay=_LATENCY / _TIME_SCALE)
        async with Sandbox(
            time_scale=_TIME_SCALE,
            render_height=32,
            render_fps=1,
            seed=0,
            tokens={TOKEN: "*"},
            registered_credits=10**9,
            faults=[slow],
            log_limit=10**7,
        ) as sandbox:
            pipe.send(sandbox.url)
            loop = asyncio.get_running_loop()
            while True:
                try:
                    message = await loop.run_in_executor(None, pipe.recv)
                except EOFError:
                    return
                if message != "count":
                    return
                core = sandbox.core
                pipe.send((len(core.requests), len(core.cdn_requests), time.process_time()))

    asyncio.run(main())


async def _flows(url: str, flows: int, concurrency: int, folder: Path) -> tuple[float, float]:
    image = ("frame.png", tiny_png())
    gate = asyncio.Semaphore(concurrency)
    async with NemoClient(
        url, token=TOKEN, journal_path=None, poll_interval=0.001, max_polls=100_000
    ) as client:

        async def one(index: int) -> None:
            async with gate:
                await client.animate(
                    image, "waves roll in", output=folder / f"{index}.mp4", journal=False
                )

        started, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(one(i) for i in range(flows)))
        return time.perf_counter() - started, time.process_time() - cpu


def _count(pipe: Connection) -> tuple[int, float]:
    pipe.send("count")
    api, cdn, cpu = pipe.recv()
    return int(api) + int(cdn), float(cpu)


def run_flows_benchmark(quick: bool, reuse_renders: bool = True) -> Result:
    """P7: wall time of the flows against the critical path, and CPU per flow."""
    flows = 200 if quick else 1000
    concurrency = 100
    child = spawn(_sandbox_child, reuse_renders)
    try:
        with tempfile.TemporaryDirectory(prefix="nemovideo-bench-") as tmp:
            folder = Path(tmp)
            asyncio.run(_flows(child.first, 1, 1, folder))  # warm: imports, first real encode
            requests_before, server_cpu_before = _count(child.pipe)
            wall, client_cpu = asyncio.run(_flows(child.first, flows, concurrency, folder))
            requests_after, server_cpu_after = _count(child.pipe)
    finally:
        child.stop()
    per_flow = (requests_after - requests_before) / flows
    waves = math.ceil(flows / concurrency)
    ideal = per_flow * _LATENCY * waves
    ratio = wall / ideal
    client_ms = client_cpu / flows * 1000
    server_ms = (server_cpu_after - server_cpu_before) / flows * 1000
    return Result(
        key="P7",
        workload=f"{flows:,} animate flows, {concurrency} at a time, 50 ms/request",
        figure=ratio,
        unit="x",
        target="<= 1.20 of ideal",
        passed=ratio <= 1.2,
        details={
            "flows": flows,
            "concurrency": concurrency,
            "requests_per_flow": per_flow,
            "ideal_s": ideal,
            "wall_s": wall,
            "client_cpu_ms_per_flow": client_ms,
            "sandbox_cpu_ms_per_flow": server_ms,
            "renders_reused": reuse_renders,
        },
        note=(
            f"wall {wall:.2f} s vs ideal {ideal:.2f} s ({per_flow:.1f} requests/flow x 50 ms x "
            f"{waves}); client CPU {client_ms:.1f} ms/flow, sandbox CPU {server_ms:.1f} ms/flow"
        ),
    )
