"""One conversational turn: a person's words routed to a direct action or to the agent.

:func:`converse` is what a chat front end calls for every line a person types. Short commands
("export", "credits", "status", "upload", and their Chinese forms) are answered through the API
directly, fast and free; everything else goes to the backend's agent through the chat stream.
The agent believes a GUI exists, so its directions ("click the Export button") are translated:
content is kept, GUI directions are replaced by what the SDK can do. About 30% of edits come
back with no text at all; the turn then says what changed in the timeline instead.

Example:
    >>> turn = await converse(client, session_id, "add lo-fi music")  # doctest: +SKIP
    >>> print(turn.text)  # doctest: +SKIP
    Added track: BGM: Lo-fi Chill (0-5s, 35%)
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from nemovideo.protocol.draft import describe_changes
from nemovideo.protocol.errors import (
    ConfigurationError,
    NemoError,
    StreamDisconnectedError,
)
from nemovideo.protocol.events import ChatEvent
from nemovideo.protocol.intents import Intent, route
from nemovideo.protocol.models import Credits, RenderJob, SessionState, UploadResult
from nemovideo.protocol.reply import ChatReply
from nemovideo.workflows.results import (
    Progress,
    ProgressHandler,
    Stage,
    format_bytes,
    report_progress,
)

if TYPE_CHECKING:
    from nemovideo.workflows.host import WorkflowClient

__all__ = ["Turn", "converse", "describe_credits", "describe_export"]

logger = logging.getLogger("nemovideo.workflows.conversation")

#: Anything :meth:`UploadResource.files` takes: a path, bytes, a binary file, (name, bytes).
FileItem = Any

_ASK_FOR_FILE = (
    "Which file should I upload? Send a path (for example: upload sunset.jpg). Accepted: "
    "images (jpg, png, webp, heic, gif), videos (mp4, mov, webm, ...) and audio (mp3, wav, ...)."
)
_SUGGEST_EXPORT = 'When you are happy with it, say "export" to render the MP4.'
_NOTHING_TO_EXPORT = (
    "There is nothing to export yet: the timeline is empty. Upload an image and ask for a video "
    "first (for example: animate it into a 5-second clip)."
)


@attrs.frozen
class Turn:
    """What one conversational turn did, and what to show.

    Attributes:
        intent: where the words were routed (:class:`~nemovideo.Intent`).
        text: the answer to show the person (GUI directions already translated).
        session_id: the session the turn ran in.
        reply: the agent's reply (CHAT turns), else ``None``.
        state: the session state after the turn, when it was read.
        credits: the balance, when the turn read it.
        job: the render job (EXPORT turns).
        video_path: where the exported MP4 was saved, when ``output`` was given.
        upload: what an upload put into the session.
        changes: how the timeline changed (read from the state when the reply was silent).
        suggestions: actions the agent suggested but that were not performed (an export is
            never started behind the person's back).
        needs_file: the person asked to upload without naming a file.
    """

    intent: Intent
    text: str
    session_id: str
    reply: ChatReply | None = None
    state: SessionState | None = None
    credits: Credits | None = None
    job: RenderJob | None = None
    video_path: Path | None = None
    upload: UploadResult | None = None
    changes: tuple[str, ...] = ()
    suggestions: tuple[Intent, ...] = ()
    needs_file: bool = False

    def __str__(self) -> str:
        return self.text


def describe_credits(credits: Credits) -> str:
    """The balance in one sentence for people.

    Example:
        >>> describe_credits(Credits(available=50, frozen=100, total=150))
        'You have 50 credits available (100 reserved by running work).'
    """
    text = f"You have {credits.available} credits available"
    if credits.frozen:
        text += f" ({credits.frozen} reserved by running work)"
    return text + "."


def _describe_upload(result: UploadResult) -> str:
    if not result.files:
        return "The upload finished, but the service listed no files."
    names = ", ".join(f"{f.filename} ({f.file_type})" for f in result.files)
    return f"Uploaded {names}."


def describe_export(job: RenderJob, path: Path | None) -> str:
    """A finished export in one line: ``Exported the video to out.mp4 (5 s, 14.2 KB).``"""
    details = []
    if job.duration is not None:
        details.append(f"{job.duration:g} s")
    size = job.size
    if path is not None:
        with contextlib.suppress(OSError):
            size = path.stat().st_size
    if size is not None:
        details.append(format_bytes(size))
    extra = f" ({', '.join(details)})" if details else ""
    if path is not None:
        return f"Exported the video to {path}{extra}."
    where = f": {job.url}" if job.url else f"; job {job.id}"
    return f"The video is rendered{extra}{where}"


async def converse(
    client: WorkflowClient,
    session_id: str,
    text: str,
    *,
    on_event: Callable[[ChatEvent], object] | None = None,
    files: Sequence[FileItem] | None = None,
    output: str | os.PathLike[str] | None = None,
    on_progress: ProgressHandler | None = None,
    intent: Intent | None = None,
) -> Turn:
    """Answer one message of a person, the way a conversational front end should.

    Routing (:func:`~nemovideo.route`, English and Chinese): EXPORT renders the current draft,
    waits, and downloads it to ``output`` (a file or a folder) or returns the completed job;
    CREDITS reads the balance; STATE summarises the timeline; UPLOAD uploads ``files`` or asks
    for one; anything else is sent to the agent (CHAT), exactly once.

    For CHAT turns the agent's GUI talk is translated: GUI directions are stripped and the safe
    actions they imply are performed (a timeline summary, the balance); an export is only
    suggested, never started. A reply with no text is answered with what changed in the
    timeline.

    Args:
        client: the client.
        session_id: the session to talk in (``client.session.create()``).
        text: the person's words.
        on_event: called with every chat event as it arrives (CHAT turns).
        files: files the person sent with the words: they are uploaded first; the words, when
            they ask for more than the upload, then go to the agent.
        output: where an EXPORT saves the MP4 (a file path, or a folder for ``<job id>.mp4``);
            ``None`` leaves it on the service (``turn.job.url``).
        on_progress: called with :class:`~nemovideo.Progress` during uploads and exports.
        intent: skip the routing and do this (used by command lines: ``status``, ``export``).

    Raises:
        NemoError: any refusal of the API (the message says what to do), and
            StreamDisconnectedError when a broken stream left no visible change.
    """
    if not isinstance(text, str):
        raise ConfigurationError(f"converse() needs the words as a string, not {type(text)}.")
    chosen = intent if intent is not None else route(text)
    if files:
        uploaded = await _upload(client, session_id, files, on_progress)
        remaining = text.strip()
        if intent is None and remaining:
            chosen = route(remaining)
        if not remaining or chosen is Intent.UPLOAD:
            return Turn(Intent.UPLOAD, _describe_upload(uploaded), session_id, upload=uploaded)
        turn = await _dispatch(client, session_id, remaining, chosen, on_event, output, on_progress)
        return attrs.evolve(
            turn, text=f"{_describe_upload(uploaded)}\n\n{turn.text}", upload=uploaded
        )
    return await _dispatch(client, session_id, text, chosen, on_event, output, on_progress)


async def _dispatch(
    client: WorkflowClient,
    session_id: str,
    text: str,
    intent: Intent,
    on_event: Callable[[ChatEvent], object] | None,
    output: str | os.PathLike[str] | None,
    on_progress: ProgressHandler | None,
) -> Turn:
    if intent is Intent.CREDITS:
        credits = await client.credits.get()
        return Turn(intent, describe_credits(credits), session_id, credits=credits)
    if intent is Intent.STATE:
        state = await client.state.get(session_id)
        return Turn(intent, state.draft.summary(), session_id, state=state)
    if intent is Intent.UPLOAD:
        return Turn(intent, _ASK_FOR_FILE, session_id, needs_file=True)
    if intent is Intent.EXPORT:
        return await _export(client, session_id, output, on_progress)
    return await _chat(client, session_id, text, on_event)


async def _upload(
    client: WorkflowClient,
    session_id: str,
    files: Sequence[FileItem],
    on_progress: ProgressHandler | None,
) -> UploadResult:
    def progress(sent: int, total: int) -> None:
        report_progress(on_progress, Progress(Stage.UPLOADING, sent, total, "Uploading"))

    return await client.upload.files(session_id, *files, on_progress=progress)


async def _export(
    client: WorkflowClient,
    session_id: str,
    output: str | os.PathLike[str] | None,
    on_progress: ProgressHandler | None,
) -> Turn:
    state = await client.state.get(session_id)
    if not state.draft.is_exportable:
        return Turn(Intent.EXPORT, _NOTHING_TO_EXPORT, session_id, state=state)
    report_progress(on_progress, Progress(Stage.RENDERING, 0, 100, "Rendering 0%"))
    job = await client.render.start(session_id, state.draft)

    def render_progress(polled: RenderJob) -> None:
        message = f"Rendering {polled.progress:.0f}%"
        report_progress(on_progress, Progress(Stage.RENDERING, polled.progress, 100, message))

    job = await client.render.wait(job, on_progress=render_progress)
    path: Path | None = None
    if output is not None:

        def download_progress(done: int, total: int | None) -> None:
            report_progress(on_progress, Progress(Stage.DOWNLOADING, done, total, "Downloading"))

        path = await client.render.download(job, Path(output), on_progress=download_progress)
        size = path.stat().st_size
        report_progress(on_progress, Progress(Stage.DONE, size, size, "Done"))
    return Turn(
        Intent.EXPORT,
        describe_export(job, path),
        session_id,
        state=state,
        job=job,
        video_path=path,
    )


async def _chat(
    client: WorkflowClient,
    session_id: str,
    text: str,
    on_event: Callable[[ChatEvent], object] | None,
) -> Turn:
    from nemovideo.protocol.gui import translate_gui_talk

    before = await client.state.get(session_id)
    try:
        reply = await client.chat.send(session_id, text, on_event=on_event)
    except StreamDisconnectedError as exc:
        if exc.delivered is False:
            raise
        return await _after_disconnect(client, session_id, before, exc)
    after = await _best_effort_state(client, session_id, required=reply.silent)
    translation = translate_gui_talk(reply.text)
    parts: list[str] = [translation.text.strip()] if translation.text.strip() else []
    changes: tuple[str, ...] = ()
    if reply.silent and after is not None:
        changes = tuple(describe_changes(before.draft, after.draft))
        parts.append(_describe_silent(changes))
    credits: Credits | None = None
    suggestions: list[Intent] = []
    for action in dict.fromkeys(translation.actions):  # each action once, in order
        if action is Intent.STATE and after is not None and not changes:
            parts.append(after.draft.summary())
        elif action is Intent.CREDITS:
            credits = await _best_effort_credits(client)
            if credits is not None:
                parts.append(describe_credits(credits))
        elif action is Intent.EXPORT:
            suggestions.append(action)
            parts.append(_SUGGEST_EXPORT)
        elif action is Intent.UPLOAD:
            suggestions.append(action)
    return Turn(
        Intent.CHAT,
        "\n\n".join(parts),
        session_id,
        reply=reply,
        state=after,
        credits=credits,
        changes=changes,
        suggestions=tuple(suggestions),
    )


def _describe_silent(changes: Sequence[str]) -> str:
    if not changes:
        return "Done. The agent answered without words and the timeline did not change."
    if len(changes) == 1:
        return f"Done: {changes[0]}"
    return "Done. What changed:\n" + "\n".join(f"- {line}" for line in changes)


async def _after_disconnect(
    client: WorkflowClient,
    session_id: str,
    before: SessionState,
    error: StreamDisconnectedError,
) -> Turn:
    """The documented recovery: never re-send; poll the state and say what changed."""
    from nemovideo.protocol.errors import GenerationFailedError
    from nemovideo.workflows.generation import wait_for_draft

    logger.warning("chat stream broke (delivered=%s); polling the state", error.delivered)
    try:
        after = await wait_for_draft(client, session_id, before=before.draft)
    except GenerationFailedError:
        raise error from None
    changes = tuple(describe_changes(before.draft, after.draft))
    text = "The connection broke, but the work went on. " + _describe_silent(changes)
    return Turn(Intent.CHAT, text, session_id, state=after, changes=changes)


async def _best_effort_state(
    client: WorkflowClient, session_id: str, *, required: bool
) -> SessionState | None:
    """The state after a turn; when the reply had words, a failed read only loses a summary."""
    if required:
        return await client.state.get(session_id)
    try:
        return await client.state.get(session_id)
    except NemoError as exc:
        logger.info("reading the state after the reply failed: %s", type(exc).__name__)
        return None


async def _best_effort_credits(client: WorkflowClient) -> Credits | None:
    try:
        return await client.credits.get()
    except NemoError as exc:
        logger.info("reading the balance failed: %s", type(exc).__name__)
        return None
