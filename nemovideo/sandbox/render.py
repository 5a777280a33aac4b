"""The export endpoints (NOT enveloped) and the render queue that makes real MP4s.

One export runs per session at a time; later ones wait as ``pending``. Each job takes 20-60
simulated seconds on the clock while its MP4 is encoded in a bounded worker pool; it completes
when both are done. Failing jobs (``render_failure_rate`` or a ``render_fail`` fault) fail
part-way without encoding anything. A draft whose media cannot be read (an image FFmpeg cannot
decode) fails too, with the reason in ``error``; it never renders a placeholder.
"""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from aiohttp import web

from nemovideo.protocol.draft import Draft
from nemovideo.protocol.errors import InvalidResponseError
from nemovideo.sandbox.api import read_json
from nemovideo.sandbox.core import CORE, ApiError, Core, current, has_attribution
from nemovideo.sandbox.encode import (
    RenderCancelledError,
    RenderInputError,
    plan_from_draft,
    render_mp4,
)
from nemovideo.sandbox.gateway import send_file
from nemovideo.sandbox.store import RenderJob, SessionRecord, TokenRecord

__all__ = ["ROUTES", "resolve_source"]

logger = logging.getLogger("nemovideo.sandbox")

_SAFE = re.compile(r"[^A-Za-z0-9_-]+")


def _json(body: dict[str, Any], status: int = 200) -> web.Response:
    return web.json_response(body, status=status)


def resolve_source(core: Core, url: str) -> bytes | Path | None:
    """The stored blob (its bytes or its file) behind a media URL of this sandbox's CDN."""
    if not core.cdn_url or not url.startswith(core.cdn_url + "/"):
        return None
    parts = [unquote(p) for p in urlsplit(url).path.split("/") if p]
    key: str | None = None
    if len(parts) >= 2 and parts[0] == "media":
        record = core.media.get(parts[1])
        key = record.blob_key if record is not None else None
    elif len(parts) == 2 and parts[0] == "renders":
        key = f"renders/{parts[1]}"
    return None if key is None else core.blobs.source(key)


def _may_export(request: web.Request, token: TokenRecord) -> None:
    if not has_attribution(request.headers):
        if token.anonymous:
            raise ApiError(
                402,
                "Export is not available on the free plan for unidentified clients: send the "
                "X-Skill-Source, X-Skill-Version and X-Skill-Platform headers, or register.",
            )
        raise ApiError(
            400,
            "Missing attribution headers: every API request must carry X-Skill-Source, "
            "X-Skill-Version and X-Skill-Platform.",
        )
    if not token.anonymous and not token.allows("render"):
        raise ApiError(403, "This token lacks the 'render' scope.")


def _draft(body: dict[str, Any]) -> dict[str, Any]:
    raw = body.get("draft")
    try:
        draft = Draft.from_wire(raw)
    except InvalidResponseError:
        raise ApiError(422, "'draft' must be the session's draft object.") from None
    if raw is None or not draft.is_exportable:
        raise ApiError(
            422,
            "The draft is empty: it needs at least one track with a segment.",
            body={
                "success": False,
                "error": "EMPTY_DRAFT",
                "message": "The draft has no track with segments; nothing to render.",
            },
        )
    return draft.to_wire()


async def submit(request: web.Request) -> web.Response:
    """``POST /api/render/proxy/lambda``: ``sessionId`` (camelCase, as documented) and an ``id``."""
    core = request.app[CORE]
    token = core.authenticate(request, None)
    _may_export(request, token)
    body = await read_json(request)
    job_id = body.get("id")
    if not isinstance(job_id, str) or not job_id.strip() or len(job_id) > 128:
        raise ApiError(422, "'id' must be a non-empty string such as render_<unix-ms>.")
    session_id = body.get("sessionId")
    if not isinstance(session_id, (str, int)) or isinstance(session_id, bool):
        raise ApiError(422, "'sessionId' (camelCase) must be the session's id.")
    session = core.session_of(token, str(session_id))
    existing = core.render_jobs.get(job_id)
    if existing is not None:
        same = existing.session_id == session.session_id
        if same and core.options.render_id_reuse == "same_job":
            return _json(_payload(core, existing))  # same id: the same job, never two
        raise ApiError(
            409,
            f"The render id {job_id} is already taken; generate a new id and retry.",
            body={"success": False, "error": "ID_TAKEN", "message": "Render id already taken."},
        )
    output = body.get("output") or {}
    if not isinstance(output, dict) or output.get("format", "mp4") != "mp4":
        raise ApiError(422, "Only output.format 'mp4' is supported.")
    draft = _draft(body)
    rule = current().fault
    rng = session.rng
    job = RenderJob(
        id=job_id,
        session_id=session.session_id,
        owner=token.account.user_id,
        task_id=core.new_id("lambda_", 8),
        draft=draft,
        created_at=core.clock.now(),
        work_seconds=rng.uniform(20, 60),
        will_fail=(rule is not None and rule.kind == "render_fail")
        or rng.random() < core.options.render_failure_rate,
    )
    core.render_jobs[job_id] = job
    core.spawn(_run(core, session, job))
    return _json(_payload(core, job))


