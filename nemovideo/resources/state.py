"""State: the latest draft (timeline) of a session and the media it knows."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nemovideo.protocol.converter import structure
from nemovideo.protocol.draft import Draft
from nemovideo.protocol.models import SessionState
from nemovideo.resources._paths import session_path
from nemovideo.transport.calls import per_call
from nemovideo.transport.http import HTTPTransport
from nemovideo.transport.retry import RequestKind, RetryPolicy

__all__ = ["StateResource"]


class StateResource:
    """``client.state``: ``get(session_id)``."""

    def __init__(self, transport: HTTPTransport) -> None:
        self._transport = transport

    @per_call()
    async def get(
        self,
        session_id: str,
        *,
        retry: RetryPolicy | None = None,
        timeout: float | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> SessionState:
        """The session's latest state, with a typed :class:`~nemovideo.Draft`.

        Example:
            >>> state = await client.state.get(session.session_id)  # doctest: +SKIP
            >>> print(state.draft.summary())  # doctest: +SKIP
            Timeline (3 tracks): 1. Video: sunset.jpg (0-5s) 2. BGM: Lo-fi (0-5s, 35%) ...

        Raises:
            SessionNotFoundError: the session does not exist or belongs to another token.
        """
        answer: Any = await self._transport.request(
            "GET",
            session_path("/api/state/nemo_agent/me/{}/latest", session_id),
            kind=RequestKind.READ,
            retry=retry,
            what="reading the session state",
        )
        flat = dict(answer) if isinstance(answer, dict) else {}
        self._transport.credentials.note_user_id(flat.get("user_id"))
        inner = flat.pop("state", None)
        if isinstance(inner, dict):
            flat.update(inner)
        flat.setdefault("session_id", session_id)
        if "draft" in flat:
            # The answer was decoded for this call alone: the draft can keep it without a copy.
            flat["draft"] = Draft.from_wire(flat["draft"], copy=False)
        return structure(flat, SessionState)
