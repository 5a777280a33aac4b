"""Typed results of the API's endpoints: frozen attrs classes, built by the one converter.

Wire names (``sessionId``, ``outputUrl``, ...) never appear here: `converter.py` maps them.
"""

from __future__ import annotations

import enum
from typing import Any

import attrs

from nemovideo.protocol.draft import Draft

__all__ = [
    "AnonymousToken",
    "ClaimLink",
    "Credits",
    "RenderJob",
    "RenderStatus",
    "Session",
    "SessionState",
    "UploadResult",
    "UploadedFile",
]


@attrs.frozen
class AnonymousToken:
    """An anonymous bearer token (100 credits, 7 days). The token itself never shows in reprs.

    ``user_id`` (``anon_...``) and ``expires_at`` come from older documents' answers;
    ``expires_in`` (seconds) from some gateways. All are optional.
    """

    token: str = attrs.field(repr=False)
    credits: int | None = None
    user_id: str | None = None
    expires_at: str | int | float | None = None
    expires_in: float | None = None


@attrs.frozen
class Session:
    """A NemoVideo session (the chat) and its task (the project)."""

    session_id: str
    task_id: str
    user_id: str | None = None

    #: The server's request id of the answer this came from (``X-Request-Id``), when it sent one.
    request_id: str | None = attrs.field(default=None, eq=False, repr=False, kw_only=True)


@attrs.frozen
class ClaimLink:
    """A browser link that lets a person claim anonymous work into a registered account.

    Example:
        >>> link = await client.session.claim_link(session)  # doctest: +SKIP
        >>> print(link.url)  # doctest: +SKIP
    """

    url: str = attrs.field(repr=False)
    claim_token: str = attrs.field(repr=False)
    expires_in: int | None = None

    #: The server's request id of the answer this came from (``X-Request-Id``), when it sent one.
    request_id: str | None = attrs.field(default=None, eq=False, repr=False, kw_only=True)

    def __str__(self) -> str:
        return self.url


@attrs.frozen
class UploadedFile:
    """One medium the server accepted."""

    filename: str
    file_type: str
    cdn_url: str | None = None
    duration: float | None = None
    width: int | None = None
    height: int | None = None


@attrs.frozen
class UploadResult:
    """The answer to an upload: the accepted files, and whether the session's state took them."""

    files: tuple[UploadedFile, ...] = ()
    session_state_applied: bool | None = None

    #: The server's request id of the answer this came from (``X-Request-Id``), when it sent one.
    request_id: str | None = attrs.field(default=None, eq=False, repr=False, kw_only=True)


@attrs.frozen
class Credits:
    """The credit balance: ``frozen`` credits are reserved by work that is still running."""

    available: int = 0
    frozen: int = 0
    total: int = 0

    #: The server's request id of the answer this came from (``X-Request-Id``), when it sent one.
    request_id: str | None = attrs.field(default=None, eq=False, repr=False, kw_only=True)


@attrs.frozen
class SessionState:
    """The latest state of a session: its draft (timeline) and the media it knows about.

    ``generated_media`` and ``video_analyses`` have no settled shape (``video_analyses`` is an
    object in the first document's example, a list elsewhere): each keeps the JSON value the
    server sent, a list as a tuple and an object as a dict; ``()`` when absent.
    """

    session_id: str
    task_id: str | None = None
    task_name: str | None = None
    draft: Draft = attrs.field(factory=lambda: Draft.from_wire({}))
    video_infos: tuple[dict[str, Any], ...] = ()
    canvas_config: dict[str, Any] = attrs.field(factory=dict)
    generated_media: Any = ()
    video_analyses: Any = ()

    #: The server's request id of the answer this came from (``X-Request-Id``), when it sent one.
    request_id: str | None = attrs.field(default=None, eq=False, repr=False, kw_only=True)


class RenderStatus(str, enum.Enum):
    """Where a render job is. Spellings seen across versions are folded into these four."""

    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"

    @classmethod
    def _missing_(cls, value: object) -> RenderStatus | None:
        aliases = {
            "queued": cls.PENDING,
            "waiting": cls.PENDING,
            "submitted": cls.PENDING,
            "running": cls.PROCESSING,
            "rendering": cls.PROCESSING,
            "in_progress": cls.PROCESSING,
            "success": cls.COMPLETED,
            "succeeded": cls.COMPLETED,
            "done": cls.COMPLETED,
            "finished": cls.COMPLETED,
            "complete": cls.COMPLETED,
            "error": cls.FAILED,
            "errored": cls.FAILED,
            "cancelled": cls.FAILED,
            "canceled": cls.FAILED,
        }
        if isinstance(value, str):
            lowered = value.strip().lower()
            for member in cls:
                if member.value == lowered:
                    return member
            return aliases.get(lowered)
        return None

    @property
    def is_finished(self) -> bool:
        """True for ``completed`` and ``failed``."""
        return self in (RenderStatus.COMPLETED, RenderStatus.FAILED)


@attrs.frozen
class RenderJob:
    """An export job. ``id`` is the id the SDK sent (``render_<unix-ms>_<random>``).

    ``session_id`` and the submitted draft are kept so that a failed job can be submitted
    once more with a new id, as the API documents. ``unknown_status`` holds a status spelling
    the SDK does not know (the job is then taken as still ``processing``).
    """

    id: str
    status: RenderStatus = RenderStatus.PENDING
    progress: float = 0.0
    url: str | None = None
    duration: float | None = None
    size: int | None = None
    task_id: str | None = None
    error: str | None = None
    unknown_status: str | None = None
    session_id: str | None = attrs.field(default=None, eq=False)
    draft: Draft | None = attrs.field(default=None, eq=False, repr=False)

    #: The server's request id of the answer this came from (``X-Request-Id``), when it sent one.
    request_id: str | None = attrs.field(default=None, eq=False, repr=False, kw_only=True)

    @property
    def is_finished(self) -> bool:
        """True once the job completed or failed."""
        return self.status.is_finished
