"""Many images at once.

A batch runs a bounded number of :func:`~nemovideo.workflows.animate.animate` flows at a time on one
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

from nemovideo.protocol.errors import ConfigurationError, NemoError
from nemovideo.protocol.inputs import is_data_uri
from nemovideo.workflows.animate import animate
from nemovideo.workflows.results import ProgressHandler, Video
from nemovideo.workflows.steps import best_effort

if TYPE_CHECKING:
    from nemovideo.workflows.host import WorkflowClient

__all__ = ["AnimateItem", "Batch", "BatchResult", "BatchSummary"]

logger = logging.getLogger("nemovideo.workflows.batch")

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
        named = isinstance(item.image, (str, Path)) and not is_data_uri(item.image)
        stem = Path(os.fspath(item.image)).stem if named else None
        name = f"{index:04d}-{stem or 'video'}.mp4"
        item = attrs.evolve(item, output=output_dir / name)
    return item


class Batch:
    """An async iterator of :class:`BatchResult` in the order they finish; see ``summary``."""

    def __init__(
        self,
        client: WorkflowClient,
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
        before = await best_effort(self._client.credits.get())
        try:
            for next_done in asyncio.as_completed(tasks):
                result = await next_done
                if result.video is not None:
                    self.summary.done += 1
                else:
                    self.summary.failed += 1
                yield result
            after = await best_effort(self._client.credits.get())
            if before is not None and after is not None:
                self.summary.credits = max(0, before.total - after.total)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
