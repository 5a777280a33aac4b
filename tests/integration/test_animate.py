"""animate() end to end against the sandbox over loopback: a real, decodable MP4."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import av
import pytest

from nemovideo import NemoClient, NemoError, Progress, Stage, UnsupportedFileTypeError
from nemovideo.sandbox import FaultRule

ASSETS = Path(__file__).resolve().parents[2] / "examples" / "assets"


def image() -> Path:
    found = sorted(ASSETS.glob("*.jpg"))
    assert found, "examples/assets must hold an example image"
    return found[0]


def probe(path: Path) -> tuple[str, float, int]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        duration = float(container.duration or 0) / 1_000_000
        return stream.codec_context.name, duration, stream.codec_context.height


async def test_animate_writes_a_real_mp4(
    nemo_sandbox: Any, sandbox_client: NemoClient, tmp_path: Path
) -> None:
    stages: list[Stage] = []

    def progress(report: Progress) -> None:
        if not stages or stages[-1] is not report.stage:
            stages.append(report.stage)

    out = tmp_path / "out.mp4"
    video = await sandbox_client.animate(image(), "gentle waves", output=out, on_progress=progress)
    assert video.path == out
    assert video.size == out.stat().st_size > 1000
    codec, duration, height = probe(out)
    assert codec == "h264"
    assert abs(duration - 5.0) < 0.3
    assert height == 144  # the fixture's render height
    assert stages == [
        Stage.STARTING,
        Stage.UPLOADING,
        Stage.GENERATING,
        Stage.RENDERING,
        Stage.DOWNLOADING,
        Stage.DONE,
    ]
    assert video.claim_url and "/workspace/claim?ct=clm_" in video.claim_url
    assert video.credits_spent is not None and video.credits_spent > 0
    assert "Video" in video.summary
    assert nemo_sandbox.duplicate_deliveries() == []
    assert len(nemo_sandbox.chat_deliveries) == 1
    assert sandbox_client.journal is not None
    (flow,) = sandbox_client.journal.flows()
    steps = sandbox_client.journal.history(flow.flow_id)
    assert steps[0] == "started" and steps[-1] == "done"
    assert "chat_sent" in steps and "render_started" in steps
    assert sandbox_client.journal is not None and sandbox_client.journal.pending() == []
    assert not any(cdn.had_authorization for cdn in nemo_sandbox.cdn_requests)
    assert "<video" in video._repr_html_()


async def test_animate_in_memory_and_custom_duration(sandbox_client: NemoClient) -> None:
    video = await sandbox_client.animate(image().read_bytes(), duration=3)
    assert video.path is None and video.data is not None
    assert video.data[4:8] == b"ftyp"
    assert video.duration is not None and abs(video.duration - 3.0) < 0.3


async def test_bad_image_fails_before_any_request(
    nemo_sandbox: Any, sandbox_client: NemoClient, tmp_path: Path
) -> None:
    fake = tmp_path / "photo.jpg"
    fake.write_text("not an image")
    before = len(nemo_sandbox.requests)
    with pytest.raises(UnsupportedFileTypeError):
        await sandbox_client.animate(fake)
    assert len(nemo_sandbox.requests) == before


async def test_cancel_mid_render_leaves_nothing_and_resume_finishes(
    nemo_sandbox: Any, sandbox_client: NemoClient, tmp_path: Path
) -> None:
    out = tmp_path / "out.mp4"
    rendering = asyncio.Event()

    def progress(report: Progress) -> None:
        if report.stage is Stage.RENDERING:
            rendering.set()

    task = asyncio.ensure_future(sandbox_client.animate(image(), output=out, on_progress=progress))
    await asyncio.wait_for(rendering.wait(), 30)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not out.exists()
    assert not list(tmp_path.glob(".*.part"))
    journal = sandbox_client.journal
    assert journal is not None
    pending = journal.pending()
    assert len(pending) == 1 and pending[0].get("job_id")
    results = await sandbox_client.resume()
    assert [r.ok for r in results] == [True]
    assert out.exists() and probe(out)[0] == "h264"
    assert len(nemo_sandbox.chat_deliveries) == 1  # resume never re-sends the message
    assert journal.pending() == []


async def _arrival(log: Any, matches: Any, within: float = 20.0) -> Any:
    """The first request in ``log()`` that ``matches``, waiting for it to arrive."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        found = [record for record in log() if matches(record)]
        if found:
            return found[0]
        await asyncio.sleep(0.005)
    raise AssertionError("the request never arrived")


async def test_balance_and_claim_link_add_no_round_trip(
    nemo_sandbox: Any, sandbox_client: NemoClient, tmp_path: Path
) -> None:
    # Each best-effort call is answered a (real) second late. Were it awaited in line, the
    # request after it would arrive only once it had its answer.
    nemo_sandbox.faults.add(FaultRule(route="credits", kind="slow", delay=1000, times=1))
    task = asyncio.ensure_future(sandbox_client.animate(image(), output=tmp_path / "out.mp4"))
    credits = await _arrival(lambda: nemo_sandbox.requests, lambda r: r.route == "credits")
    await _arrival(lambda: nemo_sandbox.requests, lambda r: r.route == "session")
    assert credits.status == 0  # the session was asked for while the balance was on its way
    await _arrival(lambda: nemo_sandbox.requests, lambda r: r.route == "render_start")
    nemo_sandbox.faults.add(FaultRule(route="cdn", kind="slow", delay=1000))
    await _arrival(lambda: nemo_sandbox.requests, lambda r: r.route == "claim")
    # Both start together; the claim may reach the server first (the CDN needs a new
    # connection), so wait for the download too: a second late, it is still unanswered.
    download = await _arrival(
        lambda: nemo_sandbox.cdn_requests, lambda r: r.path.startswith("/renders/")
    )
    assert download.status == 0  # the link was asked for during the download
    video = await task
    assert video.claim_url is not None and video.credits_spent is not None
    assert video.path is not None and probe(video.path)[0] == "h264"


async def test_a_failed_session_cancels_the_balance_read(
    nemo_sandbox: Any, sandbox_client: NemoClient
) -> None:
    nemo_sandbox.faults.add(FaultRule(route="credits", kind="slow", delay=1000))
    nemo_sandbox.faults.add(FaultRule(route="session", kind="http_error", status=400))
    with pytest.raises(NemoError):
        await sandbox_client.animate(image())
    behind = [t for t in asyncio.all_tasks() if t.get_coro().__qualname__ == "_quiet"]
    assert behind == []  # the balance read did not outlive the flow
