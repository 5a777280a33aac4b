"""Crash and resume: a killed process's flow is finished without paying twice."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nemovideo import Journal, NemoClient

from .test_animate import image, probe

CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from nemovideo import NemoClient, Stage

    async def main() -> None:
        url, cid, journal, out, img = sys.argv[1:6]
        def progress(report):
            if report.stage is Stage.RENDERING:
                print("RENDERING", flush=True)
        async with NemoClient(url, client_id_path=cid, journal_path=journal,
                              poll_interval=0.05, max_polls=10000, journal_lease=0.5,
                              time_scale=0.02) as client:
            await client.animate(img, output=out, on_progress=progress)
        print("FINISHED", flush=True)

    asyncio.run(main())
    """
)


@pytest.mark.slow
@pytest.mark.nemo_sandbox(time_scale=0.02, render_height=32, render_fps=5)
async def test_killed_mid_render_then_resumed(
    nemo_sandbox: Any, make_sandbox_client: Callable[..., NemoClient], tmp_path: Path
) -> None:
    out = tmp_path / "out.mp4"
    cid = tmp_path / "cfg" / "client_id"
    journal = tmp_path / "journal.jsonl"
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CHILD, nemo_sandbox.url, str(cid), str(journal), str(out),
        str(image()), stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert child.stdout is not None
    line = await asyncio.wait_for(child.stdout.readline(), 60)
    assert line.strip() == b"RENDERING"
    os.kill(child.pid, signal.SIGKILL)
    await child.wait()
    assert not out.exists()
    pending = Journal(journal).pending()
    assert len(pending) == 1
    assert pending[0].get("chat_sent") is True
    client = make_sandbox_client(client_id_path=cid, journal_path=journal)
    # The killed run's claim lapses after its lease (0.5 s); until then the flow is its own.
    await asyncio.sleep(0.6)
    results = await client.resume()
    assert [r.ok for r in results] == [True]
    assert probe(out)[0] == "h264"
    assert len(nemo_sandbox.chat_deliveries) == 1  # the killed run's message, never again
    assert Journal(journal).pending() == []


async def test_flow_stopped_before_chat_is_started_over(
    nemo_sandbox: Any, make_sandbox_client: Callable[..., NemoClient], tmp_path: Path
) -> None:
    journal = Journal(tmp_path / "journal.jsonl")
    out = tmp_path / "restarted.mp4"
    journal.record("f1", "started", image=str(image()), prompt="waves", duration=3,
                   resolution="1080p", output=str(out))  # fmt: skip
    journal.record("f1", "session", session_id="123", task_id="t")
    client = make_sandbox_client(journal_path=journal.path)
    results = await client.resume()
    assert [r.ok for r in results] == [True]
    assert abs(probe(out)[1] - 3.0) < 0.5
    assert len(nemo_sandbox.chat_deliveries) == 1
    assert journal.pending() == []
