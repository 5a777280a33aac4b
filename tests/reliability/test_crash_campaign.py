"""A crash campaign: processes killed at random points of 50 flows and of their resumes.

Five processes animate ten images each and are killed (SIGKILL or SIGTERM) at random moments;
then two resumers run at once against a flaky service and one of them is killed too; then the
survivors' work is finished. Every image must end with exactly one video, one chat delivery
and one completed render: nothing paid twice, nothing paid for lost.
"""

from __future__ import annotations

import asyncio
import collections
import random
import signal
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from nemovideo import Journal, NemoClient
from nemovideo.sandbox import FaultRule
from nemovideo.testing import fast_retry_policy

from ..integration.test_animate import image, probe

IMAGES = 50
PROCESSES = 5
SEED = 20261201

CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from nemovideo import NemoClient

    async def main() -> None:
        url, cid, journal, mode, *pairs = sys.argv[1:]
        async with NemoClient(url, client_id_path=cid, journal_path=journal, poll_interval=0.02,
                              max_polls=5000, time_scale=0.005, journal_lease=2.0) as client:
            if mode == "resume":
                await client.resume()
                return
            jobs = []
            for pair in pairs:
                img, out, prompt = pair.split("|")
                jobs.append(client.animate(img, prompt, output=out))
            await asyncio.gather(*jobs, return_exceptions=True)

    asyncio.run(main())
    """
)


async def _run_and_kill(args: list[str], after: float, how: signal.Signals) -> None:
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CHILD, *args, stdout=asyncio.subprocess.DEVNULL
    )
    try:
        await asyncio.wait_for(child.wait(), after)
    except asyncio.TimeoutError:
        child.send_signal(how)
        await child.wait()


@pytest.mark.slow
@pytest.mark.nemo_sandbox(
    time_scale=0.005, render_height=32, render_fps=5, initial_credits=10_000_000
)
async def test_random_kills_of_runs_and_resumers_pay_once_and_lose_nothing(
    nemo_sandbox: Any, tmp_path: Path
) -> None:
    rng = random.Random(SEED)
    pictures = tmp_path / "in"
    outputs = tmp_path / "out"
    pictures.mkdir()
    outputs.mkdir()
    source = image().read_bytes()
    names = [f"img{i:02d}" for i in range(IMAGES)]
    for name in names:
        (pictures / f"{name}.jpg").write_bytes(source)
    cid, journal = tmp_path / "client_id", tmp_path / "journal.db"
    common = [nemo_sandbox.url, str(cid), str(journal)]

    def pair(name: str) -> str:
        return f"{pictures / name}.jpg|{outputs / name}.mp4|waves {name}"

    # Round 1: five runs, each killed at a random moment (some may finish first).
    per = IMAGES // PROCESSES
    await asyncio.gather(
        *(
            _run_and_kill(
                [*common, "animate", *(pair(n) for n in names[i * per : (i + 1) * per])],
                after=rng.uniform(0.5, 6.0),
                how=rng.choice([signal.SIGKILL, signal.SIGTERM]),
            )
            for i in range(PROCESSES)
        )
    )
    # Round 2: two resumers at once while the service stumbles; one of them is killed.
    await asyncio.sleep(2.1)  # the killed runs' leases lapse
    nemo_sandbox.faults.add(
        FaultRule(route="render_status", kind="http_error", status=503, probability=0.2)
    )
    await asyncio.gather(
        _run_and_kill([*common, "resume"], after=rng.uniform(0.5, 3.0), how=signal.SIGKILL),
        _run_and_kill([*common, "resume"], after=60.0, how=signal.SIGKILL),
    )
    nemo_sandbox.faults.clear()
    # Round 3: finish what is left, here, as a user would after the crashes.
    async with NemoClient(
        nemo_sandbox.url, client_id_path=cid, journal_path=journal, poll_interval=0.02,
        max_polls=5000, time_scale=0.005, journal_lease=2.0, retry=fast_retry_policy(),
    ) as client:  # fmt: skip
        for _ in range(5):
            await asyncio.sleep(2.1)
            if not Journal(journal).pending():
                break
            await client.resume()
        assert Journal(journal).pending() == []
        # A flow killed between recording its message and sending it never reached the
        # service: the documented recovery ends it (nothing was charged), and it is run again.
        delivered = collections.Counter(
            d.text.rsplit(" ", 1)[-1] for d in nemo_sandbox.chat_deliveries
        )
        for name in names:
            if not (outputs / f"{name}.mp4").exists() and delivered[name] == 0:
                await client.animate(f"{pictures / name}.jpg", f"waves {name}",
                                     output=outputs / f"{name}.mp4")  # fmt: skip

    delivered = collections.Counter(d.text.rsplit(" ", 1)[-1] for d in nemo_sandbox.chat_deliveries)
    assert {name: delivered[name] for name in names} == dict.fromkeys(names, 1)
    assert nemo_sandbox.duplicate_deliveries() == []
    now = nemo_sandbox.clock.now()
    completed = collections.Counter(
        job.session_id
        for job in nemo_sandbox.core.render_jobs.values()
        if job.payload(now)["status"] == "completed"
    )
    assert sum(completed.values()) == IMAGES and set(completed.values()) == {1}
    for name in names:
        assert probe(outputs / f"{name}.mp4")[0] == "h264"
    assert not list(outputs.glob(".*.part"))
    done = [f for f in Journal(journal).flows() if f.state == "done"]
    assert len(done) == IMAGES
