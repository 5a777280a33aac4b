"""Finishing a flow the ledger already knows, without paying for it again.

Shared by :func:`~nemovideo.workflows.resume.resume` and by ``animate(key=...)`` for a key
seen before. The flow must be claimed first (:meth:`Journal.claim`); then:

- a flow that never reached its chat message is started over in place (nothing was paid);
- a flow whose message may have gone out never sends it again: the recorded render job is
  looked up by id and followed, else the draft is watched and rendered;
- a finished flow's video is handed back (downloaded again when it was kept in memory).
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from nemovideo.protocol.errors import ConfigurationError, NemoError
from nemovideo.protocol.models import RenderJob, RenderStatus, Session
from nemovideo.workflows.generation import build_prompt, wait_for_draft
from nemovideo.workflows.journal import FlowRecord, Journal
from nemovideo.workflows.results import ProgressHandler, Video
from nemovideo.workflows.steps import (
    FlowSteps,
    NewFlowSteps,
    find_job,
    finish_render,
    remove_stale_parts,
    run_held,
)

if TYPE_CHECKING:
    from nemovideo.workflows.host import WorkflowClient

__all__ = ["finish_flow", "video_of_done_flow", "wait_for_holder"]

logger = logging.getLogger("nemovideo.resume")


def _restartable_image(flow: FlowRecord) -> str:
    image = flow.get("image")
    if not isinstance(image, str) or image.startswith("<"):
        raise ConfigurationError(
            "This flow stopped before its chat message (nothing was paid) and its image was "
            "given as data, not a path: animate it again."
        )
    return image


async def finish_flow(
    client: WorkflowClient,
    book: Journal,
    flow: FlowRecord,
    dest: Path | None,
    *,
    on_progress: ProgressHandler | None = None,
    timeout: float | None = None,
) -> Video:
    """Finish a flow this process has claimed in ``book``; ``dest`` is where its video goes.

    Raises:
        NemoError: the flow stopped again (paid work stays resumable; see ``resumable``).
        ConfigurationError: an unpaid flow whose image was given as data cannot restart.
    """
    if dest is not None:
        await asyncio.to_thread(remove_stale_parts, dest)
    if not flow.paid:
        steps: FlowSteps = NewFlowSteps(client, book, flow.flow_id, on_progress)
        return await run_held(steps, lambda: _restart(steps, flow, dest), timeout)
    steps = FlowSteps(client, book, flow.flow_id, on_progress)
    steps.paid = True
    steps.resubmitted = bool(flow.get("resubmitted"))
    session_id = str(flow.get("session_id") or "")
    steps.session = Session(session_id=session_id, task_id=str(flow.get("task_id") or ""))
    return await run_held(steps, lambda: _recover(steps, flow, dest), timeout)


async def _restart(steps: FlowSteps, flow: FlowRecord, dest: Path | None) -> Video:
    assert isinstance(steps, NewFlowSteps)
    image = _restartable_image(flow)
    duration = flow.get("duration", 5)
    resolution = flow.get("resolution", "1080p")
    text = flow.get("instruction") or build_prompt(flow.get("prompt"), duration, resolution)
    is_url = image.lower().startswith(("http://", "https://"))
    state, before = await steps.start(
        image, is_url, str(text), str(flow.get("task_name") or "project"),
        str(flow.get("language") or "en"),
    )  # fmt: skip
    return await finish_render(steps, state, dest, before)


async def _recover(steps: FlowSteps, flow: FlowRecord, dest: Path | None) -> Video:
    client = steps.client
    assert steps.session is not None
    session_id = steps.session.session_id
    if not session_id:
        raise ConfigurationError(f"Flow {flow.flow_id} was paid for but no session is recorded.")
    job_id = flow.get("job_id")
    if job_id:
        job = await find_job(steps, str(job_id))
        if job is None:
            logger.info("render %s is unknown to the service; rendering again", job_id)
        elif job.status is not RenderStatus.FAILED:
            state = await client.state.get(session_id)
            steps.job = RenderJob(
                id=job.id, session_id=session_id, draft=state.draft, status=job.status
            )
            return await finish_render(steps, state, dest, None)
        elif not steps.resubmitted:
            steps.resubmitted = False  # the first job failed: the one re-submission is left
        else:
            logger.info("render %s failed after its re-submission; rendering again", job_id)
    state = await client.state.get(session_id)
    if not state.draft.is_exportable:
        state = await wait_for_draft(client, session_id)
    return await finish_render(steps, state, dest, None)


async def video_of_done_flow(client: WorkflowClient, flow: FlowRecord, dest: Path | None) -> Video:
    """The video of a flow that is done: its file when it is still there, else downloaded
    again from the finished job (free: the work is paid and rendered).

    Raises:
        NemoError: the job could not be read or downloaded again.
    """
    session = Session(
        session_id=str(flow.get("session_id") or ""), task_id=str(flow.get("task_id") or "")
    )
    job_id = str(flow.get("job_id") or "")
    recorded = flow.get("path")
    if isinstance(recorded, str) and dest in (None, Path(recorded)):
        size = await asyncio.to_thread(_size_of, recorded)
        if size is not None:
            return Video(size, session.session_id, session.task_id, job_id, path=Path(recorded))
    job = await client.render.get(job_id)
    if dest is None:
        import tempfile

        with tempfile.TemporaryDirectory(prefix="nemovideo-") as tmp:
            saved = await client.render.download(job, Path(tmp) / "video.mp4")
            data = saved.read_bytes()
        return Video(len(data), session.session_id, session.task_id, job_id, data=data,
                     duration=job.duration)  # fmt: skip
    path = await client.render.download(job, dest)
    return Video(path.stat().st_size, session.session_id, session.task_id, job_id, path=path,
                 duration=job.duration)  # fmt: skip


def _size_of(path: str) -> int | None:
    try:
        return os.path.getsize(path) if os.path.isfile(path) else None
    except OSError:
        return None


async def wait_for_holder(book: Journal, flow_id: str) -> FlowRecord:
    """Wait while another run holds the flow: until it finishes, or its lease lapses.

    Raises:
        NemoError: the flow disappeared from the ledger.
    """
    while True:
        current = await asyncio.to_thread(book.get, flow_id)
        if current is None:
            raise NemoError(f"Flow {flow_id} is no longer in the journal {book.where}.")
        if current.finished or not current.held():
            return current
        await asyncio.sleep(min(1.0, book.lease / 3))
