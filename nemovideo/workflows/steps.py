"""The steps of an ``animate`` flow, and the rule that keeps paid work (animate and resume).

:class:`FlowSteps` carries what one flow has started (session, render job) with its ledger and
progress handler. :class:`NewFlowSteps` takes a flow from nothing to the one paid chat message;
:func:`finish_render` renders, waits and downloads; :func:`run_held` runs either under the
flow's lease and decides, when something stops it, whether the flow ends (``failed``: nothing
was paid, or the service said the work is gone) or waits for ``resume`` (anything else).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import inspect
import logging
import os
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from nemovideo.protocol.draft import Draft
from nemovideo.protocol.errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    GenerationFailedError,
    NemoError,
    RenderFailedError,
    ServerError,
    SessionNotFoundError,
    StorageError,
)
from nemovideo.protocol.models import RenderJob, Session, SessionState
from nemovideo.resources.render import new_job_id
from nemovideo.workflows.generation import generate
from nemovideo.workflows.journal import FlowTakenError
from nemovideo.workflows.leases import holding
from nemovideo.workflows.results import Progress, ProgressHandler, Stage, Video, report_progress

if TYPE_CHECKING:
    from nemovideo.workflows.host import WorkflowClient
    from nemovideo.workflows.journal import Journal

if sys.version_info >= (3, 11):
    from asyncio import timeout as _deadline
else:  # pragma: no cover - Python 3.10
    from async_timeout import timeout as _deadline

__all__ = [
    "FlowSteps",
    "NewFlowSteps",
    "beside",
    "best_effort",
    "emit",
    "finish_render",
    "record",
    "run_held",
]

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
    """Commit a step in ``journal`` (when there is one) before the step is taken.

    Raises:
        StorageError: the journal could not commit it: the step must not be taken.
    """
    if journal is not None:
        await asyncio.to_thread(journal.record, flow, step, **fields)


class FlowSteps:
    """The steps of one flow, with what has started (for the ledger and for errors)."""

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
        #: True once the chat message may have gone out: from then on the flow is kept.
        self.paid = False
        #: True once the render was submitted a second time (the documented one re-submission).
        self.resubmitted = False
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

    def where(self) -> str:
        """The flow and its server-side ids, for messages."""
        ids = ", ".join(f"{k} {v}" for k, v in {"flow": self.flow, **self.running()}.items())
        return f"({ids})"


class NewFlowSteps(FlowSteps):
    """A flow's steps up to the render: session, upload, the one paid chat message."""

    async def start(
        self, image: Any, is_url: bool, text: str, task_name: str, language: str
    ) -> tuple[SessionState, Any]:
        """Create the session, upload, send the message; the state and the balance before.

        Raises:
            NemoError: a request was refused or failed (before the message: nothing was paid).
            StorageError: the ledger could not record a step (the step was not taken).
        """
        client, handler, flow = self.client, self.handler, self.flow
        emit(handler, Stage.STARTING, message="Creating a session")
        # The balance is only read (best effort), so it costs no round trip of its own: it is
        # asked beside the session, and known long before the chat message can spend anything.
        async with beside(client.credits.get()) as balance:
            session = await client.session.create(task_name=task_name, language=language)
        self.session = session
        await record(
            self.journal, flow, "session", session_id=session.session_id, task_id=session.task_id
        )
        await self._upload(image, is_url)
        # Committed BEFORE the message goes out: from here on it is never sent again.
        await record(self.journal, flow, "chat_sent", chat_sent=True)
        self.paid = True
        state = await generate(client, session.session_id, text, handler, Draft.from_wire({}))
        return state, balance.result()

    async def _upload(self, image: Any, is_url: bool) -> None:
        assert self.session is not None
        sid = self.session.session_id
        handler = self.handler

        def progress(sent: int, total: int) -> None:
            emit(handler, Stage.UPLOADING, sent, total, "Uploading")

        async def send() -> object:
            if is_url:
                emit(handler, Stage.UPLOADING, 0, None, "Uploading by URL")
                return await self.client.upload.urls(sid, [image])
            return await self.client.upload.files(sid, sendable, on_progress=progress)

        sendable = image if is_url else _sendable(image)
        try:
            await send()
        except (ServerError, APIConnectionError) as exc:
            # Whether the upload landed is unknown (a timeout: the server may still have
            # processed it): the state says. If it did not, sending it again creates nothing
            # twice. Nothing is paid before the chat message, so a second failure ends here.
            if await self.client.upload.landed(sid) is not None:
                logger.info("the upload landed despite %s", type(exc).__name__)
            else:
                logger.warning("upload failed (%s); sending it once more", type(exc).__name__)
                await send()
        await record(self.journal, self.flow, "uploaded")


