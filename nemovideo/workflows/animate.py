"""One image to one MP4: the product's central flow.

:func:`animate` composes the resources in the documented order: session, upload, one chat
message (never re-sent), state checks for silent replies and broken streams, render (with its
one documented re-submission), download. Every step is announced in the job journal first, so
an interrupted flow can be finished by :func:`~nemovideo.workflows.resume.resume` without
paying twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nemovideo.protocol.draft import Draft
from nemovideo.protocol.errors import (
    APIConnectionError,
    APITimeoutError,
    ConfigurationError,
    NemoError,
    ServerError,
)
from nemovideo.workflows.generation import build_prompt, generate
from nemovideo.workflows.journal import Journal
from nemovideo.workflows.results import ProgressHandler, Stage, Video
from nemovideo.workflows.steps import FlowSteps, beside, emit, finish_render, record

if TYPE_CHECKING:
    from nemovideo.workflows.host import WorkflowClient

if sys.version_info >= (3, 11):
    from asyncio import timeout as _deadline
else:  # pragma: no cover - Python 3.10
    from async_timeout import timeout as _deadline

__all__ = ["RESOLUTIONS", "animate"]

logger = logging.getLogger("nemovideo.workflows")

RESOLUTIONS = ("480p", "720p", "1080p")


def _describe_image(image: Any) -> str:
    if isinstance(image, str) and image.lower().startswith(("http://", "https://")):
        return image
    if isinstance(image, (str, os.PathLike)):
        return os.path.abspath(os.fspath(image))
    if isinstance(image, tuple) and image and isinstance(image[0], str):
        return image[0]
    return f"<{type(image).__name__}>"


async def animate(
    client: WorkflowClient,
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
    await record(
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
    steps = _AnimateSteps(client, book, flow, on_progress)
    try:
        if timeout is None:
            return await steps.run(image, is_url, text, dest, task_name, language)
        async with _deadline(timeout):
            return await steps.run(image, is_url, text, dest, task_name, language)
    except asyncio.TimeoutError:
        await record(book, flow, "interrupted", reason="deadline", **steps.running())
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
        await record(book, flow, "failed", error=f"{type(exc).__name__}: {exc.message}")
        raise


def _resolve_journal(client: WorkflowClient, journal: Journal | bool | None) -> Journal | None:
    if isinstance(journal, Journal):
        return journal
    if journal is False or journal is None:
        return None
    return client.journal


class _AnimateSteps(FlowSteps):
    """A new flow's steps up to the render: session, upload, the one chat message."""

    async def run(
        self, image: Any, is_url: bool, text: str, dest: Path | None, task_name: str, language: str
    ) -> Video:
        flows = self.client.flows
        self.mark = flows.begin()
        try:
            return await self._run(image, is_url, text, dest, task_name, language)
        finally:
            flows.end(self.mark)

    async def _run(
        self, image: Any, is_url: bool, text: str, dest: Path | None, task_name: str, language: str
    ) -> Video:
        client, handler, flow = self.client, self.handler, self.flow
        emit(handler, Stage.STARTING, message="Creating a session")
        # The balance is only read (best effort), so it costs no round trip of its own: it is
        # asked beside the session, and known long before the chat message can spend anything.
        async with beside(client.credits.get()) as balance:
            session = await client.session.create(task_name=task_name, language=language)
        credits_before = balance.result()
        self.session = session
        await record(
            self.journal, flow, "session", session_id=session.session_id, task_id=session.task_id
        )
        await self._upload(image, is_url)
        await record(self.journal, flow, "chat_sent", chat_sent=True)
        state = await generate(client, session.session_id, text, handler, Draft.from_wire({}))
        return await finish_render(self, state, dest, credits_before)

    async def _upload(self, image: Any, is_url: bool) -> None:
        assert self.session is not None
        sid = self.session.session_id
        handler = self.handler
        if is_url:
            emit(handler, Stage.UPLOADING, 0, None, "Uploading by URL")
            await self.client.upload.urls(sid, [image])
        else:

            def progress(sent: int, total: int) -> None:
                emit(handler, Stage.UPLOADING, sent, total, "Uploading")

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
        await record(self.journal, self.flow, "uploaded")
