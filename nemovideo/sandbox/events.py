"""ADK events as a real ``/run_sse`` sends them: camelCase JSON, one per ``data:`` line.

Shapes follow google-adk's ``Event.model_dump_json(exclude_none=True, by_alias=True)``:
``content.parts`` with ``text`` / ``thought`` / ``functionCall`` / ``functionResponse``,
``invocationId``, ``author``, ``actions``, ``id``, ``timestamp``, ``partial`` and
``turnComplete`` only when true, ``errorCode`` / ``errorMessage`` for model failures.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

__all__ = ["KEEPALIVES", "EventFactory", "frame"]

_AUTHOR = "nemo_agent"

#: The keep-alive frames by style (``mixed`` rotates through the first three; ``named``
#: alternates its two data forms).
KEEPALIVES: dict[str, bytes] = {
    "comment": b": keep-alive\n\n",
    "event": b'data: {"type":"heartbeat"}\n\n',
    "empty": b"data:\n\n",
    "named": b"event: heartbeat\ndata: {}\n\n",
    "named_ping": b"event: heartbeat\ndata: ping\n\n",
}


def frame(payload: dict[str, Any]) -> bytes:
    """One SSE message: ``data: <compact json>`` and a blank line."""
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return b"data: " + text.encode("utf-8") + b"\n\n"


def _uuid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


def _actions(state_delta: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "stateDelta": state_delta or {},
        "artifactDelta": {},
        "requestedAuthConfigs": {},
        "requestedToolConfirmations": {},
    }


class EventFactory:
    """Builds the events of one invocation (one chat turn).

    Args:
        rng: the session's generator (ids stay reproducible under a seed).
        now: the simulated clock, for ``timestamp``.
        own_ids: give every text event its own ``id`` (agents built on ADK's ``BaseAgent``)
            instead of sharing one between partial chunks and their final repeat.
    """

    def __init__(
        self, rng: random.Random, now: Callable[[], float], *, own_ids: bool = False
    ) -> None:
        self._rng = rng
        self._now = now
        self._own_ids = own_ids
        self.invocation_id = "e-" + _uuid(rng)

    def _event(self, parts: list[dict[str, Any]] | None, role: str = "model") -> dict[str, Any]:
        event: dict[str, Any] = {}
        if parts is not None:
            event["content"] = {"parts": parts, "role": role}
        event.update(
            {
                "invocationId": self.invocation_id,
                "author": _AUTHOR,
                "actions": _actions(),
                "id": _uuid(self._rng),
                "timestamp": round(self._now(), 6),
            }
        )
        return event

    def text(self, text: str, *, streaming: bool) -> list[dict[str, Any]]:
        """Partial chunks (when ``streaming``) then the final event with the whole text.

        The partials and their final event share one ``id``, as ADK's do (unless
        ``own_ids``: then each has its own).
        """
        final = self._event([{"text": text}])
        if not streaming:
            return [final]
        events = []
        for chunk in _chunks(text, self._rng):
            partial = dict(final, content={"parts": [{"text": chunk}], "role": "model"})
            partial["partial"] = True
            if self._own_ids:
                partial["id"] = _uuid(self._rng)
            events.append(partial)
        return [*events, final]

    def call(
        self, name: str, args: dict[str, Any], *, thought: str | None = None
    ) -> tuple[dict[str, Any], str]:
        """A ``functionCall`` event (optionally with a ``thought`` part first) and its call id."""
        call_id = "adk-" + _uuid(self._rng)
        parts: list[dict[str, Any]] = []
        if thought:
            parts.append({"text": thought, "thought": True})
        parts.append({"functionCall": {"id": call_id, "args": args, "name": name}})
        event = self._event(parts)
        if name == "generate_video":
            event["longRunningToolIds"] = [call_id]
        return event, call_id

    def response(self, name: str, call_id: str, response: dict[str, Any]) -> dict[str, Any]:
        """The ``functionResponse`` event answering ``call_id``."""
        part = {"functionResponse": {"id": call_id, "name": name, "response": response}}
        return self._event([part], role="user")

    def state_delta(self, delta: dict[str, Any]) -> dict[str, Any]:
        """An event with no content, only ``actions.stateDelta``."""
        event = self._event(None)
        event["actions"] = _actions(delta)
        return event

    def model_error(self, code: str, message: str) -> dict[str, Any]:
        """A model-level failure: an ordinary event with ``errorCode``/``errorMessage``."""
        event = self._event(None)
        event.update({"errorCode": code, "errorMessage": message, "turnComplete": True})
        return event


def _chunks(text: str, rng: random.Random) -> list[str]:
    """``text`` cut into pieces of a few words, whitespace kept, so they join back exactly."""
    words = text.split(" ")
    chunks: list[str] = []
    index = 0
    while index < len(words):
        size = rng.randint(2, 5)
        piece = " ".join(words[index : index + size])
        chunks.append(piece if index == 0 else " " + piece)
        index += size
    return chunks