def _payload(core: Core, job: RenderJob) -> dict[str, Any]:
    return job.payload(core.clock.now(), size=core.options.output_size)


def _output_key(core: Core, job_id: str) -> str:
    name = _SAFE.sub("_", job_id)[:100] or "render"
    key = f"renders/{name}.mp4"
    if core.blobs.size(key) is not None:
        key = f"renders/{name}-{core.next_number()}.mp4"
    return key


async def _run(core: Core, session: SessionRecord, job: RenderJob) -> None:
    async with session.render_lock:
        if job.cancelled:
            return
        await core.clock.sleep(session.rng.uniform(1, 3))
        job.status, job.started_at = "processing", core.clock.now()
        if job.will_fail:
            await core.clock.sleep(job.work_seconds * session.rng.uniform(0.3, 0.8))
            if not job.cancelled:
                job.status, job.error = "failed", "Render failed: the renderer crashed."
            return
        options = core.options
        plan = plan_from_draft(
            job.draft,
            height=options.render_height,
            fps=options.render_fps,
            resolve=lambda url: resolve_source(core, url),
        )
        key = _output_key(core, job.id)
        path = core.blobs.reserve(key)

        def stop() -> bool:
            return job.cancelled or core.closing

        loop = asyncio.get_running_loop()
        encode = loop.run_in_executor(core.encoders, render_mp4, plan, path, stop)
        try:
            _, duration = await asyncio.gather(core.clock.sleep(job.work_seconds), encode)
        except RenderCancelledError:
            return
        except RenderInputError as exc:  # the user's media, not the renderer: no traceback
            logger.warning("render %s failed: %s", job.id, exc)
            job.status, job.error = "failed", f"Render failed: {exc}"
            return
        except Exception as exc:  # an encoder failure is a failed job, not a server error
            logger.exception("render %s failed", job.id)
            job.status, job.error = "failed", f"Render failed: {exc}"
            return
        if job.cancelled:
            return
        job.size = core.blobs.commit(key)
        job.blob_key, job.duration = key, round(duration, 3)
        job.width, job.height = plan.width, plan.height
        job.url = f"{core.cdn_url}/{key}"
        job.status = "completed"


def _job(core: Core, request: web.Request, token: TokenRecord) -> RenderJob:
    job = core.render_jobs.get(request.match_info["job_id"])
    if job is None or job.owner != token.account.user_id:
        raise ApiError(404, "Render job not found.")
    return job


async def status(request: web.Request) -> web.Response:
    """``GET /api/render/proxy/lambda/<id>``."""
    core = request.app[CORE]
    token = core.authenticate(request, "read")
    return _json(_payload(core, _job(core, request, token)))


async def cancel(request: web.Request) -> web.Response:
    """``POST /api/render/proxy/lambda/<id>/cancel``: best effort; finished jobs stay as is."""
    core = request.app[CORE]
    token = core.authenticate(request, None)
    job = _job(core, request, token)
    if job.status in ("pending", "processing"):
        job.cancelled = True
        job.status, job.error = "failed", "Render cancelled."
    return _json({"success": True, **_payload(core, job)})


async def download(request: web.Request) -> web.StreamResponse:
    """``GET /api/render/proxy/<id>/download``: the MP4 on the API origin (token required)."""
    core = request.app[CORE]
    token = core.authenticate(request, "read")
    job = _job(core, request, token)
    size = core.blobs.size(job.blob_key) if job.blob_key else None
    if job.status != "completed" or job.blob_key is None or size is None:
        raise ApiError(409, f"The render is {job.status}; there is nothing to download yet.")
    return await send_file(request, core.blobs.path(job.blob_key), size, "video/mp4")


#: (method, path, handler, fault route name). Only the current documents' routes: an SDK that
#: used the older ``/api/render/proxy/draft`` or ``/api/render/proxy/<id>`` must fail here too.
ROUTES: list[tuple[str, str, Any, str]] = [
    ("POST", "/api/render/proxy/lambda", submit, "render_start"),
    ("GET", "/api/render/proxy/lambda/{job_id}", status, "render_status"),
    ("POST", "/api/render/proxy/lambda/{job_id}/cancel", cancel, "render_cancel"),
    ("GET", "/api/render/proxy/{job_id}/download", download, "download"),
]
