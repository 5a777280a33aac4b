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

Where the API documents leave a choice open, the sandbox decides as follows:

- Codes 1001, 1002, 2001, 4001 and 4002 come as HTTP 200 with ``{"code": N, "message": ...}``
  (``error_style="http"`` sends 401/404/402/415/413 instead). Plain refusals use HTTP statuses
  with ``{"code": <status>}``: 400 (no ``X-Client-Id``), 402 (anonymous export without the
  ``X-Skill-*`` headers), 403 (missing scope), 422 (malformed body), 429 (with ``Retry-After``).
- ``/run_sse`` refuses before its stream with HTTP statuses: 401 + code 1001, 402 + code 2001,
  422, and 404 ``{"detail": "Session not found: <sid>"}`` as a plain ADK server (or 404 + code
  1002 with ``unknown_session_style="code"``).
- Credits: a generation (both stages) costs ``generation_cost`` (100), frozen while it runs; the
  first edit of a session costs ``edit_cost`` (50), later edits and plain questions are free;
  exports are free. Failed turns are refunded.
- Uploads by URL never touch the internet: URLs of this sandbox's CDN reuse the stored file; any
  other http(s) URL is recorded as given (type from its extension, no size) and renders as a
  neutral frame.
- Renders are ``render_height`` pixels high whatever the ratio (width from ``m.ratio``, even).
  Images and the first frame of videos get a Ken Burns move; undecodable sources (some HEIC)
  become a neutral frame, with a log line. BGM becomes a quiet AAC chord, a title a translucent
  bar fading in (no fonts are needed); BGM library URLs (``/library/bgm/...``) are not served.
- Time is simulated: 7-day token lives and rate-limit windows pass ``1 / time_scale`` times
  faster too; ``sandbox.clock.advance(seconds)`` jumps ahead.
"""

from __future__ import annotations

try:  # fail at import, with the fix, rather than at the first render
    import av  # noqa: F401
    import numpy  # noqa: F401
    import PIL  # noqa: F401
except ImportError as exc:
    raise ImportError(
        'The NemoVideo sandbox needs PyAV, NumPy and Pillow: pip install "nemovideo[sandbox]"',
        name=exc.name,
    ) from exc

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