def _sendable(image: Any) -> Any:
    """A path whose name is not valid UTF-8 (bytes a file system allows) is sent under a
    readable name: the multipart header could not carry the original one."""
    if not isinstance(image, (str, os.PathLike)):
        return image
    path = os.fspath(image)
    name = os.path.basename(path)
    if not isinstance(name, str):
        return image
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        readable = os.fsencode(name).decode("utf-8", "replace")
        return (readable, Path(path).read_bytes())
    return image


# -- the render --------------------------------------------------------------------------


async def _start_render(steps: FlowSteps, draft: Draft) -> None:
    """Start a render under a fresh id recorded before the request (a new id the service asks
    for, because this one is taken, is recorded before its request too)."""
    assert steps.session is not None
    session_id = steps.session.session_id
    extra: dict[str, Any] = {"resubmitted": True} if steps.resubmitted else {}

    async def note(job_id: str) -> None:
        await record(steps.journal, steps.flow, "render_started", job_id=job_id, **extra)
        steps.job = RenderJob(id=job_id, session_id=session_id, draft=draft)

    first = new_job_id()
    await note(first)
    steps.job = await steps.client.render.start(session_id, draft, job_id=first, before_new_id=note)


async def find_job(steps: FlowSteps, job_id: str) -> RenderJob | None:
    """The recorded job as the service knows it, or ``None`` when the service says it has no
    such job. A failure to ask (an outage, a 5xx, a 429) is raised, never read as "not found".

    Raises:
        NemoError: the status could not be read (try again later).
    """
    try:
        return await steps.client.render.get(job_id)
    except (ServerError, APIConnectionError):
        raise
    except APIStatusError as exc:
        if exc.http_status == 404 or isinstance(exc, SessionNotFoundError):
            return None
        raise


async def finish_render(
    steps: FlowSteps, state: SessionState, dest: Path | None, credits_before: Any
) -> Video:
    """Render the state's draft (or follow ``steps.job``), wait, download.

    Every job id is recorded before its start request; a failed render is submitted once more
    under a new, recorded id (the documented single re-submission).

    Raises:
        RenderFailedError: the export failed twice.
        APITimeoutError: the render did not finish within the polling budget.
        InvalidResponseError: the download was truncated or larger than announced.
        StorageError: the video could not be written where it goes.
    """
    client, handler = steps.client, steps.handler
    assert steps.session is not None
    if steps.job is None:
        await _start_render(steps, state.draft)
        emit(handler, Stage.RENDERING, 0, 100, "Rendering 0%")

    def render_progress(job: RenderJob) -> None:
        emit(handler, Stage.RENDERING, job.progress, 100, f"Rendering {job.progress:.0f}%")

    while True:
        assert steps.job is not None
        try:
            job = await client.render.wait(steps.job, on_progress=render_progress, resubmit=False)
            break
        except RenderFailedError:
            if steps.resubmitted:
                raise
            logger.warning("render %s failed; submitting once more", steps.job.id)
            steps.resubmitted = True
            await _start_render(steps, state.draft)
    steps.job = job
    return await _deliver(steps, state, job, dest, credits_before)


async def _deliver(
    steps: FlowSteps, state: SessionState, job: RenderJob, dest: Path | None, credits_before: Any
) -> Video:
    client, handler, session = steps.client, steps.handler, steps.session
    assert session is not None

    def download_progress(done: int, total: int | None) -> None:
        emit(handler, Stage.DOWNLOADING, done, total, "Downloading")

    data: bytes | None = None
    # The claim link needs only the session: it is asked while the video downloads.
    async with beside(client.session.claim_link(session)) as claim:
        try:
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
        except OSError as exc:
            if isinstance(exc, NemoError):
                raise
            raise StorageError(
                f"The video could not be written to {dest or 'a temporary file'} "
                f"({exc.strerror or exc}).",
                path=str(dest) if dest else None,
            ) from exc
    link = claim.result()
    await record(steps.journal, steps.flow, "downloaded", path=str(path) if path else None)
    # The balance is the account's: only a flow that ran alone can call a drop its own.
    alone = steps.mark > 0 and client.flows.ran_alone(steps.mark)
    credits_after = await best_effort(client.credits.get()) if alone else None
    spent = None
    if credits_before is not None and credits_after is not None:
        spent = max(0, credits_before.total - credits_after.total)
    await record(steps.journal, steps.flow, "done", job_id=job.id, size=size)
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


# -- the rule that keeps paid work ----------------------------------------------------------

