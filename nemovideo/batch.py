"""Many images at once, and finishing interrupted flows from the journal.

A batch runs a bounded number of :func:`~nemovideo.workflows.animate` flows at a time on one
client. The client's rate gate makes one 429 pause every flow of the batch (not only the unlucky
one), so a rate-limit storm slows the batch down instead of multiplying refusals.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from nemovideo.generation import wait_for_draft
from nemovideo.journal import FlowRecord, Journal
from nemovideo.protocol.errors import ConfigurationError, NemoError
from nemovideo.protocol.models import RenderJob, RenderStatus, Session
from nemovideo.results import ProgressHandler, Video
from nemovideo.workflows import _quiet, _Steps, animate, finish_render

if TYPE_CHECKING:
    from nemovideo.client import NemoClient

__all__ = ["AnimateItem", "Batch", "BatchResult", "BatchSummary", "resume"]

logger = logging.getLogger("nemovideo.batch")

_BATCH_RATE_LIMIT_RETRIES = 4


@attrs.frozen
class AnimateItem:
    """One image of a batch, with its own prompt and output when they differ from the batch's."""

    image: Any
    prompt: str | None = None
    output: str | os.PathLike[str] | None = None


@attrs.frozen
class BatchResult:
    """The outcome of one item: ``video`` or ``error``, never both."""

    index: int
    item: AnimateItem
    video: Video | None = None
    error: NemoError | None = None

    @property
    def ok(self) -> bool:
        """True when the item produced a video."""
        return self.video is not None


@attrs.define
class BatchSummary:
    """Counts so far: finished videos, failed items; credits spent once the batch has ended
    (the balance's drop over the batch: flows running side by side cannot tell their shares)."""

    done: int = 0
    failed: int = 0
    credits: int = 0

    def __str__(self) -> str:
        return f"{self.done} done, {self.failed} failed, {self.credits} credits"


def _item(value: Any, output_dir: Path | None, index: int) -> AnimateItem:
    item = value if isinstance(value, AnimateItem) else AnimateItem(value)
    if item.output is None and output_dir is not None:
        stem = Path(os.fspath(item.image)).stem if isinstance(item.image, (str, Path)) else None
        name = f"{index:04d}-{stem or 'video'}.mp4"
        item = attrs.evolve(item, output=output_dir / name)
    return item


class Batch:
    """An async iterator of :class:`BatchResult` in the order they finish; see ``summary``."""

    def __init__(
        self,
        client: NemoClient,
        items: Iterable[Any],
        *,
        concurrency: int = 4,
        output_dir: str | os.PathLike[str] | None = None,
        on_progress: ProgressHandler | None = None,
        **options: Any,
    ) -> None:
        if concurrency < 1:
            raise ConfigurationError("concurrency must be at least 1.")
        folder = Path(output_dir) if output_dir is not None else None
        policy = client.config.retry
        if policy.rate_limit_retries < _BATCH_RATE_LIMIT_RETRIES:
            # A 429 is a refusal, safe to repeat; with the shared pause, a batch may wait out
            # several rather than lose items to a passing storm.
            client = client.with_options(
                retry=attrs.evolve(policy, rate_limit_retries=_BATCH_RATE_LIMIT_RETRIES)
            )
        if folder is not None and not folder.is_dir():
            raise ConfigurationError(f"output_dir {folder} is not an existing folder.")
        self._client = client
        self._items = [_item(v, folder, i) for i, v in enumerate(items)]
        self._concurrency = concurrency
        self._options = options
        self._on_progress = on_progress
        self.summary = BatchSummary()

    def __len__(self) -> int:
        return len(self._items)

    def __aiter__(self) -> AsyncIterator[BatchResult]:
        return self._run()

    async def _one(self, index: int, item: AnimateItem, gate: asyncio.Semaphore) -> BatchResult:
        async with gate:
            try:
                video = await animate(
                    self._client,
                    item.image,
                    item.prompt,
                    output=item.output,
                    on_progress=self._on_progress,
                    **self._options,
                )
            except NemoError as exc:
                return BatchResult(index, item, error=exc)
        return BatchResult(index, item, video=video)

    async def _run(self) -> AsyncIterator[BatchResult]:
        gate = asyncio.Semaphore(self._concurrency)
        tasks = [
            asyncio.ensure_future(self._one(i, item, gate)) for i, item in enumerate(self._items)
        ]
        before = await _quiet(self._client.credits.get())
        try:
            for next_done in asyncio.as_completed(tasks):
                result = await next_done
                if result.video is not None:
                    self.summary.done += 1
                else:
                    self.summary.failed += 1
                yield result
            after = await _quiet(self._client.credits.get())
            if before is not None and after is not None:
                self.summary.credits = max(0, before.total - after.total)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


async def resume(
    client: NemoClient, journal: Journal | None = None, *, output_dir: str | None = None
) -> list[BatchResult]:
    """Finish every unfinished flow of the journal without re-sending chat messages.

    - a flow whose chat message may have been sent: its state is polled, never re-sent;
    - a flow with a render job: the job is looked up by id and followed, not started again;
    - a flow that never reached the chat: it is started over (nothing was paid).

    Returns one :class:`BatchResult` per resumed flow.

    Raises:
        ConfigurationError: no journal is configured. Each flow's own error is reported in its
            result, not raised.
    """
    book = journal or client.journal
    if book is None:
        raise ConfigurationError("No journal: pass journal= or enable the client's journal.")
    results: list[BatchResult] = []
    for index, flow in enumerate(book.pending()):
        item = AnimateItem(flow.get("image"), flow.get("prompt"), flow.get("output"))
        if item.output is None and output_dir is not None:
            item = attrs.evolve(item, output=Path(output_dir) / f"{flow.flow_id}.mp4")
        try:
            video = await _resume_flow(client, book, flow, item)
        except NemoError as exc:
            book.record(flow.flow_id, "failed", error=f"{type(exc).__name__}: {exc.message}")
            results.append(BatchResult(index, item, error=exc))
        else:
            results.append(BatchResult(index, item, video=video))
    return results


async def _resume_flow(
    client: NemoClient, book: Journal, flow: FlowRecord, item: AnimateItem
) -> Video:
    session_id = flow.get("session_id")
    if not session_id or not flow.get("chat_sent"):
        # The message never went out, so nothing was paid: start the work over.
        image = item.image
        if not isinstance(image, str) or image.startswith("<"):
            raise ConfigurationError(
                "This flow stopped before its chat message and its image was given as data, "
                "not a path: animate it again."
            )
        book.record(flow.flow_id, "failed", error="restarted by resume")
        return await animate(
            client,
            image,
            item.prompt,
            output=item.output,
            duration=flow.get("duration", 5),
            resolution=flow.get("resolution", "1080p"),
        )
    steps = _Steps(client, book, flow.flow_id, None)
    steps.session = Session(session_id=session_id, task_id=flow.get("task_id") or "")
    job_id = flow.get("job_id")
    if job_id:
        try:
            job = await client.render.get(job_id)
        except NemoError as exc:
            logger.info(
                "journal job %s not found (%s); rendering again", job_id, type(exc).__name__
            )
        else:
            if job.status is not RenderStatus.FAILED:
                state = await client.state.get(session_id)
                steps.job = RenderJob(id=job.id, session_id=session_id, draft=state.draft)
    state = await client.state.get(session_id)
    if not state.draft.is_exportable:
        state = await wait_for_draft(client, session_id)
    dest = Path(item.output) if item.output is not None else None
    return await finish_render(steps, state, dest, None)
