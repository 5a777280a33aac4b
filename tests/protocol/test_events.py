"""Typed chat events from stream data, in every documented shape, and never an exception."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nemovideo.protocol.events import (
    ChatEvent,
    ErrorEvent,
    HeartbeatEvent,
    StateDeltaEvent,
    TextEvent,
    ThoughtEvent,
    ToolCallEvent,
    ToolResultEvent,
    TurnCompleteEvent,
    UnknownEvent,
    parse_event_data,
)

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def adk(**event: object) -> str:
    return json.dumps(event)


def test_keep_alives_give_nothing() -> None:
    assert parse_event_data("") == []
    assert parse_event_data("  \n ") == []


def test_partial_and_final_text() -> None:
    data = adk(
        content={"parts": [{"text": "Animating"}], "role": "model"},
        partial=True,
        author="nemo_agent",
        id="ev-1",
        invocationId="e-1",
    )
    assert parse_event_data(data) == [TextEvent("Animating", True, "nemo_agent", "ev-1")]
    final = adk(content={"parts": [{"text": "Animating."}]}, author="nemo_agent")
    assert parse_event_data(final) == [TextEvent("Animating.", False, "nemo_agent", None)]


def test_one_event_with_thought_text_and_function_call() -> None:
    data = adk(
        content={
            "parts": [
                {"text": "The user wants motion; use generate_video.", "thought": True},
                {"text": "Animating your image."},
                {"functionCall": {"id": "fc-1", "name": "generate_video", "args": {"x": 1}}},
            ],
            "role": "model",
        },
        id="ev-9",
    )
    assert parse_event_data(data) == [
        ThoughtEvent("The user wants motion; use generate_video."),
        TextEvent("Animating your image.", event_id="ev-9"),
        ToolCallEvent("generate_video", {"x": 1}, "fc-1"),
    ]


def test_function_response() -> None:
    data = adk(
        content={
            "parts": [
                {
                    "functionResponse": {
                        "id": "fc-1",
                        "name": "generate_video",
                        "response": {"status": "ok", "url": "https://cdn/v.mp4"},
                    }
                }
            ],
            "role": "user",
        }
    )
    assert parse_event_data(data) == [
        ToolResultEvent("generate_video", {"status": "ok", "url": "https://cdn/v.mp4"}, "fc-1")
    ]


def test_snake_case_parts_are_read_too() -> None:
    data = adk(content={"parts": [{"function_call": {"name": "add_bgm", "args": {}}}]})
    assert parse_event_data(data) == [ToolCallEvent("add_bgm", {}, None)]


def test_error_object_in_every_version() -> None:
    assert parse_event_data('{"error": "RuntimeError: boom"}') == [ErrorEvent("RuntimeError: boom")]
    data = json.dumps(
        {
            "error": "RuntimeError: boom",
            "error_details": {"error_type": "RuntimeError", "error_message": "boom"},
        }
    )
    assert parse_event_data(data) == [ErrorEvent("RuntimeError: boom", "RuntimeError")]
    # Only `error` being a string is relied on.
    odd = '{"error": "x", "error_details": "not an object"}'
    assert parse_event_data(odd) == [ErrorEvent("x")]


def test_model_error_event_then_turn_complete() -> None:
    data = adk(errorCode="SAFETY", errorMessage="Blocked by safety filters.", turnComplete=True)
    assert parse_event_data(data) == [
        ErrorEvent("Blocked by safety filters.", "SAFETY"),
        TurnCompleteEvent(),
    ]
    assert parse_event_data(adk(errorCode="MAX_TOKENS")) == [ErrorEvent("MAX_TOKENS", "MAX_TOKENS")]


def test_turn_complete_after_the_events_own_parts() -> None:
    data = adk(content={"parts": [{"text": "Done."}]}, turnComplete=True)
    assert parse_event_data(data) == [TextEvent("Done."), TurnCompleteEvent()]


def test_state_delta_only() -> None:
    data = adk(actions={"stateDelta": {"draft_version": 3}}, author="nemo_agent")
    assert parse_event_data(data) == [StateDeltaEvent({"draft_version": 3})]
    # A delta next to content is not reported separately: the content is the event.
    with_text = adk(content={"parts": [{"text": "ok"}]}, actions={"stateDelta": {"a": 1}})
    assert parse_event_data(with_text) == [TextEvent("ok")]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ('{"type": "heartbeat"}', [HeartbeatEvent()]),
        ('{"type": "ping"}', [HeartbeatEvent()]),
        ('{"type": "text", "text": "Hi"}', [TextEvent("Hi")]),
        ('{"type": "text", "text": "H", "partial": true}', [TextEvent("H", partial=True)]),
        ('{"type": "TEXT", "content": "Hi"}', [TextEvent("Hi")]),
        (
            '{"type": "tool_call", "name": "add_bgm", "args": {"style": "lo-fi"}}',
            [ToolCallEvent("add_bgm", {"style": "lo-fi"})],
        ),
        (
            '{"type": "tool_call", "name": "add_title", "arguments": "{\\"text\\": \\"Hi\\"}"}',
            [ToolCallEvent("add_title", {"text": "Hi"})],
        ),
        (
            '{"type": "tool_call", "name": "x", "arguments": "not json", "id": "c1"}',
            [ToolCallEvent("x", {}, "c1")],
        ),
        (
            '{"type": "tool_result", "name": "add_bgm", "result": {"ok": true}}',
            [ToolResultEvent("add_bgm", {"ok": True})],
        ),
        (
            '{"type": "tool_result", "name": "add_bgm", "response": "done", "call_id": 7}',
            [ToolResultEvent("add_bgm", "done", "7")],
        ),
        ('{"type": "error", "message": "quota"}', [ErrorEvent("quota")]),
        ('{"type": "done"}', [TurnCompleteEvent()]),
    ],
)
def test_retracted_typed_shape(data: str, expected: list[ChatEvent]) -> None:
    assert parse_event_data(data) == expected


@pytest.mark.parametrize(
    "data",
    [
        "not json",
        "[DONE]",
        "[1, 2]",
        "null",
        "42",
        '"text"',
        "{}",
        '{"type": "mystery"}',
        '{"content": null}',
        '{"content": {"parts": []}}',
        '{"content": {"parts": [{"inlineData": {"mimeType": "image/png"}}]}}',
        '{"content": {"parts": "text"}}',
        '{"content": {"parts": [{"text": null}]}}',
        '{"actions": {"stateDelta": {}}}',
        '{"actions": [1]}',
        '{"actions": "x"}',
        '{"a": 1} trailing',
        "[" * 50_000,
    ],
)
def test_unrecognised_data_is_kept_not_raised(data: str) -> None:
    assert parse_event_data(data) == [UnknownEvent(data)]


def test_leading_and_trailing_whitespace_is_fine() -> None:
    assert parse_event_data('  {"type": "heartbeat"}\n') == [HeartbeatEvent()]


def test_wrong_types_inside_known_shapes() -> None:
    data = adk(
        content={
            "parts": [
                "junk",
                {"text": "fine", "thought": "yes"},  # only `true` marks a thought
                {"functionCall": {"name": 5, "args": [1], "id": 3}},
                {"functionResponse": {"name": None}},
            ]
        },
        partial="yes",
        author=7,
        id=["x"],
    )
    assert parse_event_data(data) == [
        TextEvent("fine", False, "7", None),  # numbers become strings, lists are dropped
        ToolCallEvent("", {}, "3"),
        ToolResultEvent("", None, None),
    ]


def test_events_are_frozen_and_hashable() -> None:
    event = ToolCallEvent("generate_video", {"duration_s": 5}, "fc-1")
    with pytest.raises(AttributeError):
        event.name = "x"  # type: ignore[misc]
    assert len({event, ToolCallEvent("generate_video", {"duration_s": 5}, "fc-1")}) == 1
    assert hash(StateDeltaEvent({"a": 1})) == hash(StateDeltaEvent({"b": 2}))


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=6), c, max_size=3),
    max_leaves=10,
)
KEYS = st.sampled_from(
    [
        "content",
        "parts",
        "text",
        "thought",
        "functionCall",
        "functionResponse",
        "name",
        "args",
        "arguments",
        "response",
        "result",
        "id",
        "partial",
        "turnComplete",
        "errorCode",
        "errorMessage",
        "error",
        "error_details",
        "actions",
        "stateDelta",
        "type",
        "author",
    ]
)
SHAPED = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8) | st.sampled_from(["text"]),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(KEYS, c, max_size=5),
    max_leaves=20,
)


@FAST
@given(st.one_of(JSON, SHAPED).map(json.dumps) | st.text(max_size=40))
def test_arbitrary_data_never_raises(data: str) -> None:
    events = parse_event_data(data)
    assert isinstance(events, list)
    for event in events:
        assert isinstance(
            event,
            (
                TextEvent,
                ThoughtEvent,
                ToolCallEvent,
                ToolResultEvent,
                HeartbeatEvent,
                ErrorEvent,
                StateDeltaEvent,
                TurnCompleteEvent,
                UnknownEvent,
            ),
        )
        repr(event)
    if data.strip():
        assert events  # only blank data is dropped


@pytest.mark.parametrize("data", ["{}", "ping", "", '{"ts": 1}'])
def test_an_event_named_heartbeat_is_a_heartbeat_whatever_its_data(data: str) -> None:
    # API.md lists `heartbeat` as an event; `event: heartbeat` must not become an unknown event
    # (which would reset the heartbeats-only timer).
    assert parse_event_data(data, "heartbeat") == [HeartbeatEvent()]
    assert parse_event_data(data, "keepalive") == [HeartbeatEvent()]


def test_other_event_names_keep_their_data() -> None:
    assert parse_event_data('{"type": "heartbeat"}', "message") == [HeartbeatEvent()]
    assert parse_event_data("{}", "update") != [HeartbeatEvent()]
