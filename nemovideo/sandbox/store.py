"""The sandbox's in-memory records: accounts, tokens, sessions, media and the inspection logs.

Every collection is bounded (oldest entries dropped first) so a sandbox left running for days
does not grow without limit. Token values never appear in a repr.
"""

from __future__ import annotations

import asyncio
import collections
import copy
import random
import time
from typing import Any, Generic, TypeVar

import attrs

__all__ = [
    "Account",
    "BoundedDict",
    "CdnRequest",
    "ChatDelivery",
    "MediaRecord",
    "RenderJob",
    "RequestRecord",
    "SessionRecord",
    "TokenRecord",
    "empty_draft",
]

K = TypeVar("K")
V = TypeVar("V")


class BoundedDict(collections.OrderedDict[K, V], Generic[K, V]):
    """A dict that forgets its oldest entries beyond ``limit``."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def __setitem__(self, key: K, value: V) -> None:
        super().__setitem__(key, value)
        while len(self) > self.limit:
            self.popitem(last=False)


@attrs.define(eq=False)
class Account:
    """A user: owns sessions and credits. Anonymous users are keyed by their client id.

    Attributes:
        user_id: ``anon_...`` for anonymous users, ``usr_...`` for registered ones.
        anonymous: whether the user has no account yet.
        available: credits that can be spent now.
        frozen: credits reserved by running work, charged when it ends.
    """

    user_id: str
    anonymous: bool
    available: int
    frozen: int = 0

    def credits_payload(self) -> dict[str, int]:
        """The ``/api/credits/balance/simple`` data."""
        return {
            "available": self.available,
            "frozen": self.frozen,
            "total": self.available + self.frozen,
        }

    def freeze(self, amount: int) -> bool:
        """Reserve ``amount`` credits; ``False`` when not enough are available."""
        if amount > self.available:
            return False
        self.available -= amount
        self.frozen += amount
        return True

    def settle(self, amount: int, *, charge: bool) -> None:
        """Release a reservation: spend it (``charge``) or give it back."""
        amount = min(amount, self.frozen)
        self.frozen -= amount
        if not charge:
            self.available += amount


@attrs.define(eq=False)
class TokenRecord:
    """A bearer token's server-side record. The token value is kept out of the repr.

    Attributes:
        expires_at: simulated Unix time of expiry (``None``: never).
        revoked: set by :meth:`Sandbox.expire_token` or an injected ``token_expiry`` fault.
    """

    token: str = attrs.field(repr=False)
    account: Account
    scopes: frozenset[str]
    client_id: str | None = attrs.field(default=None, repr=False)
    issued_at: float = 0.0
    expires_at: float | None = None
    revoked: bool = False

    @property
    def anonymous(self) -> bool:
        """Whether the token belongs to an anonymous user."""
        return self.account.anonymous

    def valid(self, now: float) -> bool:
        """Whether the token is still accepted at simulated time ``now``."""
        return not self.revoked and (self.expires_at is None or now < self.expires_at)

    def allows(self, scope: str) -> bool:
        """Whether the token carries ``scope`` (``*`` carries all)."""
        return "*" in self.scopes or scope in self.scopes


@attrs.define(eq=False)
class MediaRecord:
    """An uploaded (or URL-referenced) medium.

    Attributes:
        cdn_url: where the sandbox CDN serves it (the original URL for URL uploads it cannot
            serve).
        blob_key: the storage key of its bytes, ``None`` when only the URL is known.
    """

    media_id: str
    filename: str
    file_type: str
    mime: str
    cdn_url: str
    blob_key: str | None
    size: int | None
    duration: float | None = None
    width: int | None = None
    height: int | None = None
    source: str = "upload"

    def file_payload(self) -> dict[str, Any]:
        """One entry of the upload answer's ``files``."""
        return {
            "filename": self.filename,
            "file_type": self.file_type,
            "cdn_url": self.cdn_url,
            "duration": self.duration,
            "width": self.width,
            "height": self.height,
            "size": self.size,
            "media_id": self.media_id,
        }

    def video_info(self) -> dict[str, Any]:
        """The medium as the session state's ``video_infos`` lists it."""
        return {
            "media_id": self.media_id,
            "file_name": self.filename,
            "file_type": self.file_type,
            "url": self.cdn_url,
            "duration": self.duration,
            "width": self.width,
            "height": self.height,
            "size": self.size,
            "source": self.source,
        }


def empty_draft(ratio: str = "16:9", width: int = 1920, height: int = 1080) -> dict[str, Any]:
    """A new session's draft: no tracks, plus keys the SDK does not know (kept verbatim)."""
    return {
        "v": 1,
        "t": [],
        "d": 0,
        "m": {"ratio": ratio},
        "canvas": {"w": width, "h": height, "bg": "#000000"},
        "fx": [],
    }


