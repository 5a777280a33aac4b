"""Batches against the sandbox: every item finishes through a 429 storm; errors stay per item."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nemovideo import AnimateItem, Batch, BatchResult, NemoClient
from nemovideo.sandbox import FaultRule

from .test_animate import image


@pytest.mark.slow
@pytest.mark.nemo_sandbox(initial_credits=1_000_000, render_height=32, render_fps=5)
async def test_batch_of_50_with_injected_429s_finishes_all(
    nemo_sandbox: Any, make_sandbox_client: Callable[..., NemoClient], tmp_path: Path
) -> None:
    client = make_sandbox_client()
    # The token first: a 429 on the token request itself is retried once and then reported,
    # never re-asked by every waiting request (tests/transport/test_tokens.py).
    await client.credits.get()
    nemo_sandbox.faults.add(FaultRule(route="*", kind="rate_limit", probability=0.1,
                                      retry_after=5.0))  # fmt: skip
    out = tmp_path / "videos"
    out.mkdir()
    items = [image()] * 50
    batch = client.animate_many(items, concurrency=10, output_dir=out, duration=2)
    results = [result async for result in batch]
    failed = [(r.index, r.error) for r in results if not r.ok]
    assert failed == []
    assert batch.summary.done == 50
    assert batch.summary.failed == 0
    assert len(list(out.glob("*.mp4"))) == 50
    assert nemo_sandbox.faults.injected["rate_limit"] > 0
    assert nemo_sandbox.duplicate_deliveries() == []
    assert len(nemo_sandbox.chat_deliveries) == 50


async def test_batch_reports_errors_per_item(
    make_sandbox_client: Callable[..., NemoClient], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.jpg"
    bad.write_text("no image here")
    client = make_sandbox_client()
    batch = client.animate_many([AnimateItem(bad), AnimateItem(image(), "waves")], concurrency=2)
    results = sorted([r async for r in batch], key=lambda r: r.index)
    assert not results[0].ok and "does not look like" in str(results[0].error)
    assert results[1].ok and results[1].video is not None
    assert (batch.summary.done, batch.summary.failed) == (1, 1)


@pytest.mark.nemo_sandbox(initial_credits=10_000)
async def test_batch_credits_are_the_balance_drop_not_a_sum_of_overlaps(
    make_sandbox_client: Callable[..., NemoClient],
) -> None:
    client = make_sandbox_client()
    batch = client.animate_many([image(), image()], concurrency=2)
    results = [r async for r in batch]
    assert all(r.ok for r in results)
    assert batch.summary.credits == 200  # two generations of 100, not 400 from overlapping views
    # Flows that overlapped cannot know their own share of the account's balance drop.
    assert all(r.video is not None and r.video.credits_spent is None for r in results)


@pytest.mark.nemo_sandbox(initial_credits=10_000)
async def test_a_flow_on_a_clone_and_one_on_the_original_never_credit_each_other(
    make_sandbox_client: Callable[..., NemoClient],
) -> None:
    # with_options() shares the flow accounting: each side sees the other's flow and reports
    # its share of the balance drop as unknown, never the whole drop.
    client = make_sandbox_client()
    clone = client.with_options(poll_interval=client.config.poll_interval)
    first, second = await asyncio.gather(
        client.animate(image(), "waves"), clone.animate(image(), "clouds")
    )
    assert first.credits_spent is None and second.credits_spent is None
    # Beside a batch (which runs on a clone of the client), likewise.
    batch = client.animate_many([image()])
    alone, results = await asyncio.gather(client.animate(image(), "waves"), _collect(batch))
    assert alone.credits_spent is None
    assert all(r.video is not None and r.video.credits_spent is None for r in results)
    # A flow that really ran alone still knows what it cost.
    solo = await clone.animate(image(), "waves")
    assert solo.credits_spent == 100
    assert clone.flows is client.flows


async def _collect(batch: Batch) -> list[BatchResult]:
    return [r async for r in batch]
