"""The product's know-how: one image to one MP4, and many images concurrently.

:func:`animate` composes the resources in the documented order: session, upload, one chat
message (never re-sent), state checks for silent replies and broken streams, render (with its
one documented re-submission), download. Every step is announced in the job journal first, so
an interrupted flow can be finished by :func:`resume` without paying twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from nemovideo.generation import build_prompt, generate
from nemovideo.journal import Journal
from nemovideo.protocol.draft import Draft
from nemovideo.protocol.errors import (
    APIConnectionError,
    APITimeoutError,
    ConfigurationError,
    NemoError,
    ServerError,
)
from nemovideo.protocol.models import RenderJob, Session, SessionState
from nemovideo.results import Progress, ProgressHandler, Stage, Video, report_progress

if TYPE_CHECKING:
    from nemovideo.client import NemoClient

if sys.version_info >= (3, 11):
    from asyncio import timeout as _deadline
else:  # pragma: no cover - Python 3.10
    from async_timeout import timeout as _deadline

__all__ = ["animate", "finish_render"]

logger = logging.getLogger("nemovideo.workflows")

RESOLUTIONS = ("480p", "720p", "1080p")
T = TypeVar("T")


def _emit(
    handler: ProgressHandler | None,
    stage: Stage,
    done: float = 0,
    total: float | None = None,
    message: str = "",
) -> None:
    report_progress(handler, Progress(stage, done, total, message))


async def _journal(journal: Journal | None, flow: str, step: str, **fields: Any) -> None:
    if journal is not None:
        await asyncio.to_thread(journal.record, flow, step, **fields)


def _describe_image(image: Any) -> str:
    if isinstance(image, str) and image.lower().startswith(("http://", "https://")):
        return image
    if isinstance(image, (str, os.PathLike)):
        return os.path.abspath(os.fspath(image))
    if isinstance(image, tuple) and image and isinstance(image[0], str):
        return image[0]
    return f"<{type(image).__name__}>"


async def animate(
    client: NemoClient,
    image: Any,
    prompt: str | None = None,
    *,
    duration: float = 5,
    resolution: str = "1080p",
    output: str | os.PathLike[str] | None = None,
    on_progress: ProgressHandler | None = None,
    timeout: float | None = None,
    task_name: str = "project",
    language: str = "en",
    journal: Journal | bool | None = True,
) -> Video:
    """Turn a still image into an animated MP4.

    Args:
        image: a path, bytes, a binary file object, or an http(s) URL of a JPG/PNG/WEBP/HEIC
            (up to 200 MB).
        prompt: what should move and how; default: "turn this image into a 5-second animated
            video clip".
        duration: seconds of video (default 5).
        resolution: "480p", "720p" or "1080p".
        output: where to save the MP4 (a file path or a folder); ``None`` keeps it in memory
            (``video.data``).
        on_progress: called with :class:`Progress` at every stage.
        timeout: an overall deadline in seconds (``None``: each step's own limits).
        journal: ``True`` for the client's journal, a :class:`Journal`, or ``False``.

    Example:
        >>> video = await client.animate("sunset.jpg", output="out.mp4")  # doctest: +SKIP
        >>> video.path, video.duration  # doctest: +SKIP
        (PosixPath('out.mp4'), 5.0)

    Raises:
        UnsupportedFileTypeError: the image's type was refused before upload.
        FileTooLargeError: the image is over the upload limit (checked before upload).
        InsufficientCreditsError: not enough credits for a generation (about 100).
        GenerationFailedError: the agent produced no timeline.
        RenderFailedError: the export failed twice.
        APITimeoutError: ``timeout`` passed; what still runs is in the journal.
    """
    if not (0 < duration <= 60):
        raise ConfigurationError("duration must be between 0 and 60 seconds.")
    if resolution not in RESOLUTIONS:
        raise ConfigurationError(f"resolution must be one of {', '.join(RESOLUTIONS)}.")
    is_url = isinstance(image, str) and image.lower().startswith(("http://", "https://"))
    if not is_url:
        client.upload.check(image)  # fail fast, before any session or credit is used
    book = _resolve_journal(client, journal)
    flow = Journal.new_flow_id()
    text = build_prompt(prompt, duration, resolution)
    dest = Path(output) if output is not None else None
    await _journal(
        book,
        flow,
        "started",
        image=_describe_image(image),
        prompt=prompt,
        duration=duration,
        resolution=resolution,
        instruction=text,
        output=str(dest.resolve()) if dest else None,
    )
    steps = _Steps(client, book, flow, on_progress)
    try:
        if timeout is None:
            return await steps.run(image, is_url, text, dest, task_name, language)
        async with _deadline(timeout):
            return await steps.run(image, is_url, text, dest, task_name, language)
    except asyncio.TimeoutError:
        await _journal(book, flow, "interrupted", reason="deadline", **steps.running())
        raise APITimeoutError(
            f"animate() did not finish within {timeout:g} s; still running: {steps.running()}. "
            "client.resume() finishes it without paying twice.",
            request_sent=True,
        ) from None
    except asyncio.CancelledError:
        # Recorded synchronously: a cancelled task cannot await a thread any more.
        if book is not None:
            with contextlib.suppress(OSError):
                book.record(flow, "interrupted", reason="cancelled", **steps.running())
        raise
    except NemoError as exc:
        await _journal(book, flow, "failed", error=f"{type(exc).__name__}: {exc.message}")
        raise


def _resolve_journal(client: NemoClient, journal: Journal | bool | None) -> Journal | None:
    if isinstance(journal, Journal):
        return journal
    if journal is False or journal is None:
        return None
    return client.journal


class _Steps:
    """The steps of one flow, with what has started (for the journal and for errors)."""

    def __init__(
        self,
        client: NemoClient,
        journal: Journal | None,
        flow: str,
        handler: ProgressHandler | None,
    ) -> None:
        self.client = client
        self.journal = journal
        self.flow = flow
        self.handler = handler
        self.session: Session | None = None
        self.job: RenderJob | None = None
        self.mark = -1  # flows started on the client when this one started

    def running(self) -> dict[str, Any]:
        """Ids of the work that may still run server-side."""
        out: dict[str, Any] = {}
        if self.session is not None:
            out["session_id"] = self.session.session_id
            out["task_id"] = self.session.task_id
        if self.job is not None:
            out["job_id"] = self.job.id
        return out

    async def run(
        self, image: Any, is_url: bool, text: str, dest: Path | None, task_name: str, language: str
    ) -> Video:
        client = self.client
        client._flows_started += 1
        client._flows_running += 1
        # -1 marks a flow that started beside another: it can never call a balance drop its own.
        self.mark = client._flows_started if client._flows_running == 1 else -1
        try:
            return await self._run(image, is_url, text, dest, task_name, language)
        finally:
            client._flows_running -= 1

    async def _run(
        self, image: Any, is_url: bool, text: str, dest: Path | None, task_name: str, language: str
    ) -> Video:
        client, handler, flow = self.client, self.handler, self.flow
        _emit(handler, Stage.STARTING, message="Creating a session")
        # The balance is only read (best effort), so it costs no round trip of its own: it is
        # asked beside the session, and known long before the chat message can spend anything.
        async with _beside(client.credits.get()) as balance:
            session = await client.session.create(task_name=task_name, language=language)
        credits_before = balance.result()
        self.session = session
        await _journal(
            self.journal, flow, "session", session_id=session.session_id, task_id=session.task_id
        )
        await self._upload(image, is_url)
        await _journal(self.journal, flow, "chat_sent", chat_sent=True)
        state = await generate(client, session.session_id, text, handler, Draft.from_wire({}))
        return await finish_render(self, state, dest, credits_before)

    async def _upload(self, image: Any, is_url: bool) -> None:
        assert self.session is not None
        sid = self.session.session_id
        handler = self.handler
        if is_url:
            _emit(handler, Stage.UPLOADING, 0, None, "Uploading by URL")
            await self.client.upload.urls(sid, [image])
        else:

            def progress(sent: int, total: int) -> None:
                _emit(handler, Stage.UPLOADING, sent, total, "Uploading")

            try:
                await self.client.upload.files(sid, image, on_progress=progress)
            except (ServerError, APIConnectionError) as exc:
                # Whether the upload landed is unknown: the state says. If it did not, sending
                # it again creates nothing twice.
                state = await self.client.state.get(sid)
                if state.video_infos:
                    logger.info("the upload landed despite %s", type(exc).__name__)
                else:
                    logger.warning("upload failed (%s); sending it once more", type(exc).__name__)
                    await self.client.upload.files(sid, image, on_progress=progress)
        await _journal(self.journal, self.flow, "uploaded")


async def finish_render(
    steps: _Steps, state: SessionState, dest: Path | None, credits_before: Any
) -> Video:
    """Render the state's draft, wait, download; shared by :func:`animate` and resume.

    Raises:
        RenderFailedError: the export failed twice.
        APITimeoutError: the render did not finish within the polling budget.
        InvalidResponseError: the download was truncated or larger than announced.
    """
    client, handler, flow = steps.client, steps.handler, steps.flow
    assert steps.session is not None
    session = steps.session
    if steps.job is None:
        from nemovideo.resources.render import new_job_id

        job_id = new_job_id()
        await _journal(steps.journal, flow, "render_started", job_id=job_id)
        _emit(handler, Stage.RENDERING, 0, 100, "Rendering 0%")
        steps.job = await client.render.start(session.session_id, state.draft, job_id=job_id)

    def render_progress(job: RenderJob) -> None:
        steps.job = job
        _emit(handler, Stage.RENDERING, job.progress, 100, f"Rendering {job.progress:.0f}%")

    job = await client.render.wait(steps.job, on_progress=render_progress)
    if job.id != steps.job.id:
        await _journal(steps.journal, flow, "render_started", job_id=job.id)
    steps.job = job

    def download_progress(done: int, total: int | None) -> None:
        _emit(handler, Stage.DOWNLOADING, done, total, "Downloading")

    data: bytes | None = None
    # The claim link needs only the session: it is asked while the video downloads.
    async with _beside(client.session.claim_link(session)) as claim:
        if dest is None:
            with tempfile.TemporaryDirectory(prefix="nemovideo-") as tmp:
                saved = await client.render.download(
                    job, Path(tmp) / "video.mp4", on_progress=download_progress
                )
                data = saved.read_bytes()
            path = None
            size = len(data)
        else:
            path = await client.render.download(job, dest, on_progress=download_progress)
            size = path.stat().st_size
    link = claim.result()
    await _journal(steps.journal, flow, "downloaded", path=str(path) if path else None)
    # The balance is the account's: only a flow that ran alone can call a drop its own.
    alone = client._flows_running == 1 and client._flows_started == steps.mark
    credits_after = await _quiet(client.credits.get()) if alone else None
    spent = None
    if credits_before is not None and credits_after is not None:
        spent = max(0, credits_before.total - credits_after.total)
    await _journal(steps.journal, flow, "done", job_id=job.id)
    _emit(handler, Stage.DONE, size, size, "Done")
    return Video(
        size=size,
        session_id=session.session_id,
        task_id=session.task_id,
        job_id=job.id,
        path=path,
        data=data,
        duration=job.duration,
        claim_url=link.url if link is not None else None,
        credits_spent=spent,
        summary=state.draft.summary(),
    )


@contextlib.asynccontextmanager
async def _beside(call: Awaitable[T]) -> AsyncIterator[asyncio.Future[T | None]]:
    """Run a best-effort call (see :func:`_quiet`) beside the block; done when the block ends.

    The block's own requests go on meanwhile, so the call adds no round trip to the flow. If
    the block fails (or is cancelled), the call is cancelled and the block's error stands.
    """
    future = asyncio.ensure_future(_quiet(call))
    try:
        yield future
    except BaseException:
        future.cancel()
        with contextlib.suppress(BaseException):
            await future
        raise
    await future


async def _quiet(call: Awaitable[T]) -> T | None:
    """A best-effort call: its failure is logged, never raised (claim links, balances)."""
    try:
        return await call
    except NemoError as exc:
        logger.info("best-effort call failed: %s", type(exc).__name__)
        return None