_DISK_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def _ends_for_good(steps: FlowSteps, exc: BaseException) -> bool:
    """Whether stopping here ends the flow: nothing paid yet, or the service's own verdict.

    The service's verdicts: the session is gone (1002), or the documented recovery saw five
    unchanged polls of a draft with nothing to render (the generation failed). Anything else
    after the message (outages, deadlines, closes, full disks, a render past its poll budget
    or failed twice: renders cost nothing) keeps the flow for ``resume``.
    """
    if not steps.paid:
        return True
    return isinstance(exc, (SessionNotFoundError, GenerationFailedError))


def _what_to_do(exc: BaseException) -> str:
    if isinstance(exc, StorageError) and getattr(exc, "errno", None) in _DISK_FULL:
        return "free disk space"
    if isinstance(exc, StorageError):
        return "fix the destination (or pass another output folder to resume)"
    if isinstance(exc, (ServerError, APIConnectionError)):
        return "wait for the service or the network to come back"
    return ""


async def _stop(steps: FlowSteps, exc: NemoError, reason: str) -> NemoError:
    """Record how the flow stopped, and say in ``exc`` what happens to its work."""
    exc.flow_id = steps.flow
    if isinstance(exc, FlowTakenError):
        return exc  # another run holds the flow and finishes it: nothing to record here
    if _ends_for_good(steps, exc):
        with contextlib.suppress(NemoError):
            await record(
                steps.journal, steps.flow, "failed", error=f"{type(exc).__name__}: {exc.message}"
            )
        return exc
    exc.resumable = True
    todo = _what_to_do(exc)
    hint = (
        f"The paid work is kept {steps.where()}: "
        + (f"{todo}, then " if todo else "")
        + "client.resume() or `nemovideo resume` finishes it without paying again."
    )
    if steps.journal is None:
        hint = (
            f"The paid work is on the service {steps.where()}, but no journal records it: "
            "finish it with client.render / client.state by hand."
        )
    try:
        await record(
            steps.journal,
            steps.flow,
            "interrupted",
            reason=reason,
            error=f"{type(exc).__name__}: {exc.message}",
            hint=hint,
            **steps.running(),
        )
    except NemoError as failure:
        logger.error("could not record the interrupted flow %s: %s", steps.flow, failure)
    exc.message = f"{exc.message} {hint}"
    return exc


def _interrupt_now(steps: FlowSteps, reason: str) -> None:
    """Record a cancelled flow synchronously (a cancelled task cannot await a thread)."""
    if steps.journal is None:
        return
    step = "failed" if not steps.paid else "interrupted"
    with contextlib.suppress(NemoError):
        steps.journal.record(steps.flow, step, reason=reason, **steps.running())


async def run_held(
    steps: FlowSteps, work: Callable[[], Awaitable[Video]], timeout: float | None
) -> Video:
    """Run a flow's ``work`` under its lease, within ``timeout``, and keep what it paid for.

    When the work stops early, the flow is recorded ``failed`` if nothing was paid (or the
    service says the session is gone) and ``interrupted`` (resumable) otherwise; the error
    raised carries ``flow_id`` and ``resumable`` and says what to do.

    Raises:
        APITimeoutError: ``timeout`` passed.
        NemoError: whatever stopped the work (local file errors as `StorageError`).
    """
    flows = steps.client.flows
    steps.mark = flows.begin()
    try:
        async with holding(steps.journal):
            try:
                if timeout is None:
                    return await work()
                async with _deadline(timeout):
                    return await work()
            except asyncio.TimeoutError:
                late = APITimeoutError(
                    f"animate() did not finish within {timeout:g} s.", request_sent=True
                )
                raise await _stop(steps, late, "deadline") from None
            except asyncio.CancelledError:
                _interrupt_now(steps, "closed" if flows.closing else "cancelled")
                raise
            except NemoError as exc:
                raise await _stop(steps, exc, type(exc).__name__) from None
            except OSError as exc:
                local = StorageError(f"A local file could not be used ({exc}).")
                local.errno = exc.errno
                raise await _stop(steps, local, "local I/O error") from exc
    finally:
        flows.end(steps.mark)


# -- best-effort calls ------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def beside(call: Awaitable[T]) -> AsyncIterator[asyncio.Future[T | None]]:
    """Run a best-effort call (see :func:`best_effort`) beside the block; done when it ends.

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
        if inspect.iscoroutine(call):
            call.close()  # cancelled before it started: never "was never awaited"
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


def remove_stale_parts(dest: Path) -> None:
    """Remove the temporary ``.<name>.*.part`` files a killed download left beside ``dest``."""
    with contextlib.suppress(OSError):
        for part in dest.parent.glob(f".{dest.name}.*.part"):
            with contextlib.suppress(OSError):
                os.unlink(part)
