"""A faithful local NemoVideo service for development and tests (like stripe-mock).

It speaks every documented endpoint over real loopback sockets: anonymous tokens, sessions,
uploads, the ADK ``/run_sse`` chat stream with two-stage generation, state, credits, and
exports rendered as real H.264 MP4s served from a separate CDN origin. Time is simulated
(``time_scale``), randomness is seeded, and faults can be injected.

Example::

    from nemovideo.sandbox import FaultRule, Sandbox

    async with Sandbox(time_scale=0.001, render_height=144, seed=0) as sb:
        sb.faults.add(FaultRule(route="run_sse", kind="drop_mid_stream", probability=0.1))
        ...  # point a client at sb.url

From a shell: ``python -m nemovideo.sandbox --port 8080 --time-scale 0.05``.
"""

from __future__ import annotations

from nemovideo.sandbox.faults import ROUTES, FaultKind, FaultRule, Faults
from nemovideo.sandbox.options import ALL_SCOPES, ANONYMOUS_SCOPES, SandboxOptions
from nemovideo.sandbox.runner import serve
from nemovideo.sandbox.server import Sandbox
from nemovideo.sandbox.store import (
    CdnRequest,
    ChatDelivery,
    RenderJob,
    RequestRecord,
    SessionRecord,
)

__all__ = [
    "ALL_SCOPES",
    "ANONYMOUS_SCOPES",
    "ROUTES",
    "CdnRequest",
    "ChatDelivery",
    "FaultKind",
    "FaultRule",
    "Faults",
    "RenderJob",
    "RequestRecord",
    "Sandbox",
    "SandboxOptions",
    "SessionRecord",
    "serve",
]
