"""Typed chat events, read from the ``data`` of the chat stream.

The chat stream (``POST /run_sse``) sends one JSON object per server-sent event: an ADK Event
(``content.parts[]`` with ``text``, ``functionCall``, ``functionResponse``; ``partial``,
``turnComplete``, ``errorCode`` ...), a ``{"error": "..."}`` object for exceptions in the agent,
or, in a retracted reference, ``{"type": "text" | "tool_call" | "tool_result" | "heartbeat"}``.
:func:`parse_event_data` turns any of them into typed events and never raises.
:class:`~nemovideo.protocol.reply.ReplyAccumulator` folds the events of one turn into a
:class:`~nemovideo.protocol.reply.ChatReply`.
"""

from __future__ import annotations

import json
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
    "parse_event_data",
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


_raw_decode = json.JSONDecoder().raw_decode
_HEARTBEAT = HeartbeatEvent()
_TURN_COMPLETE = TurnCompleteEvent()
_HEARTBEAT_TYPES = frozenset({"heartbeat", "ping", "keepalive", "keep-alive", "keep_alive"})
_DONE_TYPES = frozenset({"done", "end", "turn_complete", "turncomplete", "complete"})


def _opt_str(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _args(value: object) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and value.strip():
        # OpenAI-style references send the arguments as a JSON string.
        try:
            parsed = json.loads(value)
        except (ValueError, RecursionError):
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return {}


def _first(obj: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        value = obj.get(key)
        if value is not None:
            return value
    return None


def _parse_typed(obj: dict[str, Any], kind: str, raw: str) -> list[ChatEvent] | None:
    """The retracted ``{"type": ...}`` shape; ``None`` when ``kind`` is not one of it."""
    if kind in _HEARTBEAT_TYPES:
        return [_HEARTBEAT]
    if kind in ("text", "message", "text_delta", "delta"):
        text = _first(obj, "text", "content", "delta")
        if not isinstance(text, str):
            return [UnknownEvent(raw)]
        partial = obj.get("partial") is True or kind in ("text_delta", "delta")
        return [TextEvent(text, partial, _opt_str(obj.get("author")), _opt_str(obj.get("id")))]
    if kind in ("tool_call", "function_call", "toolcall", "tool_use"):
        name = _first(obj, "name", "tool", "function")
        return [
            ToolCallEvent(
                name if isinstance(name, str) else "",
                _args(_first(obj, "args", "arguments", "input", "parameters")),
                _opt_str(_first(obj, "call_id", "callId", "tool_call_id", "id")),
            )
        ]
    if kind in ("tool_result", "function_response", "tool_response", "toolresult"):
        name = _first(obj, "name", "tool", "function")
        return [
            ToolResultEvent(
                name if isinstance(name, str) else "",
                _first(obj, "result", "response", "output", "content"),
                _opt_str(_first(obj, "call_id", "callId", "tool_call_id", "id")),
            )
        ]
    if kind == "thought":
        text = obj.get("text")
        return [ThoughtEvent(text)] if isinstance(text, str) else [UnknownEvent(raw)]
    if kind == "error":
        message = _first(obj, "message", "error", "text")
        code = _opt_str(obj.get("code"))
        return [ErrorEvent(message if isinstance(message, str) else "error", code)]
    if kind in _DONE_TYPES:
        return [_TURN_COMPLETE]
    return None


def _parse_parts(obj: dict[str, Any], parts: list[Any], out: list[ChatEvent]) -> None:
    partial = obj.get("partial") is True
    author = _opt_str(obj.get("author"))
    event_id = _opt_str(obj.get("id"))
    for part in parts:
        if not isinstance(part, dict):
            continue
        text = part.get("text")
        if isinstance(text, str):
            if part.get("thought") is True:
                out.append(ThoughtEvent(text))
            elif text:
                out.append(TextEvent(text, partial, author, event_id))
            continue
        call = part.get("functionCall") or part.get("function_call")
        if isinstance(call, dict):
            name = call.get("name")
            out.append(
                ToolCallEvent(
                    name if isinstance(name, str) else "",
                    _args(call.get("args")),
                    _opt_str(call.get("id")),
                )
            )
            continue
        result = part.get("functionResponse") or part.get("function_response")
        if isinstance(result, dict):
            name = result.get("name")
            out.append(
                ToolResultEvent(
                    name if isinstance(name, str) else "",
                    result.get("response"),
                    _opt_str(result.get("id")),
                )
            )


def _parse_adk(obj: dict[str, Any], raw: str) -> list[ChatEvent]:
    out: list[ChatEvent] = []
    content = obj.get("content")
    if type(content) is dict:
        parts = content.get("parts")
        if type(parts) is list and parts:
            _parse_parts(obj, parts, out)
    error_message = obj.get("errorMessage")
    error_code = obj.get("errorCode")
    if error_message is None and error_code is None:
        error_message = obj.get("error_message")
        error_code = obj.get("error_code")
    if error_message is not None or error_code is not None:
        code = _opt_str(error_code)
        message = error_message if isinstance(error_message, str) and error_message else None
        out.append(ErrorEvent(message or code or "The agent reported an error.", code))
    if not out:
        actions = obj.get("actions")
        if isinstance(actions, dict):
            delta = actions.get("stateDelta") or actions.get("state_delta")
            if isinstance(delta, dict) and delta:
                out.append(StateDeltaEvent(delta))
    if obj.get("turnComplete") is True or obj.get("turn_complete") is True:
        out.append(_TURN_COMPLETE)
    if not out:
        out.append(UnknownEvent(raw))
    return out


def parse_event_data(data: str, event: str = "message") -> list[ChatEvent]:
    """The typed events in one server-sent event's ``data``, in order; never raises.

    Empty or blank data is a keep-alive and gives ``[]``. So is an event NAMED ``heartbeat``
    (``event: heartbeat``, with any data: ``{}``, ``ping``...), which gives one
    :class:`HeartbeatEvent`: the documents list ``heartbeat`` as an event. Anything that is not
    JSON, or JSON of no known shape, gives one :class:`UnknownEvent` keeping the text.

    Args:
        data: the event's ``data`` lines, joined.
        event: the event's type (its ``event:`` field); ``"message"`` when it had none.

    Example:
        >>> parse_event_data('{"type": "heartbeat"}')
        [HeartbeatEvent()]
        >>> parse_event_data('{"error": "RuntimeError: boom"}')
        [ErrorEvent(message='RuntimeError: boom', code=None)]
        >>> parse_event_data("")
        []
        >>> parse_event_data("ping", event="heartbeat")
        [HeartbeatEvent()]
    """
    if event != "message" and event.strip().lower() in _HEARTBEAT_TYPES:
        return [_HEARTBEAT]
    if not data or data.isspace():
        return []
    try:
        # raw_decode skips json.loads' argument checks and its second regex pass.
        obj, end = _raw_decode(data)
        if end != len(data) and not data[end:].isspace():
            return [UnknownEvent(data)]
    except ValueError:
        try:  # leading whitespace, which raw_decode refuses
            obj = json.loads(data)
        except (ValueError, RecursionError):
            return [UnknownEvent(data)]
    except RecursionError:
        return [UnknownEvent(data)]
    if type(obj) is not dict:
        return [UnknownEvent(data)]
    error = obj.get("error")
    if isinstance(error, str):
        details = obj.get("error_details")
        code = _opt_str(details.get("error_type")) if isinstance(details, dict) else None
        return [ErrorEvent(error, code)]
    kind = obj.get("type")
    if isinstance(kind, str):
        typed = _parse_typed(obj, kind.lower(), data)
        if typed is not None:
            return typed
    return _parse_adk(obj, data)
