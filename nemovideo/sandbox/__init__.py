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
- Uploads by URL: URLs of this sandbox's CDN reuse the stored file; any other http(s) URL is
  fetched (up to ``upload_limit`` bytes, 60 s), checked by content and stored like an upload.
  One that cannot be fetched fails the upload with HTTP 422 ``{"code": 422, "message": ...}``
  (4001/4002 when its content is refused); nothing is recorded.
- Renders are as high as the draft's ``m.resolution`` asks ("480p": 480 lines; the SDK's
  generation prompt ends with " (480p)"), else ``render_height``, and never above
  ``render_height``; the width follows ``m.ratio`` (even). Images and the first frame of videos
  get a Ken Burns move. A source that cannot be decoded (a HEIC this FFmpeg cannot read, a
  damaged file) FAILS the render, with the file and the reason in its ``error``: never a
  placeholder picture. Only a segment without any source (a generation from words alone) shows
  a neutral frame. BGM becomes a quiet AAC chord; a title its text (Pillow's bundled font, in
  the title's colour) on a translucent bar fading in; BGM library URLs are not served.
- Titles come from the words: quoted text, else the description's first words, else the
  image's file name; an edit without new title text keeps the title (a colour word recolours).
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
