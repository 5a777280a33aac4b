"""P9 and P10: many flows in flight at once, and resuming interrupted ones, against the sandbox.

The sandbox runs in its own process, as for P7 (a clock 100,000 times faster than real time,
each distinct render encoded once, a ``slow`` fault on every route standing for the network).

- P9, many in flight: N ``animate`` flows started at once on one client, in a fresh
  interpreter, against the same N flows made with bare aiohttp in another. Per flow: the peak
  RSS growth over the run (the kernel's exact peak, reset just before) and the peak of open
  sockets (sampled from ``/proc/self/fd`` every few milliseconds). Both clients may hold the
  SDK's default 100 connections, so the sockets per flow show that a thousand flows share a
  bounded pool instead of opening a connection each.
- P10, resume: N flows run as a batch and are cancelled once every one of them has sent its
  chat message and reached its render (the sandbox holds the render requests, so none can
  finish first); the journal then holds N pending flows, which ``client.resume(journal)``
  finishes. The baseline is the batch that made them, run to the end without interruption on
  the same items with the same bounded concurrency: resuming must cost less than doing the
  work again. Only public calls are used (``animate_many``, ``Journal(path)``,
  ``journal.pending()``, ``client.resume()``), so the row measures any journal format.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import aiohttp
from flows_bench import _bare_flow, _reuse_renders, tiny_png
from harness import TOKEN, Result, peak_rss_tracker, run_in_child, spawn

__all__ = ["run_inflight_benchmark", "run_resume_benchmark"]

_TIME_SCALE = 1e-5
#: Simulated seconds a held render request waits: about three hours of real time, i.e. forever.
_HOLD = 1e9
#: The SDK's default connection pool; the bare side gets the same.
_CONNECTIONS = 100
#: P9's bound: a thousand flows in flight within 64 MiB (bare aiohttp needs 20-30 KiB a flow).
_KIB_PER_FLOW = 64
_PROMPT = "waves roll in"


def _sandbox_child(pipe: Connection, latency: float) -> None:
    """Serve a sandbox delaying every request by ``latency`` seconds; answer the parent.

    Messages: ``"hold"`` (render starts wait forever from now on), ``"release"`` (they no
    longer do), ``"held"`` (how many render starts arrived since the hold began).
    """
    from nemovideo.sandbox import FaultRule, Sandbox

    _reuse_renders()

    async def main() -> None:
        slow = FaultRule(route="*", kind="slow", delay=latency / _TIME_SCALE)
        hold = FaultRule(route="render_start", kind="slow", delay=_HOLD)
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
            held_from = 0

            def render_starts() -> int:
                return sum(1 for r in sandbox.core.requests if r.route == "render_start")

            while True:
                try:
                    message = await loop.run_in_executor(None, pipe.recv)
                except EOFError:
                    return
                if message == "hold":
                    sandbox.faults.clear()  # the first matching rule wins: the hold goes first
                    sandbox.faults.add(hold)
                    sandbox.faults.add(slow)
                    held_from = render_starts()
                    pipe.send(True)
                elif message == "release":
                    sandbox.faults.remove(hold)
                    pipe.send(True)
                elif message == "held":
                    pipe.send(render_starts() - held_from)
                else:
                    return

    asyncio.run(main())


def _ask(pipe: Connection, message: str) -> Any:
    pipe.send(message)
    return pipe.recv()


# -- P9: many in flight ------------------------------------------------------------------------


def _open_sockets() -> int:
    count = 0
    for name in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # closed since the listing
            if os.readlink(f"/proc/self/fd/{name}").startswith("socket:"):
                count += 1
    return count


@contextlib.asynccontextmanager
async def _socket_peak(every: float = 0.005) -> AsyncIterator[Callable[[], int]]:
    """Sample the open sockets while the block runs; yields a function giving the peak."""
    peak = _open_sockets()

    async def sample() -> None:
        nonlocal peak
        while True:
            peak = max(peak, _open_sockets())
            await asyncio.sleep(every)

    task = asyncio.ensure_future(sample())
    try:
        yield lambda: peak
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _in_flight(url: str, side: str, flows: int, folder: Path) -> dict[str, float]:
    from nemovideo import NemoClient

    image = tiny_png()
    async with (
        NemoClient(
            url,
            token=TOKEN,
            journal_path=None,
            poll_interval=0.001,
            max_polls=100_000,
            connection_limit=_CONNECTIONS,
        ) as client,
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=_CONNECTIONS)) as http,
    ):
        headers = {"Authorization": f"Bearer {TOKEN}", **client.config.attribution.headers()}

        async def one(index: int) -> None:
            dest = folder / f"{side}{index}.mp4"
            if side == "sdk":
                await client.animate(("frame.png", image), _PROMPT, output=dest, journal=False)
            else:
                await _bare_flow(http, url, headers, image, dest)

        for index in range(2):  # warm: imports, a connection, the one real encode
            await one(-1 - index)
        baseline_sockets = _open_sockets()
        growth = peak_rss_tracker()
        started, cpu = time.perf_counter(), time.process_time()
        async with _socket_peak() as sockets:
            await asyncio.gather(*(one(i) for i in range(flows)))
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        rss = growth()
        peak_sockets = sockets()
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "rss_mib": rss,
        "sockets_peak": float(peak_sockets),
        "sockets_before": float(baseline_sockets),
    }


def _in_flight_child(pipe: Connection, url: str, side: str, flows: int) -> None:
    with tempfile.TemporaryDirectory(prefix="nemovideo-bench-") as tmp:
        pipe.send(asyncio.run(_in_flight(url, side, flows, Path(tmp))))


def run_inflight_benchmark(quick: bool) -> Result:
    """P9: peak RSS and open sockets per flow, N flows at once, SDK against bare aiohttp."""
    flows = 200 if quick else 1000
    sandbox = spawn(_sandbox_child, 0.05)
    try:
        runs = {
            side: run_in_child(_in_flight_child, sandbox.first, side, flows, timeout=300)
            for side in ("sdk", "bare")
        }
    finally:
        sandbox.stop()
    kib = {side: run["rss_mib"] * 1024 / flows for side, run in runs.items()}
    sockets = {side: run["sockets_peak"] / flows for side, run in runs.items()}
    return Result(
        key="P9",
        workload=f"{flows:,} animate flows in flight at once, 50 ms/request",
        figure=kib["sdk"],
        unit="KiB/flow",
        target=f"<= {_KIB_PER_FLOW} KiB/flow; sockets < 2x pool",
        # Sockets closing (a server's `Connection: close`) linger until the loop's next turn,
        # so the peak may pass the pool a little; a socket per flow would pass it tenfold.
        passed=kib["sdk"] <= _KIB_PER_FLOW and runs["sdk"]["sockets_peak"] < 2 * _CONNECTIONS,
        details={
            "flows": flows,
            "connection_limit": _CONNECTIONS,
            "sdk_rss_kib_per_flow": kib["sdk"],
            "rss_vs_bare": kib["sdk"] / kib["bare"] if kib["bare"] > 0 else None,
            "bare_rss_kib_per_flow": kib["bare"],
            "sdk_sockets_per_flow": sockets["sdk"],
            "bare_sockets_per_flow": sockets["bare"],
            **{f"{side}_{key}": value for side, run in runs.items() for key, value in run.items()},
        },
        note=(
            f"peak RSS per flow: SDK {kib['sdk']:.1f} KiB, bare aiohttp {kib['bare']:.1f} KiB; "
            f"open sockets at the peak: SDK {runs['sdk']['sockets_peak']:.0f} "
            f"({sockets['sdk']:.3f} per flow), bare {runs['bare']['sockets_peak']:.0f} "
            f"({sockets['bare']:.3f}); wall SDK {runs['sdk']['wall_s']:.2f} s, "
            f"bare {runs['bare']['wall_s']:.2f} s"
        ),
    )


# -- P10: resume -------------------------------------------------------------------------------


def _client(url: str, journal: Path, connections: int = _CONNECTIONS) -> Any:
    from nemovideo import NemoClient

    return NemoClient(
        url,
        token=TOKEN,
        journal_path=journal,
        poll_interval=0.001,
        max_polls=100_000,
        connection_limit=connections,
    )


def _resume_options(client: Any, concurrency: int) -> dict[str, int]:
    """``concurrency`` for ``client.resume`` when it takes one (else it runs one at a time)."""
    parameters = inspect.signature(client.resume).parameters
    return {"concurrency": concurrency} if "concurrency" in parameters else {}


async def _resume_round(
    url: str, pipe: Connection, folder: Path, flows: int, concurrency: int
) -> dict[str, Any]:
    """One batch run to the end, one cut short at the render step and its resume."""
    from nemovideo import AnimateItem, Journal

    image = folder / "frame.png"
    image.write_bytes(tiny_png())
    items = [AnimateItem(str(image), _PROMPT) for _ in range(flows)]

    # The baseline: the same flows as one batch, run to the end.
    (folder / "whole").mkdir()
    async with _client(url, folder / "whole.journal") as client:
        started = time.perf_counter()
        whole = [
            r
            async for r in client.animate_many(
                items, concurrency=concurrency, output_dir=folder / "whole"
            )
        ]
        batch_wall = time.perf_counter() - started
    if sum(r.ok for r in whole) != flows:
        raise RuntimeError(f"P10: the batch finished {sum(r.ok for r in whole)} of {flows}")

    # The interrupted batch: every flow in flight, cancelled once all are at their render.
    (folder / "cut").mkdir()
    journal_path = folder / "cut.journal"
    _ask(pipe, "hold")
    # Each held render start keeps its connection: room for all of them, and the rest.
    async with _client(url, journal_path, connections=2 * flows) as client:

        async def run_batch() -> None:
            batch = client.animate_many(items, concurrency=flows, output_dir=folder / "cut")
            async for _ in batch:
                pass

        task = asyncio.ensure_future(run_batch())
        deadline = time.perf_counter() + 120
        while _ask(pipe, "held") < flows:
            if task.done() or time.perf_counter() > deadline:
                raise RuntimeError(f"P10: only {_ask(pipe, 'held')} of {flows} flows got held")
            await asyncio.sleep(0.01)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    _ask(pipe, "release")

    journal = Journal(journal_path)
    pending = len(journal.pending())
    if pending != flows:
        raise RuntimeError(f"P10: the journal holds {pending} pending flows, not {flows}")
    async with _client(url, journal_path) as client:
        options = _resume_options(client, concurrency)
        started = time.perf_counter()
        resumed = await client.resume(journal, **options)
        resume_wall = time.perf_counter() - started
    finished = sum(r.ok for r in resumed)
    if finished != flows:
        errors = {type(r.error).__name__ for r in resumed if r.error is not None}
        raise RuntimeError(f"P10: resume finished {finished} of {flows} flows ({errors})")
    return {
        "batch_wall_s": batch_wall,
        "resume_wall_s": resume_wall,
        "resume_concurrency": options.get("concurrency", 1),
        "left_pending": len(journal.pending()),
    }


def run_resume_benchmark(quick: bool) -> Result:
    """P10: ``client.resume`` of N interrupted flows against the batch that made them."""
    flows = 20 if quick else 200
    concurrency = 10
    latency = 0.01
    rounds = 1 if quick else 2
    sandbox = spawn(_sandbox_child, latency)
    runs: list[dict[str, Any]] = []
    try:
        for _ in range(rounds):
            with tempfile.TemporaryDirectory(prefix="nemovideo-bench-") as tmp:
                runs.append(
                    asyncio.run(
                        _resume_round(sandbox.first, sandbox.pipe, Path(tmp), flows, concurrency)
                    )
                )
    finally:
        sandbox.stop()
    batch = statistics.median(r["batch_wall_s"] for r in runs)
    resume = statistics.median(r["resume_wall_s"] for r in runs)
    ratio = resume / batch
    resume_concurrency = runs[0]["resume_concurrency"]
    return Result(
        key="P10",
        workload=f"resume {flows:,} interrupted flows, {concurrency} at a time",
        figure=ratio,
        unit="x",
        target="<= 1.00 of the batch",
        passed=ratio <= 1.0 and all(r["left_pending"] == 0 for r in runs),
        details={
            "flows": flows,
            "concurrency": concurrency,
            "resume_concurrency": resume_concurrency,
            "latency_s": latency,
            "batch_wall_s": batch,
            "resume_wall_s": resume,
            "batch_ms_per_flow": batch / flows * 1000,
            "resume_ms_per_flow": resume / flows * 1000,
            "rounds": runs,
        },
        note=(
            f"resume {resume:.2f} s ({resume / flows * 1000:.0f} ms/flow, "
            f"{resume_concurrency} at a time) against the uninterrupted batch {batch:.2f} s "
            f"({batch / flows * 1000:.0f} ms/flow, {concurrency} at a time), "
            f"{latency * 1000:.0f} ms/request"
        ),
    )