@attrs.define(eq=False)
class SessionRecord:
    """The server side of a session: its task, draft, media and chat bookkeeping.

    Attributes:
        draft: the timeline, as the state endpoint serves it.
        turn_lock: turns of one session run one after another.
        turns: chat messages received so far.
        edit_charged: whether the once-per-session edit charge was taken.
    """

    session_id: str
    task_id: str
    task_name: str
    language: str
    owner: str
    rng: random.Random = attrs.field(repr=False)
    draft: dict[str, Any] = attrs.field(factory=empty_draft)
    media: list[MediaRecord] = attrs.field(factory=list)
    generated_media: list[dict[str, Any]] = attrs.field(factory=list)
    video_analyses: list[dict[str, Any]] = attrs.field(factory=list)
    turn_lock: asyncio.Lock = attrs.field(factory=asyncio.Lock, repr=False)
    render_lock: asyncio.Lock = attrs.field(factory=asyncio.Lock, repr=False)
    turns: int = 0
    edit_charged: bool = False
    updated_at: float = 0.0

    @property
    def canvas_config(self) -> dict[str, Any]:
        """The canvas as the state endpoint gives it (size and ratio, from the draft)."""
        canvas = self.draft.get("canvas") or {}
        meta = self.draft.get("m") or {}
        return {
            "width": canvas.get("w", 1920),
            "height": canvas.get("h", 1080),
            "ratio": meta.get("ratio", "16:9"),
        }

    def state_payload(self, *, analyses: str = "list") -> dict[str, Any]:
        """The ``/api/state/.../latest`` data (deep copies: callers may change them freely).

        ``analyses="object"`` gives ``video_analyses`` keyed by media id (the first document's
        shape) instead of a list.
        """
        video_analyses: Any = copy.deepcopy(self.video_analyses)
        if analyses == "object":
            video_analyses = {a.get("media_id", str(i)): a for i, a in enumerate(video_analyses)}
        return {
            "session_id": self.session_id,
            "task_id": self.task_id,
            "task_name": self.task_name,
            "state": {
                "draft": copy.deepcopy(self.draft),
                "video_infos": [m.video_info() for m in self.media],
                "canvas_config": self.canvas_config,
                "generated_media": copy.deepcopy(self.generated_media),
                "video_analyses": video_analyses,
            },
            "updated_at": self.updated_at,
        }


@attrs.frozen
class ChatDelivery:
    """One chat message as the server received it.

    Attributes:
        delivery: 1 for the first time this text reached this session, 2 for a duplicate, ...
        turn: the session's turn number (1 for its first message).
    """

    session_id: str
    text: str
    delivery: int
    turn: int
    at: float


@attrs.define
class RequestRecord:
    """One API request, without any secret: header *names* only, never values.

    Logged when the request arrives; ``status`` is 0 until the answer's status is known.

    Attributes:
        had_attribution: at least one ``X-Skill-*`` header was sent.
        route: the fault/route name (``"upload"``, ``"run_sse"``, ...) or ``None`` for
            unknown paths.
        fault: the kind of fault injected into this request, if any.
        at: when it arrived (Unix time, real seconds).
    """

    method: str
    path: str
    route: str | None
    status: int
    header_names: tuple[str, ...]
    had_authorization: bool
    had_attribution: bool
    fault: str | None = None
    at: float = attrs.field(factory=time.time)


@attrs.define
class CdnRequest:
    """One request to the CDN origin; tests assert ``had_authorization`` is never true.

    Logged when the request arrives; ``status`` is 0 until the answer's status is known.

    Attributes:
        had_attribution: at least one ``X-Skill-*`` header was sent (clients should send none).
    """

    method: str
    path: str
    status: int
    header_names: tuple[str, ...]
    had_authorization: bool
    had_attribution: bool
    fault: str | None = None


@attrs.define(eq=False)
class RenderJob:
    """An export job. Its progress is read off the simulated clock when asked for.

    Attributes:
        id: the id the client sent (``render_<unix-ms>``).
        task_id: the render service's own task id.
        status: ``pending`` (queued behind the session's active export), ``processing``,
            ``completed`` or ``failed``.
        work_seconds: simulated seconds the rendering takes.
    """

    id: str
    session_id: str
    owner: str
    task_id: str
    draft: dict[str, Any] = attrs.field(repr=False)
    created_at: float
    work_seconds: float
    will_fail: bool = False
    status: str = "pending"
    started_at: float | None = None
    url: str | None = None
    blob_key: str | None = None
    duration: float | None = None
    size: int | None = None
    width: int | None = None
    height: int | None = None
    error: str | None = None
    cancelled: bool = False

    def progress(self, now: float) -> int:
        """0 while pending, then rising with simulated time, 99 at most until completed."""
        if self.status == "completed":
            return 100
        if self.started_at is None:
            return 0
        return max(0, min(99, int(100 * (now - self.started_at) / self.work_seconds)))

    def payload(self, now: float, *, size: str = "exact") -> dict[str, Any]:
        """The render endpoints' answer: top-level fields, no envelope.

        ``size``: ``output.size`` exact, ``"approximate"`` (whole MB) or ``"absent"``.
        """
        body: dict[str, Any] = {
            "id": self.id,
            "taskId": self.task_id,
            "sessionId": self.session_id,
            "status": self.status,
            "progress": self.progress(now),
            "createdAt": int(self.created_at * 1000),
        }
        if self.status == "completed":
            output: dict[str, Any] = {
                "url": self.url,
                "duration": self.duration,
                "format": "mp4",
                "width": self.width,
                "height": self.height,
            }
            if size == "exact":
                output["size"] = self.size
            elif size == "approximate" and self.size is not None:
                output["size"] = max(1, round(self.size / 2**20)) * 2**20
            body["output"] = output
        if self.error is not None:
            body["error"] = self.error
        return body
