"""Progress on stderr: one redrawn line on a terminal, a few plain lines anywhere else.

On a TTY each stage is one line redrawn in place with ``\\r`` (upload and download in bytes,
generation as time elapsed, render in percent). Piped into a log or a CI job, the same reports
become plain lines, one when a stage starts and then only every quarter (or every 30 s while
generating), so logs stay short and readable.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import AsyncIterator, Callable
from typing import TextIO

from nemovideo.workflows.results import Progress, Stage, format_bytes

__all__ = ["BatchStatus", "ProgressDisplay", "format_bytes", "format_elapsed"]

_BAR_WIDTH = 24
_REDRAW_EVERY = 0.1  # seconds between two redraws of the same stage on a terminal
_PLAIN_STEP = 25  # percent between two plain lines of the same stage
_PLAIN_GENERATION_EVERY = 30.0  # seconds between two plain "generating" lines
_LABELS = {
    Stage.STARTING: "Starting",
    Stage.UPLOADING: "Uploading",
    Stage.GENERATING: "Generating",
    Stage.RENDERING: "Rendering",
    Stage.DOWNLOADING: "Downloading",
    Stage.DONE: "Done",
}


def format_elapsed(seconds: float) -> str:
    """Seconds for people: ``65 -> "1m05s"``, ``7 -> "7s"``."""
    whole = max(0, int(seconds))
    minutes, secs = divmod(whole, 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def _bar(fraction: float) -> str:
    filled = round(fraction * _BAR_WIDTH)
    return "[" + "#" * filled + "." * (_BAR_WIDTH - filled) + f"] {fraction * 100:3.0f}%"


class ProgressDisplay:
    """A :class:`~nemovideo.Progress` handler drawing on a text stream (stderr).

    Args:
        stream: where to draw.
        enabled: ``False`` draws nothing (``--quiet``).
        tty: force terminal (redraw) or plain mode; default: ``stream.isatty()``.
        clock: a monotonic clock in seconds (tests pass a fake one).
    """

    def __init__(
        self,
        stream: TextIO,
        *,
        enabled: bool = True,
        tty: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream
        self.enabled = enabled
        if tty is None:
            isatty = getattr(stream, "isatty", None)
            tty = bool(isatty()) if callable(isatty) else False
        self.tty = tty
        self._clock = clock
        self._stage: Stage | None = None
        self._stage_started = 0.0
        self._last: Progress | None = None
        self._last_draw = 0.0
        self._drawn_width = 0
        self._plain_mark = -1.0

    def __call__(self, progress: Progress) -> None:
        """Take one report."""
        if not self.enabled:
            return
        now = self._clock()
        new_stage = progress.stage is not self._stage
        if new_stage:
            self._end_line()
            self._stage = progress.stage
            self._stage_started = now
            self._plain_mark = -1.0
        self._last = progress
        if self.tty:
            finished = progress.stage is Stage.DONE or progress.fraction == 1.0
            if new_stage or finished or now - self._last_draw >= _REDRAW_EVERY:
                self._redraw(now)
        else:
            self._plain(progress, now)

    def refresh(self) -> None:
        """Redraw the current line (keeps the elapsed time moving during a silent wait)."""
        if not self.enabled or self._last is None or self._stage is Stage.DONE:
            return
        now = self._clock()
        if self.tty:
            self._redraw(now)
        elif self._stage is Stage.GENERATING:
            self._plain(self._last, now)

    def close(self) -> None:
        """End the current line, so that what follows starts on a fresh one."""
        self._end_line()
        self._stage = None
        self._last = None

    def notice(self, text: str) -> None:
        """A whole line between progress lines ("still working..."): the current progress line
        is ended first, so the two are never glued together, and redrawn below it."""
        if not self.enabled:
            return
        self._end_line()
        self._write(text + "\n")
        if self.tty and self._last is not None:
            self._redraw(self._clock())

    @contextlib.asynccontextmanager
    async def ticking(self, every: float = 1.0) -> AsyncIterator[ProgressDisplay]:
        """Refresh every ``every`` seconds while the block runs, then close the line."""
        task = asyncio.ensure_future(self._tick(every)) if self.enabled else None
        try:
            yield self
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            self.close()

    async def _tick(self, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            self.refresh()

    def line(self, progress: Progress, now: float) -> str:
        """The text shown for a report."""
        label = _LABELS.get(progress.stage, progress.stage.value.title())
        stage = progress.stage
        if stage is Stage.GENERATING:
            elapsed = max(progress.done, now - self._stage_started)
            return f"{label}: the agent is working, {format_elapsed(elapsed)} elapsed"
        if stage is Stage.RENDERING:
            return f"{label} {_bar(min(max(progress.done, 0), 100) / 100)}"
        if stage in (Stage.UPLOADING, Stage.DOWNLOADING):
            fraction = progress.fraction
            if fraction is None:
                return f"{label} {format_bytes(progress.done)}"
            sizes = f"{format_bytes(progress.done)} / {format_bytes(progress.total or 0)}"
            return f"{label} {_bar(fraction)}  {sizes}"
        return progress.message or label

    def _redraw(self, now: float) -> None:
        assert self._last is not None
        text = self.line(self._last, now)
        pad = max(0, self._drawn_width - len(text))
        self._write("\r" + text + " " * pad)
        self._drawn_width = len(text)
        self._last_draw = now

    def _plain(self, progress: Progress, now: float) -> None:
        if progress.stage is Stage.GENERATING:
            mark = (now - self._stage_started) // _PLAIN_GENERATION_EVERY
        elif progress.stage is Stage.RENDERING:
            mark = min(max(progress.done, 0), 100) // _PLAIN_STEP
        else:
            fraction = progress.fraction
            mark = 0 if fraction is None else (fraction * 100) // _PLAIN_STEP
        if mark > self._plain_mark:
            self._plain_mark = mark
            self._write(self.line(progress, now) + "\n")

    def _end_line(self) -> None:
        if self.tty and self._drawn_width:
            self._write("\n")
        self._drawn_width = 0

    def _write(self, text: str) -> None:
        try:
            self._stream.write(text)
            self._stream.flush()
        except (OSError, ValueError):  # a closed or broken stderr must not stop the work
            self.enabled = False


class BatchStatus:
    """One overall status line for a batch: done, running, failed, credits left, time left.

    On a terminal it is one line redrawn in place with ``\\r`` (cleared while a result line is
    written, so the two never mix); anywhere else a plain line is written each time an item
    finishes, so a log reads as a sequence of whole lines.

    Args:
        stream: where to draw (stderr).
        total: the number of items.
        concurrency: items running at once.
        enabled: ``False`` draws nothing (``--quiet``, ``--json``).
        tty: force terminal or plain mode; default: ``stream.isatty()``.
        clock: a monotonic clock in seconds.
    """

    def __init__(
        self,
        stream: TextIO,
        total: int,
        concurrency: int,
        *,
        enabled: bool = True,
        tty: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream
        self.total = total
        self.concurrency = concurrency
        self.enabled = enabled
        if tty is None:
            isatty = getattr(stream, "isatty", None)
            tty = bool(isatty()) if callable(isatty) else False
        self.tty = tty
        self._clock = clock
        self._started = clock()
        self.done = 0
        self.failed = 0
        self.credits: int | None = None
        self._drawn_width = 0

    @property
    def finished(self) -> int:
        """Items done or failed."""
        return self.done + self.failed

    @property
    def running(self) -> int:
        """Items started and not finished (at most ``concurrency``)."""
        return min(self.concurrency, self.total - self.finished)

    def line(self) -> str:
        """``Batch: 2/4 done, 2 running, 0 failed, 9,800 credits left, about 12s left``."""
        parts = [f"Batch: {self.done}/{self.total} done", f"{self.running} running",
                 f"{self.failed} failed"]  # fmt: skip
        if self.credits is not None:
            parts.append(f"{self.credits:,} credits left")
        elapsed = self._clock() - self._started
        if self.finished and self.finished < self.total:
            # Items run `concurrency` at a time: the rounds so far tell how long the rest take.
            per_round = elapsed / math.ceil(self.finished / self.concurrency)
            left = per_round * math.ceil((self.total - self.finished) / self.concurrency)
            parts.append(f"about {format_elapsed(left)} left")
        elif self.finished == self.total:
            parts.append(f"took {format_elapsed(elapsed)}")
        else:
            parts.append(f"{format_elapsed(elapsed)} elapsed")
        return ", ".join(parts)

    def item_finished(self, *, ok: bool, credits: int | None = None) -> None:
        """Count one finished item (``credits``: the balance now, when known) and redraw."""
        if ok:
            self.done += 1
        else:
            self.failed += 1
        if credits is not None:
            self.credits = credits
        if not self.enabled:
            return
        if self.tty:
            self.draw()
        else:
            self._write(self.line() + "\n")

    def draw(self) -> None:
        """Redraw the line (terminal mode only)."""
        if not (self.enabled and self.tty):
            return
        text = self.line()
        pad = max(0, self._drawn_width - len(text))
        self._write("\r" + text + " " * pad)
        self._drawn_width = len(text)

    def clear(self) -> None:
        """Erase the line, so that a result can be written (terminal mode only)."""
        if self.enabled and self.tty and self._drawn_width:
            self._write("\r" + " " * self._drawn_width + "\r")
            self._drawn_width = 0

    def close(self) -> None:
        """End the line for good (terminal mode only)."""
        if self.enabled and self.tty and self._drawn_width:
            self._write("\n")
            self._drawn_width = 0

    @contextlib.asynccontextmanager
    async def ticking(self, every: float = 1.0) -> AsyncIterator[BatchStatus]:
        """Redraw every ``every`` seconds while the block runs (the time moves), then clear."""
        task = asyncio.ensure_future(self._tick(every)) if self.enabled and self.tty else None
        try:
            yield self
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            self.clear()

    async def _tick(self, every: float) -> None:
        self.draw()
        while True:
            await asyncio.sleep(every)
            self.draw()

    def _write(self, text: str) -> None:
        try:
            self._stream.write(text)
            self._stream.flush()
        except (OSError, ValueError):
            self.enabled = False
