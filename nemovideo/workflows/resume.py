"""Finishing the flows an interrupted run left in the journal, without paying twice."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from nemovideo.protocol.errors import ConfigurationError, NemoError
from nemovideo.protocol.models import RenderJob, RenderStatus, Session
from nemovideo.workflows.animate import animate
from nemovideo.workflows.batch import AnimateItem, BatchResult
from nemovideo.workflows.generation import wait_for_draft
from nemovideo.workflows.journal import FlowRecord, Journal
from nemovideo.workflows.results import Video
from nemovideo.workflows.steps import FlowSteps, finish_render

if TYPE_CHECKING:
    from nemovideo.workflows.host import WorkflowClient

__all__ = ["resume"]

logger = logging.getLogger("nemovideo.resume")


async def resume(
    client: WorkflowClient, journal: Journal | None = None, *, output_dir: str | None = None
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
    client: WorkflowClient, book: Journal, flow: FlowRecord, item: AnimateItem
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
    steps = FlowSteps(client, book, flow.flow_id, None)
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
