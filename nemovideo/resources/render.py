"""Render: export a draft to MP4, follow the job, download the file.

The render endpoints answer without the envelope. The job id is chosen here
(``render_<unix-ms>_<random>``), which makes a lost answer recoverable: the job can be looked up
by the id that was sent instead of submitting the work again.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import attrs
from yarl import URL

from nemovideo.protocol.converter import structure_render_job
from nemovideo.protocol.draft import Draft
from nemovideo.protocol.errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    ConfigurationError,
    NemoError,
    RateLimitedError,
    RenderFailedError,
    ServerError,
)
from nemovideo.protocol.models import RenderJob, RenderStatus, SessionState
from nemovideo.resources._paths import session_path
from nemovideo.transport.calls import per_call
from nemovideo.transport.download import ProgressCallback, download_to_path
from nemovideo.transport.http import HTTPTransport
from nemovideo.transport.retry import RequestKind, RetryPolicy

__all__ = ["RenderResource", "new_job_id"]

logger = logging.getLogger("nemovideo.render")

#: Called with the job each time a poll returns.
RenderProgress = Callable[[RenderJob], object]

_last_ms = 0
_QUALITIES = ("low", "medium", "high")
_MAX_POLL_FAILURES = 5
#: Status spellings already logged as unknown (each is logged once per process).
_UNKNOWN_SEEN: set[str] = set()


def new_job_id() -> str:
    """``render_<unix-ms>_<8 hex>``: the documented prefix and timestamp, plus entropy.

    The timestamp is strictly increasing within this process; the random part keeps ids
    chosen by other processes or machines in the same millisecond apart.
    """
    global _last_ms
    now = int(time.time() * 1000)
    _last_ms = max(now, _last_ms + 1)
    return f"render_{_last_ms}_{secrets.token_hex(4)}"


def _id_taken(exc: APIStatusError) -> bool:
    """Whether a render start was refused because its ``id`` is already in use (409)."""
    return exc.http_status == 409 or exc.code == 409


def _wire_draft(draft: Draft | SessionState | Mapping[str, Any]) -> tuple[Draft, dict[str, Any]]:
    if isinstance(draft, SessionState):
        draft = draft.draft
    if not isinstance(draft, Draft):
        draft = Draft.from_wire(draft)
    if not draft.is_exportable:
        raise ConfigurationError(
            "The draft has no track with a segment, so there is nothing to export yet: generate "
            "or edit first (client.chat.send), then check client.state.get(...).draft."
        )
    return draft, draft.to_wire()


class RenderResource:
    """``client.render``: ``start``, ``get``, ``wait``, ``download``, ``cancel``."""

    def __init__(self, transport: HTTPTransport) -> None:
        self._transport = transport

    @per_call()
    async def start(
        self,
        session_id: str,
        draft: Draft | SessionState | Mapping[str, Any],
        *,
        quality: str = "high",
        job_id: str | None = None,
        retry: RetryPolicy | None = None,
        before_new_id: Callable[[str], Awaitable[object]] | None = None,
        timeout: float | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> RenderJob:
        """Submit the draft for export to MP4. Export costs no credits.

        The draft is sent back exactly as the state endpoint gave it. If the answer is lost
        (a broken connection or a 5xx), the job is looked up by its id rather than submitted
        again, so no second render starts behind the user's back.

        A start refused because the id is taken (HTTP 409: another process chose the same id)
        is submitted once more with a new id, as the API's reference says; the returned job's
        ``id`` is then not ``job_id``; ``before_new_id`` is awaited with the new id before it
        is sent (a journal records it there, so no started job goes unrecorded).

        Raises:
            ConfigurationError: the draft is empty or ``quality`` unknown.
            ExportBlockedError: (402) export is blocked on the free plan; register to unlock.
        """
        if quality not in _QUALITIES:
            raise ConfigurationError(f"quality must be one of {', '.join(_QUALITIES)}.")
        typed, wire = _wire_draft(draft)
        job_id = job_id or new_job_id()
        try:
            return await self._start(session_id, typed, wire, quality, job_id, retry)
        except APIStatusError as exc:
            if not _id_taken(exc):
                raise
            fresh = new_job_id()
            logger.warning("render id %s is taken; submitting as %s", job_id, fresh)
            if before_new_id is not None:
                await before_new_id(fresh)
            return await self._start(session_id, typed, wire, quality, fresh, retry)

    async def _start(
        self,
        session_id: str,
        typed: Draft,
        wire: dict[str, Any],
        quality: str,
        job_id: str,
        retry: RetryPolicy | None,
    ) -> RenderJob:
        body = {
            "id": job_id,
            "sessionId": session_id,
            "draft": wire,
            "output": {"format": "mp4", "quality": quality},
        }
        try:
            answer = await self._transport.request(
                "POST",
                "/api/render/proxy/lambda",
                kind=RequestKind.WORK,
                json=body,
                enveloped=False,
                retry=retry,
                what="starting the render",
            )
        except (APIConnectionError, ServerError) as exc:
            if isinstance(exc, APIConnectionError) and exc.request_sent is False:
                raise
            recovered = await self._recover(job_id)
            if recovered is None:
                raise
            job = recovered
        else:
            job = structure_render_job(answer, job_id=job_id)
        return _with_origin(job, job_id, session_id, typed)

    async def _recover(self, job_id: str) -> RenderJob | None:
        try:
            found = await self.get(job_id)
        except NemoError:
            return None
        logger.info("render start answer was lost; found job %s by its id", job_id)
        return found

    @per_call()
    async def get(
        self,
        job_id: str,
        *,
        retry: RetryPolicy | None = None,
        timeout: float | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> RenderJob:
        """The job's status, progress and, once completed, its output URL, duration and size.

        A status spelling the SDK does not know is read as ``processing`` (logged once per
        spelling, kept in ``unknown_status``): waiting goes on until the poll budget ends.

        Raises:
            APIStatusError: the API does not know the job (or refused the request).
            InvalidResponseError: the answer is not an object.
        """
        answer = await self._transport.request(
            "GET",
            session_path("/api/render/proxy/lambda/{}", job_id),
            kind=RequestKind.READ,
            enveloped=False,
            retry=retry,
            what="reading the render status",
        )
        # The id is the one asked for: a server cannot rename a job (or smuggle a path into it).
        job = attrs.evolve(structure_render_job(answer, job_id=job_id), id=job_id)
        unknown = job.unknown_status
        if unknown is not None and unknown not in _UNKNOWN_SEEN:
            _UNKNOWN_SEEN.add(unknown)
            logger.warning(
                "render status %r is unknown to this SDK; taking it as still processing", unknown
            )
        return job

    @per_call(deadline=False)
    async def wait(
        self,
        job: RenderJob | str,
        *,
        poll_interval: float | None = None,
        timeout: float | None = None,
        on_progress: RenderProgress | None = None,
        resubmit: bool = True,
        extra_headers: Mapping[str, str] | None = None,
    ) -> RenderJob:
        """Poll until the job completes; return the completed job.

        Args:
            poll_interval: seconds between polls (documented: 30).
            timeout: overall deadline in seconds (default: poll_interval x max_polls, the
                documented 10 polls).
            on_progress: called with the job after every poll.
            resubmit: on ``failed``, submit the same draft ONCE more with a new id, as the API
                documents (needs a job from :meth:`start`, which remembers the draft).

        Raises:
            RenderFailedError: the job failed (again, after the one re-submission).
            APITimeoutError: the deadline passed; the job may still finish (see ``job_id``).
        """
        cfg = self._transport.config
        interval = cfg.poll_interval if poll_interval is None else poll_interval
        if interval < 0:
            raise ConfigurationError("poll_interval must not be negative.")
        budget = timeout if timeout is not None else max(interval, 0.001) * cfg.max_polls
        loop = asyncio.get_running_loop()
        deadline = loop.time() + budget
        current = job if isinstance(job, RenderJob) else RenderJob(id=job)
        resubmitted = False
        failures = 0
        while True:
            try:
                polled = await self.get(current.id)
            except (RateLimitedError, ServerError, APIConnectionError) as exc:
                # Polling is idempotent: a passing failure is one missed poll, not a lost job.
                failures += 1
                if failures > _MAX_POLL_FAILURES or loop.time() >= deadline:
                    raise
                logger.info("render poll failed (%s); polling on", type(exc).__name__)
                await asyncio.sleep(min(interval, max(0.0, deadline - loop.time())))
                continue
            failures = 0
            current = _with_origin(polled, current.id, current.session_id, current.draft)
            if on_progress is not None:
                on_progress(current)
            if current.status is RenderStatus.COMPLETED:
                return current
            if current.status is RenderStatus.FAILED:
                if resubmit and not resubmitted and current.session_id and current.draft:
                    resubmitted = True
                    logger.warning("render %s failed; submitting once more", current.id)
                    current = await self.start(current.session_id, current.draft)
                    continue
                raise RenderFailedError(
                    f"The render {current.id} failed"
                    + (f": {current.error}" if current.error else "")
                    + (" (also after one re-submission)." if resubmitted else ".")
                    + " Check the draft (client.state.get) and try an export again later.",
                    job_id=current.id,
                )
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise APITimeoutError(
                    f"The render {current.id} was still {current.status.value} "
                    f"({current.progress:.0f}%) at the deadline; it may still finish: "
                    f"client.render.wait({current.id!r}) picks it up again.",
                    request_sent=True,
                )
            await asyncio.sleep(min(interval, remaining))

    @per_call()
    async def download(
        self,
        job: RenderJob | str,
        dest: str | Path,
        *,
        on_progress: ProgressCallback | None = None,
        timeout: float | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> Path:
        """Save the rendered MP4 at ``dest`` (a file path, or a folder: then ``<job id>.mp4``).

        Streams to a temporary file beside ``dest``, checks it against the transfer's own
        ``Content-Length`` (or, when none is announced, that it is a complete MP4), then
        renames it, so a broken download never leaves a partial file at ``dest``. The job's
        ``size`` is only a progress hint. The output URL usually points at a CDN: it is fetched
        WITHOUT the bearer token and attribution headers. If it fails, the documented fallback
        route of the API is tried.

        Raises:
            ConfigurationError: the job has not completed, or ``dest`` is unusable.
            InvalidResponseError: the file was truncated or larger than announced.
        """
        if isinstance(job, str):
            job = await self.get(job)
        if job.status is not RenderStatus.COMPLETED:
            raise ConfigurationError(
                f"The render {job.id} is {job.status.value}; wait for it first "
                "(client.render.wait)."
            )
        path = Path(dest)
        if path.is_dir():  # noqa: ASYNC240 - one stat call, not worth a thread
            path = path / f"{_safe_name(job.id)}.mp4"
        transport = self._transport
        cfg = transport.config
        common: dict[str, Any] = {
            "size_hint": job.size,
            "max_size": cfg.max_download_bytes,
            "read_timeout": cfg.timeouts.download_read,
            "connect_timeout": cfg.timeouts.connect,
            "on_progress": on_progress,
            "expect_mp4": True,
        }
        sources: list[tuple[URL, bool]] = []
        if job.url:
            url = cfg.base_url.join(URL(job.url))
            sources.append((url, url.origin() == cfg.base_url.origin()))
        fallback = transport.url(session_path("/api/render/proxy/{}/download", job.id))
        sources.append((fallback, True))
        policy = cfg.retry
        last: NemoError | None = None
        # A download is idempotent: each round tries the output URL, then the fallback route.
        for round_ in range(1 + policy.max_retries):
            for url, ours in sources:
                headers = await transport.auth_headers() if ours else {}
                options = {
                    # The attribution middleware adds its headers on the API's origin only.
                    "middlewares": transport.request_middlewares(),
                    **transport.proxies.options(url),
                }
                try:
                    await download_to_path(
                        transport.session(),
                        url,
                        path,
                        headers=headers,
                        request_options=options,
                        **common,
                    )
                    return path
                except ConfigurationError:
                    raise
                except NemoError as exc:
                    last = exc
                    logger.warning("download from %s failed (%s)", url.host, type(exc).__name__)
            if round_ < policy.max_retries:
                await policy.sleep(min(policy.backoff_max, policy.backoff_initial * 2**round_))
        assert last is not None
        raise last

    @per_call()
    async def cancel(
        self,
        job_id: str,
        *,
        timeout: float | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> bool:
        """Ask the server to cancel a job, best effort; True when it accepted.

        The cancel route appears in one retracted reference only: never rely on it.

        Raises:
            Nothing: a refusal or a failure is logged and answered with ``False``.
        """
        try:
            await self._transport.request(
                "POST",
                session_path("/api/render/proxy/lambda/{}/cancel", job_id),
                kind=RequestKind.WRITE,
                enveloped=False,
                retry=RetryPolicy.never(),
                what="cancelling the render",
            )
        except NemoError as exc:
            logger.info("render cancel for %s not accepted (%s)", job_id, type(exc).__name__)
            return False
        return True


def _safe_name(job_id: str) -> str:
    """A file name from a job id that cannot leave the folder it is joined to."""
    name = re.sub(r"[^A-Za-z0-9_-]", "_", job_id)[:120]
    return name or "render"


def _with_origin(
    job: RenderJob, job_id: str, session_id: str | None, draft: Draft | None
) -> RenderJob:
    """The job as the server reported it, plus what it was submitted with (for a re-submission)."""
    return attrs.evolve(job, id=job_id, session_id=session_id, draft=draft)
