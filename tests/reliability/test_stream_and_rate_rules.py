"""Stream and rate-limit rules against the sandbox: no re-send, honest timeouts, no tight loops."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nemovideo import APITimeoutError, NemoClient, RateLimitedError, RetryPolicy, Timeouts
from nemovideo.sandbox import FaultRule

from ..integration.test_animate import image


async def test_disconnect_after_delivery_polls_state_and_finishes(
    nemo_sandbox: Any, make_sandbox_client: Callable[..., NemoClient], tmp_path: Path
) -> None:
    nemo_sandbox.faults.add(FaultRule(route="run_sse", kind="drop_mid_stream", after_events=2))
    client = make_sandbox_client()
    video = await client.animate(image(), output=tmp_path / "v.mp4")
    assert video.size > 0
    assert nemo_sandbox.faults.injected["drop_mid_stream"] == 1
    assert len(nemo_sandbox.chat_deliveries) == 1  # delivered once, never re-sent
    state_polls = [r for r in nemo_sandbox.requests if "/api/state/" in r.path]
    assert len(state_polls) >= 2  # the documented recovery: poll the state


@pytest.mark.nemo_sandbox(heartbeat_interval=5.0, time_scale=0.001)
async def test_keepalives_only_for_too_long_is_a_timeout(
    nemo_sandbox: Any, make_sandbox_client: Callable[..., NemoClient]
) -> None:
    # The sandbox works 100-300 simulated s (0.1-0.3 s here) with keep-alives every 5 s; a
    # 10-minute idle limit scaled the same way (0.6 s -> 0.05 s) must fire first.
    client = make_sandbox_client(
        timeouts=Timeouts(stream_idle=0.05, stream_read=5.0, stream_total=30.0)
    )
    session = await client.session.create()
    await client.upload.files(session.session_id, image())
    with pytest.raises(APITimeoutError, match="keep-alives") as info:
        await client.chat.send(session.session_id, "turn this image into a 5-second video")
    assert "do not re-send" in str(info.value)
    assert len(nemo_sandbox.chat_deliveries) == 1


async def test_429_storm_honours_retry_after_without_tight_loops(
    nemo_sandbox: Any, make_sandbox_client: Callable[..., NemoClient]
) -> None:
    nemo_sandbox.faults.add(FaultRule(route="credits", kind="rate_limit", retry_after=200.0))
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    client = make_sandbox_client(
        retry=RetryPolicy(sleep=sleep, rate_limit_max_wait=60.0, rate_limit_retries=1)
    )
    started = time.monotonic()
    before = len(nemo_sandbox.requests)
    with pytest.raises(RateLimitedError):
        await client.credits.get()
    sent = [r for r in nemo_sandbox.requests[before:] if r.path.endswith("/simple")]
    assert len(sent) == 2  # one try, one retry: never a tight loop
    assert waits and max(waits) <= 60.0  # Retry-After (0.2 s scaled) honoured, capped
    assert time.monotonic() - started < 5
