"""The typed events of the chat stream, as ``parse_event_data`` gives them.

Public home: :mod:`nemovideo.protocol.events`, which re-exports every name here.
"""

from __future__ import annotations

from typing import Any, TypeAlias

import attrs

__all__ = [
    "ChatEvent",
    "ErrorEvent",
    "HeartbeatEvent",
    "StateDeltaEvent",
    "TextEvent",
    "ThoughtEvent",
    "ToolCallEvent",
    "ToolResultEvent",
    "TurnCompleteEvent",
    "UnknownEvent",
]


@attrs.frozen
class TextEvent:
    """Reply text. ``partial`` chunks are later repeated whole by one non-partial event.

    Attributes:
        text: the text of this part.
        partial: ``True`` for a streaming chunk, ``False`` for a complete message.
        author: the ADK agent that wrote it, when given.
        event_id: the ADK event ``id``; shared by partial chunks and their final event, and
            not unique per message, so never a key for de-duplication on its own.
    """

    text: str
    partial: bool = False
    author: str | None = None
    event_id: str | None = None


@attrs.frozen
class ThoughtEvent:
    """Internal reasoning of the model (a part with ``"thought": true``): never reply text."""

    text: str


@attrs.frozen
class ToolCallEvent:
    """The agent called a tool (``functionCall``), e.g. ``generate_video`` with its arguments."""

    name: str
    args: dict[str, Any] = attrs.field(factory=dict, hash=False)
    call_id: str | None = None


@attrs.frozen
class ToolResultEvent:
    """A tool's answer (``functionResponse``); internal, never shown as text."""

    name: str
    response: Any = attrs.field(default=None, hash=False)
    call_id: str | None = None


@attrs.frozen
class HeartbeatEvent:
    """An explicit keep-alive object (``{"type": "heartbeat"}``): keep waiting."""


@attrs.frozen
class ErrorEvent:
    """A failure reported inside the stream.

    Attributes:
        message: what the server said (``error`` or ``errorMessage``).
        code: ``errorCode`` of an ADK event, or the ``error_type`` of an ``{"error": ...}``
            object, when given.
    """

    message: str
    code: str | None = None


@attrs.frozen
class StateDeltaEvent:
    """An event that only changed session state (``actions.stateDelta``), no content."""

    delta: dict[str, Any] = attrs.field(factory=dict, hash=False)


@attrs.frozen
class TurnCompleteEvent:
    """The agent finished its turn (``turnComplete``). The stream closes soon after."""


@attrs.frozen
class UnknownEvent:
    """Data that is not JSON or not a recognised shape, kept as it came."""

    raw: str


#: Every event :func:`~nemovideo.protocol.events.parse_event_data` can give.
ChatEvent: TypeAlias = (
    TextEvent
    | ThoughtEvent
    | ToolCallEvent
    | ToolResultEvent
    | HeartbeatEvent
    | ErrorEvent
    | StateDeltaEvent
    | TurnCompleteEvent
    | UnknownEvent
)
