"""The sandbox's settings: one attrs class, every field with the service's realistic default."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

import attrs

from nemovideo.sandbox.faults import FaultRule

__all__ = [
    "ALL_SCOPES",
    "ANONYMOUS_SCOPES",
    "EventIds",
    "HeartbeatStyle",
    "OutputSize",
    "RenderIdReuse",
    "RepeatToken",
    "SandboxOptions",
    "ScopesLike",
    "parse_scopes",
]

#: What a registered test token may do: everything.
ALL_SCOPES: frozenset[str] = frozenset({"*"})
#: What an anonymous token may do. Export also works for anonymous users, but only when the
#: three attribution headers are present (else HTTP 402).
ANONYMOUS_SCOPES: frozenset[str] = frozenset({"read", "write", "upload"})

#: A scope set as callers write it: ``"*"``, ``"read write"``, ``"read,upload"`` or an iterable.
ScopesLike = str | Iterable[str]

#: How keep-alives look during long work: an SSE comment, a ``{"type":"heartbeat"}`` event, an
#: empty ``data:`` line, an event NAMED heartbeat (``event: heartbeat`` with ``data: {}`` or
#: ``data: ping``), a rotation of the first three, or nothing at all (a plain ADK server).
HeartbeatStyle = Literal["comment", "event", "empty", "named", "mixed", "none"]

#: How a second token request from a client id whose token is still valid is answered: the
#: same token, a token of a NEW anonymous user (the earlier sessions are then out of reach), or
#: HTTP 429 (the error table's "1 token/client/7 days"). The documents leave it open.
RepeatToken = Literal["same", "new_user", "refuse"]

#: What a completed render's ``output.size`` is: the exact byte count, a rounded figure (whole
#: MB, like the first document's ``15728640``), or absent (the current documents show only
#: ``url``).
OutputSize = Literal["exact", "approximate", "absent"]

#: A render start with an ``id`` already seen: the same job when it is the same session's
#: (a different session's is refused), or refused always (HTTP 409: "generate a new id and retry").
RenderIdReuse = Literal["same_job", "refuse"]

#: The ``id`` of streamed text events: shared by the partial chunks and their final repeat (as
#: ADK's ``LlmAgent`` does), or each event's own (as agents built on ``BaseAgent`` do).
EventIds = Literal["shared", "own"]


def parse_scopes(value: ScopesLike) -> frozenset[str]:
    """A scope set from its written forms.

    Example::

        >>> sorted(parse_scopes("read, upload"))
        ['read', 'upload']
    """
    items = value.replace(",", " ").split() if isinstance(value, str) else list(value)
    return frozenset(s.strip() for s in items if s.strip())


def _tokens(value: Mapping[str, ScopesLike] | None) -> dict[str, frozenset[str]]:
    return {token: parse_scopes(scopes) for token, scopes in (value or {}).items()}


def _faults(value: Iterable[FaultRule] | None) -> tuple[FaultRule, ...]:
    return tuple(value or ())


@attrs.frozen(kw_only=True)
class SandboxOptions:
    """How the sandbox behaves. Every duration is simulated and multiplied by ``time_scale``.

    Attributes:
        time_scale: real seconds per simulated second (0.001 in tests: a 300 s generation
            takes 0.3 s). 1.0 is realistic.
        seed: the seed of every random choice, so a failing test replays.
        silent_edit_ratio: share of edits answered with no text at all.
        initial_credits: credits of a new anonymous token.
        registered_credits: credits of each pre-registered token from ``tokens``.
        generation_cost: credits charged for a generation (two stages included).
        edit_cost: credits charged by the first edit of a session (later edits are covered).
        render_height: height of rendered MP4s in pixels when the draft asks no resolution,
            and the most any render gets ("480p" is 480 lines if this is at least 480); the
            width follows the aspect ratio.
        render_fps: frame rate of rendered MP4s.
        render_failure_rate: share of render jobs that end ``failed``.
        render_concurrency: encodes running at once (each in a worker thread).
        faults: fault rules active from the start (more with ``sandbox.faults.add``).
        heartbeat_interval: simulated seconds of silence before a keep-alive is sent.
        heartbeat_style: what a keep-alive looks like (see :data:`HeartbeatStyle`).
        tokens: pre-registered tokens and their scopes, e.g. ``{"nmv_usr_test": "*"}``.
        upload_limit: the largest accepted upload, in bytes.
        anonymous_tokens_per_ip: anonymous tokens one IP may obtain per 7 days.
        repeat_token: how a repeated token request of a client id is answered (see
            :data:`RepeatToken`).
        output_size: what a completed render's ``output.size`` says (see :data:`OutputSize`).
        render_id_reuse: how a render start with a known id is answered (see
            :data:`RenderIdReuse`).
        video_analyses: the shape of the state's ``video_analyses``: ``"list"`` of analyses, or
            an ``"object"`` keyed by media id (the first document's example).
        event_ids: the ids of streamed text events (see :data:`EventIds`).
        unknown_session_style: how ``/run_sse`` answers an unknown session: ``"adk"`` (HTTP 404
            ``{"detail": "Session not found: <sid>"}``, as a plain ADK server) or ``"code"``
            (the gateway's ``{"code": 1002}``).
        error_style: how codes 1001/1002/2001/4001/4002 travel on JSON endpoints: ``"envelope"``
            (HTTP 200 with the code in the body, the documented likely form) or ``"http"``
            (the same body with 401/404/402/415/413).
        log_limit: how many request records the inspection logs keep.
        storage_limit: bytes of uploads and renders kept before the oldest are dropped.
    """

    time_scale: float = 1.0
    seed: int | None = None
    silent_edit_ratio: float = 0.3
    initial_credits: int = 100
    registered_credits: int = 100_000
    generation_cost: int = 100
    edit_cost: int = 50
    render_height: int = 1080
    render_fps: int = 24
    render_failure_rate: float = 0.0
    render_concurrency: int = 2
    faults: tuple[FaultRule, ...] = attrs.field(default=(), converter=_faults)
    heartbeat_interval: float = 20.0
    heartbeat_style: HeartbeatStyle = "mixed"
    tokens: dict[str, frozenset[str]] = attrs.field(
        factory=dict, converter=_tokens, repr=lambda tokens: f"<{len(tokens)} tokens>"
    )
    upload_limit: int = 200 * 1024 * 1024
    anonymous_tokens_per_ip: int = 10
    repeat_token: RepeatToken = "same"  # noqa: S105 - a behaviour, not a secret
    output_size: OutputSize = "exact"
    render_id_reuse: RenderIdReuse = "same_job"
    video_analyses: Literal["list", "object"] = "list"
    event_ids: EventIds = "shared"
    unknown_session_style: Literal["adk", "code"] = "adk"
    error_style: Literal["envelope", "http"] = "envelope"
    log_limit: int = 10_000
    storage_limit: int = 2 * 1024 * 1024 * 1024

    def __attrs_post_init__(self) -> None:
        if not self.time_scale > 0:
            raise ValueError("time_scale must be a positive number of real seconds per second")
        if self.render_height < 16 or self.render_height > 4320:
            raise ValueError("render_height must be between 16 and 4320 pixels")
        if not 1 <= self.render_fps <= 120:
            raise ValueError("render_fps must be between 1 and 120")
        if not 0 <= self.silent_edit_ratio <= 1 or not 0 <= self.render_failure_rate <= 1:
            raise ValueError("silent_edit_ratio and render_failure_rate must be in [0, 1]")
        if self.render_concurrency < 1:
            raise ValueError("render_concurrency must be at least 1")
        if self.heartbeat_interval <= 0:
            raise ValueError("heartbeat_interval must be positive (simulated seconds)")
