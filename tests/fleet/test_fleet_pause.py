"""One 429 pauses the fleet: every client sharing a ledger waits out a pause any of them met.

Two clients with two Journal objects on one ledger stand for two processes (two owners). The
sandbox answers 429 once to one of them; the other's next request waits, as the sandbox's
request log (arrival times) shows. A client with a ledger of its own goes on at once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nemovideo import NemoClient, RetryPolicy
from nemovideo.sandbox import FaultRule
from nemovideo.transport.retry import RateGate

PAUSE = 1.5  # real seconds the 429's Retry-After asks for

# The documented retry counts, short backoffs, and room for the 429's 1.5 s pause.
POLICY = RetryPolicy(backoff_initial=0.005, backoff_max=0.05, backoff_jitter=0.0,
                     rate_limit_wait=0.03, rate_limit_max_wait=5.0)  # fmt: skip


@pytest.mark.nemo_sandbox(initial_credits=10_000)
async def test_one_429_pauses_every_client_sharing_the_ledger(
    nemo_sandbox: Any, make_sandbox_client: Callable[..., NemoClient], ledger: object,
    tmp_path: Path,
) -> None:  # fmt: skip
    a = make_sandbox_client(retry=POLICY)
    b = make_sandbox_client(retry=POLICY)
    alone = make_sandbox_client(retry=POLICY, journal_path=tmp_path / "other" / "journal.db")
    assert a.journal is not None and b.journal is not None
    assert a.journal.owner != b.journal.owner  # two owners, as two processes
    for client in (a, b, alone):
        await client.credits.get()  # tokens acquired; each gate has read the shared pause
    await asyncio.sleep(1.05)  # older than the gates' one-second cache
    # The sandbox's clock runs 1000x: a Retry-After of 1500 simulated seconds is 1.5 s.
    nemo_sandbox.faults.script(
        "credits", [FaultRule(route="credits", kind="rate_limit", retry_after=PAUSE * 1000)]
    )
    first = asyncio.ensure_future(a.credits.get())  # refused once, waits, then answered
    book = a.journal
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while await asyncio.to_thread(book.paused_until, str(a.config.base_url)) == 0.0:
        assert loop.time() < deadline, "the pause never reached the ledger"
        await asyncio.sleep(0.01)
    refused = next(r for r in nemo_sandbox.requests if r.status == 429)
    await asyncio.gather(b.session.create(), alone.session.create())
    await first
    sessions = [r for r in nemo_sandbox.requests if r.route == "session"]
    assert len(sessions) == 2
    waited = sorted(r.at - refused.at for r in sessions)
    # The client with a ledger of its own went at once; the one sharing the ledger waited.
    assert waited[0] < 0.5 * PAUSE, waited
    assert waited[1] >= PAUSE - 0.15, waited
    retried = [r for r in nemo_sandbox.requests if r.route == "credits" and r.at > refused.at]
    assert retried and retried[0].at - refused.at >= PAUSE - 0.15


class _Recorder:
    def __init__(self) -> None:
        self.until = 0.0
        self.reads = 0

    async def pause_until(self, ts: float) -> None:
        self.until = max(self.until, ts)

    async def paused_until(self) -> float:
        self.reads += 1
        return self.until


async def test_the_gate_reads_the_shared_pause_at_most_once_a_refresh() -> None:
    shared = _Recorder()
    gate = RateGate(shared, refresh=0.2)
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        await asyncio.sleep(seconds)

    for _ in range(50):  # a burst of requests: one read of the shared pause
        if gate.holding:
            await gate.wait(sleep)
    assert shared.reads == 1 and slept == []
    await asyncio.sleep(0.21)
    shared.until = time.time() + 0.3  # another process met a 429
    assert gate.holding
    await gate.wait(sleep)
    assert shared.reads == 2 and len(slept) == 1 and 0.2 < slept[0] <= 0.3
    gate.block(0.05)  # a 429 here is told to the others
    await asyncio.sleep(0)
    assert shared.until >= time.time()


async def test_a_failing_shared_pause_never_fails_a_request() -> None:
    class Broken:
        async def pause_until(self, ts: float) -> None:
            raise OSError("down")

        async def paused_until(self) -> float:
            raise OSError("down")

    gate = RateGate(Broken())
    assert gate.holding
    await gate.wait(asyncio.sleep)  # read failed: logged, no pause
    gate.block(0.01)
    await asyncio.sleep(0.02)
    assert not gate.holding
