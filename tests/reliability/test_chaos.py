"""The chaos run: many animate flows through every kind of injected fault.

Whatever the network and the service do, each flow must end with a valid MP4 or a documented
NemoError; no chat message may be delivered twice; every render job started must be downloaded
or left in the journal; no partial file may sit at a final path; connections and tasks must
return to where they started. The figures are written to ``$NEMO_CHAOS_REPORT`` when set.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

import av
import pytest

from nemovideo import NemoClient, NemoError
from nemovideo.sandbox import FaultRule, Sandbox

from ..conftest import fast_retry
from ..integration.test_animate import image

FLOWS = int(os.environ.get("NEMO_CHAOS_FLOWS", "200"))
CONCURRENCY = 20

# About 10-20% of requests fail, spread over every kind of fault the sandbox knows.
FAULTS = [
    FaultRule(route="*", kind="rate_limit", probability=0.04, retry_after=5.0),
    FaultRule(route="*", kind="http_error", probability=0.02, status=503),
    FaultRule(route="*", kind="http_error", probability=0.02, status=502, html=True),
    FaultRule(route="*", kind="slow", probability=0.02, delay=20.0),
    FaultRule(route="*", kind="drop_mid_body", probability=0.02),
    FaultRule(route="cdn", kind="truncate", probability=0.1),
    FaultRule(route="download", kind="truncate", probability=0.1),
    FaultRule(route="run_sse", kind="drop_mid_stream", probability=0.08, after_events=4),
    FaultRule(route="run_sse", kind="stream_error", probability=0.03, after_events=2),
    FaultRule(route="render_start", kind="render_fail", probability=0.08),
    FaultRule(route="*", kind="token_expiry", probability=0.01, times=3),
]


def _open_fds() -> dict[str, str]:
    if not os.path.isdir("/proc/self/fd"):
        return {}
    found = {}
    for fd in os.listdir("/proc/self/fd"):
        try:
            found[fd] = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
    return found


def _server_side(task: asyncio.Task[Any]) -> bool:
    """A request handler of the sandbox's web server: the double's, not the SDK's."""
    return "RequestHandler" in repr(task.get_coro())


def _valid_mp4(path: Path) -> bool:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return stream.codec_context.name == "h264" and (container.duration or 0) > 0


@pytest.mark.slow
async def test_chaos_run(tmp_path: Path) -> None:
    gc.collect()
    fds_before = _open_fds()
    tasks_before = set(asyncio.all_tasks())
    started = time.monotonic()
    out = tmp_path / "videos"
    out.mkdir()
    outcomes: Counter[str] = Counter()
    async with Sandbox(time_scale=0.001, render_height=32, render_fps=5, seed=7,
                       initial_credits=10_000_000, faults=FAULTS,
                       log_limit=1_000_000) as sb:  # fmt: skip
        client = NemoClient(
            sb.url,
            client_id_path=tmp_path / "client_id",
            journal_path=tmp_path / "journal.db",
            poll_interval=0.02,
            time_scale=sb.options.time_scale,
            max_polls=1000,
            retry=fast_retry(),
        )
        async with client:
            batch = client.animate_many(
                [image()] * FLOWS, concurrency=CONCURRENCY, output_dir=out, duration=2
            )
            async for result in batch:
                if result.ok:
                    assert result.video is not None and result.video.path is not None
                    assert _valid_mp4(result.video.path)
                    outcomes["video"] += 1
                else:
                    assert isinstance(result.error, NemoError), repr(result.error)
                    assert result.error.message
                    outcomes[type(result.error).__name__] += 1
            journal = client.journal
            assert journal is not None
            await sb.idle()
        injected = dict(sb.faults.injected)
        duplicates = sb.duplicate_deliveries()
        requests = len(sb.requests)
    assert sum(outcomes.values()) == FLOWS
    assert duplicates == []
    flows = journal.flows()
    journal.close()  # read after the client closed: this test's own connection
    orphans = [
        f.flow_id for f in flows
        if f.get("job_id") and f.step not in ("done", "downloaded", "failed", "interrupted")
    ]  # fmt: skip
    assert orphans == []
    for flow in flows:
        if flow.step == "done":
            assert Path(flow.get("path")).exists()
    assert not list(out.glob(".*.part"))
    assert sum(injected.values()) > FLOWS  # the faults really happened
    assert outcomes["video"] >= FLOWS * 0.6  # most flows recover; the rest end in documented errors
    gc.collect()
    await asyncio.sleep(0)
    now_open = _open_fds()
    leaked = {fd: target for fd, target in now_open.items() if fds_before.get(fd) != target}
    leaked_fds = len(leaked)
    await asyncio.sleep(0.1)  # let the closed sandbox's handlers see their connections go
    stray = [
        t for t in asyncio.all_tasks()
        if t not in tasks_before and not t.done() and not _server_side(t)
    ]  # fmt: skip
    leaked_tasks = len(stray)
    assert leaked == {}
    assert stray == []
    report = os.environ.get("NEMO_CHAOS_REPORT")
    if report:
        Path(report).write_text(json.dumps({
            "flows": FLOWS, "concurrency": CONCURRENCY, "outcomes": dict(outcomes),
            "faults_injected": injected, "requests": requests, "duplicates": len(duplicates),
            "orphans": len(orphans), "leaked_fds": leaked_fds, "leaked_tasks": leaked_tasks,
            "seconds": round(time.monotonic() - started, 1),
        }, indent=2))  # fmt: skip
