"""Many images at once, with memory that does not grow with their number.

A batch runs ``concurrency`` workers over its items, each taking the next item when it is free,
so the items may be a list, a generator, or an async iterator that yields them as they come
(from a queue, a database cursor, a folder being written to): no task is made per item up
front, and each result is handed over as it finishes. The client's rate gate makes one 429
pause every flow of the batch (not only the unlucky one), so a rate-limit storm slows the
batch down instead of multiplying refusals.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator, Sized
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


class _Finished:
    """A worker's last word on the results queue: done, or the error that stopped it."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


class Batch:
    """An async iterator of :class:`BatchResult` in the order they finish; see ``summary``.

    The items may be any iterable or async iterable of images or :class:`AnimateItem`; they
    are read one at a time as workers free up. ``len(batch)`` is the number of items when
    they have a length (a list), and a ``TypeError`` otherwise (a generator).
    """

    def __init__(
        self,
        client: WorkflowClient,
        items: Iterable[Any] | AsyncIterable[Any],
        *,
        concurrency: int = 4,
        output_dir: str | os.PathLike[str] | None = None,
        on_progress: ProgressHandler | None = None,
        **options: Any,
    ) -> None:
        if concurrency < 1:
            raise ConfigurationError("concurrency must be at least 1.")
        if not isinstance(items, (Iterable, AsyncIterable)) or isinstance(items, (str, bytes)):
            raise ConfigurationError(
                "animate_many takes a list, an iterable or an async iterable of images."
            )
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
        self._source = items
        self._folder = folder
        self._concurrency = concurrency
        self._options = options
        self._on_progress = on_progress
        self.summary = BatchSummary()

    def __len__(self) -> int:
        if not isinstance(self._source, Sized):
            raise TypeError(
                "this batch's items have no length (an iterator): count the results instead"
            )
        return len(self._source)

    def __aiter__(self) -> AsyncIterator[BatchResult]:
        return self._run()

    async def _one(self, index: int, item: AnimateItem) -> BatchResult:
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
        source = self._source
        take = _Taker(source, self._folder)
        # Bounded: a worker whose result the caller has not taken yet waits before its next
        # item, so a slow reader holds the batch back instead of piling results up.
        results: asyncio.Queue[BatchResult | _Finished] = asyncio.Queue(self._concurrency)

        async def worker() -> None:
            try:
                while (got := await take()) is not None:
                    await results.put(await self._one(*got))
            except asyncio.CancelledError:
                raise
            except BaseException as exc:  # the items' own iterator failed: the caller hears
                await results.put(_Finished(exc))
                return
            await results.put(_Finished())

        workers = [asyncio.ensure_future(worker()) for _ in range(self._concurrency)]
        before = await best_effort(self._client.credits.get())
        try:
            running = len(workers)
            while running:
                got = await results.get()
                if isinstance(got, _Finished):
                    running -= 1
                    if got.error is not None:
                        raise got.error
                    continue
                if got.video is not None:
                    self.summary.done += 1
                else:
                    self.summary.failed += 1
                yield got
            after = await best_effort(self._client.credits.get())
            if before is not None and after is not None:
                self.summary.credits = max(0, before.total - after.total)
        finally:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)


class _Taker:
    """Hands the next item, with its index, to whichever worker asks; ``None`` at the end.

    A sync iterable is read inline; an async iterator is read by one worker at a time (they do
    not support two ``__anext__`` at once).
    """

    def __init__(self, source: Iterable[Any] | AsyncIterable[Any], folder: Path | None) -> None:
        self._sync: Iterator[Any] | None = None
        self._async: AsyncIterator[Any] | None = None
        if isinstance(source, AsyncIterable):
            self._async = source.__aiter__()
        else:
            self._sync = iter(source)
        self._folder = folder
        self._next = 0
        self._lock = asyncio.Lock()
        self._ended = False

    async def __call__(self) -> tuple[int, AnimateItem] | None:
        if self._ended:
            return None
        if self._sync is not None:
            try:
                value = next(self._sync)
            except StopIteration:
                self._ended = True
                return None
        else:
            assert self._async is not None
            async with self._lock:
                if self._ended:
                    return None
                try:
                    value = await self._async.__anext__()
                except StopAsyncIteration:
                    self._ended = True
                    return None
        index = self._next
        self._next += 1
        return index, _item(value, self._folder, index)
