"""The steps of one ``animate`` flow after its generation, shared by :func:`animate` and resume.

:class:`FlowSteps` carries what one flow has started (session, render job) with its journal and
progress handler; :func:`finish_render` renders, waits and downloads; :func:`beside` and
:func:`best_effort` run the calls a flow may do without (balances, claim links).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from nemovideo.protocol.errors import NemoError
from nemovideo.protocol.models import RenderJob, Session, SessionState
from nemovideo.workflows.results import Progress, ProgressHandler, Stage, Video, report_progress

if TYPE_CHECKING:
    from nemovideo.workflows.host import WorkflowClient
    from nemovideo.workflows.journal import Journal

__all__ = ["FlowSteps", "beside", "best_effort", "emit", "finish_render", "record"]

logger = logging.getLogger("nemovideo.workflows")

T = TypeVar("T")


def emit(
    handler: ProgressHandler | None,
    stage: Stage,
    done: float = 0,
    total: float | None = None,
    message: str = "",
) -> None:
    """Report one stage of a flow to its progress handler (never fatal)."""
    report_progress(handler, Progress(stage, done, total, message))


async def record(journal: Journal | None, flow: str, step: str, **fields: Any) -> None:
    """Record a step in ``journal`` (when there is one), off the event loop.

    Raises:
        OSError: the journal could not be written.
    """
    if journal is not None:
        await asyncio.to_thread(journal.record, flow, step, **fields)


class FlowSteps:
    """The steps of one flow, with what has started (for the journal and for errors)."""

    def __init__(
        self,
        client: WorkflowClient,
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
        self.mark = 0  # this flow's mark in the client's flow accounting

    def running(self) -> dict[str, Any]:
        """Ids of the work that may still run server-side."""
        out: dict[str, Any] = {}
        if self.session is not None:
            out["session_id"] = self.session.session_id
            out["task_id"] = self.session.task_id
        if self.job is not None:
            out["job_id"] = self.job.id
        return out


async def finish_render(
    steps: FlowSteps, state: SessionState, dest: Path | None, credits_before: Any
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
        await record(steps.journal, flow, "render_started", job_id=job_id)
        emit(handler, Stage.RENDERING, 0, 100, "Rendering 0%")
        steps.job = await client.render.start(session.session_id, state.draft, job_id=job_id)

    def render_progress(job: RenderJob) -> None:
        steps.job = job
        emit(handler, Stage.RENDERING, job.progress, 100, f"Rendering {job.progress:.0f}%")

    job = await client.render.wait(steps.job, on_progress=render_progress)
    if job.id != steps.job.id:
        await record(steps.journal, flow, "render_started", job_id=job.id)
    steps.job = job

    def download_progress(done: int, total: int | None) -> None:
        emit(handler, Stage.DOWNLOADING, done, total, "Downloading")

    data: bytes | None = None
    # The claim link needs only the session: it is asked while the video downloads.
    async with beside(client.session.claim_link(session)) as claim:
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
    await record(steps.journal, flow, "downloaded", path=str(path) if path else None)
    # The balance is the account's: only a flow that ran alone can call a drop its own.
    alone = steps.mark > 0 and client.flows.ran_alone(steps.mark)
    credits_after = await best_effort(client.credits.get()) if alone else None
    spent = None
    if credits_before is not None and credits_after is not None:
        spent = max(0, credits_before.total - credits_after.total)
    await record(steps.journal, flow, "done", job_id=job.id)
    emit(handler, Stage.DONE, size, size, "Done")
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
async def beside(call: Awaitable[T]) -> AsyncIterator[asyncio.Future[T | None]]:
    """Run a best-effort call (see :func:`best_effort`) beside the block; done when the block ends.

    The block's own requests go on meanwhile, so the call adds no round trip to the flow. If
    the block fails (or is cancelled), the call is cancelled and the block's error stands.
    """
    future = asyncio.ensure_future(best_effort(call))
    try:
        yield future
    except BaseException:
        future.cancel()
        with contextlib.suppress(BaseException):
            await future
        raise
    await future


async def best_effort(call: Awaitable[T]) -> T | None:
    """A best-effort call: its failure is logged, never raised (claim links, balances).

    Raises:
        Nothing of the SDK's: a `NemoError` becomes ``None``.
    """
    try:
        return await call
    except NemoError as exc:
        logger.info("best-effort call failed: %s", type(exc).__name__)
        return None
