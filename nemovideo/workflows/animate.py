"""One image to one MP4: the product's central flow.

:func:`animate` checks everything it can before the first request (inputs, settings,
destination), then composes the resources in the documented order: session, upload, one chat
message (never re-sent), state checks for silent replies and broken streams, render (with its
one documented re-submission), download. Every step is committed to the ledger before it is
taken; after the paid message nothing but the service's own verdict ends the flow for good, so
an interrupted flow is finished by :func:`~nemovideo.workflows.resume.resume` without paying
twice.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nemovideo.protocol.errors import ConfigurationError, NemoError
from nemovideo.workflows.checks import (
    RESOLUTIONS,
    check_destination,
    check_duration,
    check_text,
)
from nemovideo.workflows.generation import build_prompt
from nemovideo.workflows.journal import Journal
from nemovideo.workflows.recovery import finish_flow, video_of_done_flow, wait_for_holder
from nemovideo.workflows.results import ProgressHandler, Video
from nemovideo.workflows.steps import NewFlowSteps, finish_render, run_held

if TYPE_CHECKING:
    from nemovideo.workflows.host import WorkflowClient

__all__ = ["RESOLUTIONS", "animate"]


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
    key: str | None = None,
    overwrite: bool = False,
) -> Video:
    """Turn a still image into an animated MP4.

    Args:
        image: a path, bytes, a binary file object, or an http(s) URL of a JPG/PNG/WEBP/HEIC
            (up to 200 MB).
        prompt: what should move and how; default: "turn this image into a 5-second animated
            video clip".
        duration: seconds of video (default 5).
        resolution: "480p", "720p" or "1080p".
        output: where to save the MP4: a file path, or an existing folder (the file is then
            named after the image); ``None`` keeps it in memory (``video.data``).
        on_progress: called with :class:`Progress` at every stage.
        timeout: an overall deadline in seconds (``None``: each step's own limits).
        journal: ``True`` for the client's journal, a :class:`Journal`, or ``False``.
        key: an idempotency key: a key the journal has seen returns that flow's video, or
            finishes that flow, and never pays for new work.
        overwrite: replace an existing file at ``output`` (never the input image).

    Example:
        >>> video = await client.animate("sunset.jpg", output="out.mp4")  # doctest: +SKIP
        >>> video.path, video.duration  # doctest: +SKIP
        (PosixPath('out.mp4'), 5.0)

    Raises:
        ConfigurationError: an input, setting or destination is unusable (nothing was sent).
        UnsupportedFileTypeError: the image's type was refused before upload.
        FileTooLargeError: the image is over the upload limit (checked before upload).
        InsufficientCreditsError: not enough credits for a generation (about 100).
        GenerationFailedError: the agent produced no timeline.
        RenderFailedError: the export failed twice.
        APITimeoutError: ``timeout`` passed.
        StorageError: the journal or the destination could not be written.

    Note:
        After the paid chat message, an error's ``resumable`` is True (but for a session the
        service no longer knows): ``client.resume()`` finishes the flow without paying again.
    """
    duration = check_duration(duration)
    if resolution not in RESOLUTIONS:
        raise ConfigurationError(f"resolution must be one of {', '.join(RESOLUTIONS)}.")
    prompt = check_text(prompt, "prompt")
    task_name = check_text(task_name, "task_name", optional=False) or "project"
    language = check_text(language, "language", optional=False) or "en"
    if key is not None:
        key = check_text(key, "key", optional=False)
    is_url = isinstance(image, str) and image.lower().startswith(("http://", "https://"))
    if not is_url:
        client.upload.check(image)  # fail fast, before any session or credit is used
    book = _resolve_journal(client, journal)
    if key is not None and book is None:
        raise ConfigurationError("key= needs a journal to remember the flow in.")
    if key is not None and book is not None and output is not None and not overwrite:
        # The file a known key's flow wrote (or will write) is its own result, not a clash.
        seen = await asyncio.to_thread(book.by_key, key)
        recorded = seen.get("output") if seen is not None else None
        overwrite = recorded is not None and _same_path(recorded, output)
    dest = check_destination(output, image, overwrite=overwrite)
    if key is not None and book is not None:
        known = await _known_flow(client, book, key, dest, on_progress, timeout)
        if known is not None:
            return known
    flow = Journal.new_flow_id()
    text = build_prompt(prompt, duration, resolution)
    fields: dict[str, Any] = {
        "image": _describe_image(image),
        "prompt": prompt,
        "duration": duration,
        "resolution": resolution,
        "instruction": text,
        "task_name": task_name,
        "language": language,
        "output": str(dest.resolve()) if dest else None,
    }
    if book is not None:
        try:
            server = str(client.config.base_url)
            await asyncio.to_thread(lambda: book.start(flow, key=key, server=server, **fields))
        except KeyError:
            # Another run started this key a moment ago: that flow is the one.
            assert key is not None
            known = await _known_flow(client, book, key, dest, on_progress, timeout)
            if known is not None:
                return known
            raise
    steps = NewFlowSteps(client, book, flow, on_progress)

    async def work() -> Video:
        state, before = await steps.start(image, is_url, text, task_name, language)
        return await finish_render(steps, state, dest, before)

    return await run_held(steps, work, timeout)


def _same_path(recorded: object, output: object) -> bool:
    try:
        wanted = Path(str(output)).resolve()
    except (TypeError, OSError):
        return False
    return str(recorded) in (str(wanted), str(wanted / Path(str(recorded)).name))


def _resolve_journal(client: WorkflowClient, journal: Journal | bool | None) -> Journal | None:
    if isinstance(journal, Journal):
        return journal
    if journal is False or journal is None:
        return None
    return client.journal


async def _known_flow(
    client: WorkflowClient,
    book: Journal,
    key: str,
    dest: Path | None,
    on_progress: ProgressHandler | None,
    timeout: float | None,
) -> Video | None:
    """The video of the flow started with ``key``, finishing it if needed; ``None`` when the
    key is new (or its flow ended before paying anything, so it may start afresh)."""
    while True:
        flow = await asyncio.to_thread(book.by_key, key)
        if flow is None:
            return None
        if flow.state == "done":
            return await video_of_done_flow(client, flow, dest)
        if flow.state == "failed":
            if not flow.paid:
                await asyncio.to_thread(book.forget_key, flow.flow_id)
                return None
            raise NemoError(
                f"The flow started with key {key!r} failed for good: "
                f"{flow.get('error') or 'see the journal'} (flow {flow.flow_id})."
            )
        if await asyncio.to_thread(book.claim, flow.flow_id):
            target = dest
            if target is None and flow.get("output"):
                target = Path(str(flow.get("output")))
            return await finish_flow(
                client, book, flow, target, on_progress=on_progress, timeout=timeout
            )
        await wait_for_holder(book, flow.flow_id)
