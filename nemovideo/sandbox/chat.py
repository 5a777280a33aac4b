"""``POST /run_sse``: the chat stream, run on the simulated clock as an ADK agent would.

The turn runs as background work that feeds a channel; the handler only relays the channel to
the socket. So a client that disconnects (or a stream cut by a fault) stops the *relay*, never
the work: the draft is still updated and the credits still charged, as on the real service.
"""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

from aiohttp import web

from nemovideo.sandbox.agent import Step, TurnPlan, apply_step, plan_turn
from nemovideo.sandbox.core import CORE, ApiError, Core, current
from nemovideo.sandbox.events import KEEPALIVES, EventFactory, frame
from nemovideo.sandbox.faults import FaultRule
from nemovideo.sandbox.store import Account, SessionRecord

__all__ = ["ROUTES", "run_sse"]

_DROP_KINDS = frozenset({"drop_mid_stream", "drop_mid_body", "truncate"})
_THOUGHTS = {
    "generate_video": "The user wants a clip from their media; call generate_video first.",
    "add_bgm": "Background music fits this clip; add a BGM track at a low volume.",
    "add_title": "A short title makes the opening clearer.",
}


class _Injected(Exception):
    """A stream fault ended the turn early (its error frame is already sent)."""


class _Channel:
    """Frames from the turn to the relay; once the listener is gone, frames are dropped."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.gone = False

    def put(self, item: bytes | None) -> None:
        if not self.gone or item is None:
            self.queue.put_nowait(item)


def _invalid(loc: str, kind: str, msg: str, value: Any) -> dict[str, Any]:
    return {"type": kind, "loc": ["body", loc], "msg": msg, "input": value}


async def _parse(request: web.Request) -> tuple[str, str, bool]:
    """(session id, message text, streaming) or HTTP 422 with a FastAPI-style ``detail``."""
    raw = await request.read()
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        detail = [_invalid("", "json_invalid", "JSON decode error", raw[:100].decode("latin-1"))]
        raise ApiError(422, "invalid body", body={"detail": detail}) from None
    if not isinstance(body, dict):
        detail = [_invalid("", "model_attributes_type", "Input should be an object", body)]
        raise ApiError(422, "invalid body", body={"detail": detail})
    errors = []
    # Snake case only, as the documents write the body: a camelCase body that a lenient server
    # would take could fail on the real one.
    for name in ("app_name", "user_id", "session_id"):
        value = body.get(name)
        if value is None:
            errors.append(_invalid(name, "missing", "Field required", body))
        elif not isinstance(value, str):
            errors.append(_invalid(name, "string_type", "Input should be a valid string", value))
    message = body.get("new_message")
    texts: list[str] = []
    parts = message.get("parts") if isinstance(message, dict) else None
    if message is None:
        errors.append(_invalid("new_message", "missing", "Field required", body))
    elif not isinstance(parts, list) or not all(isinstance(p, dict) for p in parts):
        errors.append(_invalid("new_message", "model_type", "Input should be a Content", message))
    else:
        texts = [p["text"] for p in parts if isinstance(p.get("text"), str)]
        if not texts:
            errors.append(_invalid("new_message", "value_error", "No text part", message))
    streaming = body.get("streaming", True)
    if errors:
        raise ApiError(422, "invalid body", body={"detail": errors})
    return str(body.get("session_id")), "".join(texts), streaming is not False


class _Emitter:
    """Sends one turn's frames on the clock: keep-alives in long silences, stream faults."""

    def __init__(self, core: Core, out: _Channel, rule: FaultRule | None) -> None:
        self.core, self.out, self.rule = core, out, rule
        self.sent = 0
        self._keepalive = 0

    def send(self, event: dict[str, Any]) -> None:
        rule = self.rule
        failing = rule is not None and rule.kind in ("stream_error", "model_error")
        if rule is not None and failing and self.sent >= rule.after_events:
            self.out.put(self._failure(rule))
            raise _Injected
        self.out.put(frame(event))
        self.sent += 1

    def _failure(self, rule: FaultRule) -> bytes:
        message = "The video model is temporarily unavailable."
        if rule.kind == "model_error":
            factory = EventFactory(random.Random(self.sent), self.core.clock.now)
            return frame(factory.model_error("MALFORMED_FUNCTION_CALL", message))
        details = {
            "error_type": "RuntimeError",
            "error_message": message,
            "timestamp": round(self.core.clock.now(), 3),
        }
        return frame({"error": f"RuntimeError: {message}", "error_details": details})

    async def wait(self, seconds: float) -> None:
        """Work silently for ``seconds`` simulated seconds, keeping the stream alive."""
        options = self.core.options
        interval = options.heartbeat_interval
        while seconds >= interval:
            await self.core.clock.sleep(interval)
            seconds -= interval
            if options.heartbeat_style != "none":
                self.out.put(self._next_keepalive())
        await self.core.clock.sleep(seconds)

    def _next_keepalive(self) -> bytes:
        style: str = self.core.options.heartbeat_style
        turn = self._keepalive
        self._keepalive += 1
        if style == "mixed":
            style = ("comment", "event", "empty")[turn % 3]
        elif style == "named":
            style = ("named", "named_ping")[turn % 2]
        return KEEPALIVES[style]

    async def say(self, events: list[dict[str, Any]], seconds: float) -> None:
        for event in events:
            await self.wait(seconds / len(events))
            self.send(event)


