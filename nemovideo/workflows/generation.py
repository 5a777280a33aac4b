"""Generation: one chat message asks for the video, and the state says when it is there.

The message is sent once. When the reply is silent, or the stream broke after the message may
have arrived, the draft is watched as the API documents instead of asking again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from nemovideo.protocol.draft import Draft
from nemovideo.protocol.errors import (
    APIConnectionError,
    GenerationFailedError,
    ServerError,
    StreamDisconnectedError,
)
from nemovideo.protocol.models import SessionState
from nemovideo.workflows.results import Progress, ProgressHandler, Stage, report_progress

if TYPE_CHECKING:
    from nemovideo.workflows.host import WorkflowClient

__all__ = [
    "DEFAULT_PROMPT",
    "RECOVERY_FIRST_WAIT",
    "RECOVERY_POLL",
    "RECOVERY_UNCHANGED_POLLS",
    "build_prompt",
    "generate",
    "wait_for_draft",
]

logger = logging.getLogger("nemovideo.workflows")

#: The documented recovery: the first look at the state after this many seconds ...
RECOVERY_FIRST_WAIT = 30.0
#: ... then one every this many seconds, until five polls in a row see no change.
RECOVERY_POLL = 60.0
RECOVERY_UNCHANGED_POLLS = 5

DEFAULT_PROMPT = "turn this image into a {duration}-second animated video clip"


def build_prompt(prompt: str | None, duration: float, resolution: str) -> str:
    """The instruction sent to the agent: an animate request carrying the user's words.

    Example:
        >>> build_prompt("waves roll in", 5, "1080p")
        'Animate this image into a 5-second video clip: waves roll in'
    """
    seconds = f"{duration:g}"
    if prompt is None or not prompt.strip():
        text = DEFAULT_PROMPT.format(duration=seconds)
    else:
        text = f"Animate this image into a {seconds}-second video clip: {prompt.strip()}"
    if resolution != "1080p":
        text += f" ({resolution})"
    return text


def _emit(handler: ProgressHandler | None, seconds: float, message: str) -> None:
    report_progress(handler, Progress(Stage.GENERATING, seconds, None, message))


async def wait_for_draft(
    client: WorkflowClient,
    session_id: str,
    *,
    before: Draft | None = None,
    on_wait: Callable[[float], object] | None = None,
) -> SessionState:
    """Poll the state until the draft is exportable and has settled, as documented.

    The documented recovery after a broken stream or a silent reply: wait 30 s, then poll every
    60 s; five unchanged polls without an exportable draft mean the work failed. These times
    are the service's, not the render's ``poll_interval``: only the client's ``time_scale``
    (for a sandbox whose clock runs fast) changes them.

    Raises:
        GenerationFailedError: the draft stayed empty (or unchanged from ``before``).
    """
    scale = client.config.time_scale
    interval = RECOVERY_POLL * scale
    waited = RECOVERY_FIRST_WAIT * scale
    await asyncio.sleep(waited)
    last: Draft | None = None
    unchanged = 0
    while True:
        state = await client.state.get(session_id)
        draft = state.draft
        changed_from_before = before is None or draft != before
        if draft.is_exportable and changed_from_before and draft == last:
            return state
        if draft == last:
            unchanged += 1
            if unchanged >= RECOVERY_UNCHANGED_POLLS:
                if draft.is_exportable:
                    return state
                raise GenerationFailedError(session_id=session_id)
        else:
            unchanged = 0
        last = draft
        if on_wait is not None:
            on_wait(waited)
        await asyncio.sleep(interval)
        waited += interval


async def generate(
    client: WorkflowClient,
    session_id: str,
    text: str,
    handler: ProgressHandler | None = None,
    before: Draft | None = None,
) -> SessionState:
    """Send ``text`` once and return the state once its draft is exportable.

    Raises:
        GenerationFailedError: the draft never became exportable.
        StreamDisconnectedError / APIConnectionError: the message provably never arrived.
    """
    loop = asyncio.get_running_loop()
    started = loop.time()
    _emit(handler, 0, "Generating: the agent is working")

    def on_event(_: object) -> None:
        _emit(handler, loop.time() - started, "Generating")

    try:
        reply = await client.chat.send(session_id, text, on_event=on_event)
    except (StreamDisconnectedError, ServerError, APIConnectionError) as exc:
        # The message may have reached the agent: never send it again, watch the state instead
        # (the documented recovery). Only a message proven undelivered is an error here.
        if getattr(exc, "delivered", None) is False or getattr(exc, "request_sent", None) is False:
            raise
        logger.warning("chat failed after sending (%s); polling the state", type(exc).__name__)
        return await wait_for_draft(client, session_id, before=before)
    state = await client.state.get(session_id)
    if state.draft.is_exportable:
        return state
    logger.info(
        "the reply%s left no exportable draft yet; polling", " (silent)" if reply.silent else ""
    )
    return await wait_for_draft(client, session_id, before=before)