def _response(step: Step, session: SessionRecord) -> dict[str, Any]:
    result: dict[str, Any] = {"status": "ok", "draft_version": session.draft.get("v")}
    if step.name == "generate_video":
        result.update(duration_s=step.args["duration_s"], media_url=step.args.get("source_url"))
    return result


def _note_generation(core: Core, session: SessionRecord, step: Step) -> None:
    session.generated_media.append(
        {
            "media_type": "video",
            "url": step.args.get("source_url"),
            "duration": step.args["duration_s"],
            "prompt": step.args.get("prompt", ""),
            "created_at": round(core.clock.now(), 3),
        }
    )
    source = step.args.get("source_url")
    known = next((m for m in session.media if m.cdn_url == source), None)
    if known is not None and all(
        a.get("media_id") != known.media_id for a in session.video_analyses
    ):
        session.video_analyses.append(
            {
                "media_id": known.media_id,
                "media_type": known.file_type,
                "summary": f"A {known.width}x{known.height} {known.file_type} ({known.filename}).",
            }
        )
    del session.generated_media[:-50]  # bounded: the newest 50 are plenty


async def _perform(
    core: Core, session: SessionRecord, plan: TurnPlan, emit: _Emitter, streaming: bool
) -> None:
    rng = session.rng
    factory = EventFactory(rng, core.clock.now, own_ids=core.options.event_ids == "own")
    if plan.intro:
        await emit.say(factory.text(plan.intro, streaming=streaming), plan.text_seconds / 2)
    for step in plan.steps:
        thought = _THOUGHTS.get(step.name) if rng.random() < 0.3 else None
        event, call_id = factory.call(step.name, step.args, thought=thought)
        emit.send(event)
        await emit.wait(step.seconds)
        apply_step(session.draft, step, ids=rng, cdn_url=core.cdn_url)
        session.updated_at = core.clock.now()
        if step.name == "generate_video":
            _note_generation(core, session, step)
        emit.send(factory.response(step.name, call_id, _response(step, session)))
        if rng.random() < 0.4:
            emit.send(factory.state_delta({"draft_version": session.draft.get("v")}))
    silent = plan.kind == "edit" and rng.random() < core.options.silent_edit_ratio
    if plan.outro and not silent:
        events = factory.text(plan.outro, streaming=streaming)
        events[-1]["turnComplete"] = True
        await emit.say(events, plan.text_seconds)
    else:
        closing = factory.state_delta({})
        closing["turnComplete"] = True
        emit.send(closing)


async def _run_turn(
    core: Core,
    session: SessionRecord,
    account: Account,
    plan: TurnPlan,
    cost: int,
    out: _Channel,
    rule: FaultRule | None,
    streaming: bool,
) -> None:
    done = False
    try:
        async with session.turn_lock:
            await _perform(core, session, plan, _Emitter(core, out, rule), streaming)
            done = True
    except _Injected:
        pass
    finally:
        account.settle(cost, charge=done)
        if not done and plan.kind == "edit" and cost:
            session.edit_charged = False
        out.put(None)


def _session(core: Core, owner: str, session_id: str) -> SessionRecord:
    session = core.sessions.get(session_id)
    if session is not None and session.owner == owner:
        return session
    if core.options.unknown_session_style == "adk":
        body = {"detail": f"Session not found: {session_id}"}
        raise ApiError(404, "session not found", body=body)
    raise ApiError(1002, f"Session not found: {session_id}", http=True)


async def run_sse(request: web.Request) -> web.StreamResponse:
    """``POST /run_sse``: validate, reserve credits, record the delivery, then stream."""
    core = request.app[CORE]
    context = current()
    context.stream = True
    token = core.authenticate(request, "write")
    session_id, text, streaming = await _parse(request)
    session = _session(core, token.account.user_id, session_id)
    plan = plan_turn(text, session.media, session.draft, session.rng)
    cost = 0
    if plan.kind == "generate":
        cost = core.options.generation_cost
    elif plan.kind == "edit" and not session.edit_charged:
        cost = core.options.edit_cost
    if not token.account.freeze(cost):
        raise ApiError(2001, f"Not enough credits: this needs about {cost}.", http=True)
    if plan.kind == "edit" and cost:
        session.edit_charged = True
    core.record_delivery(session, text)
    rule = context.fault
    channel = _Channel()
    core.spawn(_run_turn(core, session, token.account, plan, cost, channel, rule, streaming))
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
            "X-Request-Id": context.request_id,
        }
    )
    cut_after = rule.after_events if rule is not None and rule.kind in _DROP_KINDS else None
    try:
        context.mark(response.status)
        await response.prepare(request)
        sent = 0
        while cut_after is None or sent < cut_after:
            item = await channel.queue.get()
            if item is None:
                await response.write_eof()
                return response
            await response.write(item)
            if item.startswith(b"data: {") and not item.startswith(b'data: {"type"'):
                sent += 1  # keep-alives do not count as events
        if request.transport is not None:
            request.transport.abort()
    except ConnectionError:
        pass  # the client left; the turn goes on without a listener
    finally:
        channel.gone = True
    return response


#: (method, path, handler, fault route name).
ROUTES: list[tuple[str, str, Any, str]] = [("POST", "/run_sse", run_sse, "run_sse")]
