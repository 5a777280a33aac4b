"""Folding a turn's events into the reply a person reads, and the ADK sample end to end."""

from __future__ import annotations

import json

import pytest

from nemovideo.protocol.errors import AgentError
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
from nemovideo.protocol.reply import ChatReply, ReplyAccumulator
from nemovideo.protocol.sse import SSEDecoder

# The sample from API.md "The chat stream", with the trimmed fields ("...") left out.
ADK_SAMPLE = (
    b'data: {"content":{"parts":[{"text":"Animating your image"}],"role":"model"},'
    b'"partial":true,"invocationId":"e-1","author":"nemo_agent"}\n\n'
    b'data: {"content":{"parts":[{"text":" into a clip."}],"role":"model"},'
    b'"partial":true,"invocationId":"e-1","author":"nemo_agent"}\n\n'
    b'data: {"content":{"parts":[{"text":"Animating your image into a clip."}],"role":"model"},'
    b'"invocationId":"e-1","author":"nemo_agent"}\n\n'
    b'data: {"content":{"parts":[{"functionCall":{"id":"fc-1","args":{"duration_s":5},'
    b'"name":"generate_video"}}],"role":"model"},"invocationId":"e-1","author":"nemo_agent"}\n\n'
    b'data: {"content":{"parts":[{"functionResponse":{"id":"fc-1","name":"generate_video",'
    b'"response":{"status":"ok"}}}],"role":"user"},"invocationId":"e-1","author":"nemo_agent"}\n\n'
    b'data: {"error": "RuntimeError: <message>", "error_details": {"error_type": "RuntimeError", '
    b'"error_message": "<message>", "timestamp": 1795480055.3}}\n\n'
)


def reply_of(*events: ChatEvent) -> ChatReply:
    acc = ReplyAccumulator()
    for event in events:
        acc.add(event)
    return acc.result()


def run_stream(stream: bytes, chunk: int) -> ChatReply:
    decoder = SSEDecoder()
    acc = ReplyAccumulator()
    for start in range(0, len(stream), chunk):
        for sse in decoder.feed(stream[start : start + chunk]):
            for event in parse_event_data(sse.data):
                acc.add(event)
    decoder.close()
    return acc.result()


@pytest.mark.parametrize("chunk", [len(ADK_SAMPLE), 1, 7, 64])
def test_adk_sample_end_to_end(chunk: int) -> None:
    reply = run_stream(ADK_SAMPLE, chunk)
    assert reply.text == "Animating your image into a clip."
    assert reply.text.count("Animating") == 1
    assert reply.tool_calls == (ToolCallEvent("generate_video", {"duration_s": 5}, "fc-1"),)
    assert reply.tool_calls[0].args == {"duration_s": 5}
    assert reply.tool_results == (ToolResultEvent("generate_video", {"status": "ok"}, "fc-1"),)
    assert reply.errors == (ErrorEvent("RuntimeError: <message>", "RuntimeError"),)
    assert len(reply.events) == 6
    assert not reply.silent
    reply.raise_for_error()  # text and a finished tool: the turn did work, no exception


def test_final_text_wins_over_slightly_different_partials() -> None:
    reply = reply_of(
        TextEvent("Adding  lo-fi", partial=True, event_id="a"),
        TextEvent(" music…", partial=True, event_id="a"),
        TextEvent("Adding lo-fi music.", event_id="a"),
    )
    assert reply.text == "Adding lo-fi music."


def test_partials_without_a_final_still_count() -> None:
    reply = reply_of(
        TextEvent("Working on", partial=True),
        TextEvent(" it", partial=True),
        TurnCompleteEvent(),
    )
    assert reply.text == "Working on it"


def test_messages_before_and_after_a_tool_call_are_joined_with_a_blank_line() -> None:
    with_ids = reply_of(
        TextEvent("Generating", partial=True, event_id="a"),
        TextEvent("Generating the clip.", event_id="a"),
        ToolCallEvent("generate_video", {"duration_s": 5}, "fc-1"),
        ToolResultEvent("generate_video", {"status": "ok"}, "fc-1"),
        TextEvent("Here it", partial=True, event_id="b"),
        TextEvent(" is.", partial=True, event_id="b"),
        TextEvent("Here it is.", event_id="b"),
    )
    assert with_ids.text == "Generating the clip.\n\nHere it is."
    without_ids = reply_of(
        TextEvent("Generating", partial=True),
        ToolCallEvent("generate_video", {}),
        TextEvent("Here it", partial=True),
        TextEvent(" is.", partial=True),
        TextEvent("Here it is."),
    )
    assert without_ids.text == "Generating\n\nHere it is."


def test_partials_of_different_ids_are_different_messages() -> None:
    reply = reply_of(
        TextEvent("First", partial=True, event_id="a"),
        TextEvent("Second", partial=True, event_id="b"),
        TextEvent("Second message.", event_id="b"),
    )
    assert reply.text == "First\n\nSecond message."


def test_late_final_without_ids_replaces_the_partials_it_repeats() -> None:
    reply = reply_of(
        TextEvent("Animating your", partial=True),
        TextEvent(" image", partial=True),
        ToolCallEvent("generate_video", {}),
        TextEvent("Animating your image."),
    )
    assert reply.text == "Animating your image."
    unrelated = reply_of(
        TextEvent("Animating", partial=True),
        ToolCallEvent("generate_video", {}),
        TextEvent("All done."),
    )
    assert unrelated.text == "Animating\n\nAll done."


def test_never_deduplicate_by_id_across_messages() -> None:
    reply = reply_of(
        TextEvent("Here is your clip.", event_id="same"),
        TextEvent("Saved as an artifact.", event_id="same"),
        TextEvent("Here is your clip.", event_id="same"),
    )
    assert reply.text == "Here is your clip.\n\nSaved as an artifact.\n\nHere is your clip."


def test_non_streaming_finals_are_separate_messages() -> None:
    assert reply_of(TextEvent("One."), TextEvent("Two.")).text == "One.\n\nTwo."


def test_thoughts_are_never_reply_text() -> None:
    reply = reply_of(
        ThoughtEvent("I should call generate_video."),
        TextEvent("On it.", partial=True),
        ThoughtEvent("thinking more"),
        TextEvent("On it."),
    )
    assert reply.text == "On it."
    assert "generate_video" not in reply.text
    assert reply_of(ThoughtEvent("only thinking")).silent


def test_trailing_temporary_issue_after_output_is_dropped() -> None:
    notice = "I encountered a temporary issue while processing. Please try again."
    reply = reply_of(
        TextEvent("Added a lo-fi track at 35%."),
        ToolCallEvent("add_bgm", {}),
        TextEvent(notice),
    )
    assert reply.text == "Added a lo-fi track at 35%."
    alone = reply_of(ToolCallEvent("add_bgm", {}), TextEvent(notice))
    assert alone.text == notice
    chinese = reply_of(
        TextEvent("已添加背景音乐。"), TextEvent("我遇到了一个临时问题，请稍后再试。")
    )
    assert chinese.text == "已添加背景音乐。"
    middle = reply_of(TextEvent(notice), TextEvent("Retried: the clip is ready."))
    assert middle.text == f"{notice}\n\nRetried: the clip is ready."


def test_silent_edit() -> None:
    reply = reply_of(
        ToolCallEvent("add_title", {"text": "Urban Dreams"}),
        StateDeltaEvent({"draft_version": 4}),
        ToolResultEvent("add_title", {"status": "ok"}),
        HeartbeatEvent(),
        TurnCompleteEvent(),
    )
    assert reply.silent
    assert str(reply) == ""
    assert reply.text == ""
    assert len(reply.tool_calls) == 1
    reply.raise_for_error()


def test_whitespace_only_text_is_silent() -> None:
    assert reply_of(TextEvent("  ", partial=True), TextEvent("\n")).silent


def test_raise_for_error_rule() -> None:
    failed = reply_of(
        ToolCallEvent("generate_video", {}),
        ErrorEvent("RuntimeError: model overloaded", "RuntimeError"),
        ErrorEvent("second"),
    )
    with pytest.raises(AgentError) as info:
        failed.raise_for_error(session_id="s-1")
    err = info.value
    assert "model overloaded" in err.message
    assert "and 1 more error" in err.message
    assert "new message" in err.message
    assert (err.error_code, err.session_id) == ("RuntimeError", "s-1")
    # Text came: the turn is returned with its errors.
    spoke = reply_of(TextEvent("Partly done."), ErrorEvent("boom"))
    spoke.raise_for_error()
    assert spoke.errors == (ErrorEvent("boom"),)
    # A tool finished: the session changed, so the caller gets the reply, not an exception.
    reply_of(ToolResultEvent("add_bgm", {}), ErrorEvent("boom")).raise_for_error()
    reply_of().raise_for_error()


def test_result_can_be_taken_any_time_and_repeatedly() -> None:
    acc = ReplyAccumulator()
    acc.add(TextEvent("Hel", partial=True))
    assert acc.result().text == "Hel"
    acc.add(TextEvent("lo", partial=True))
    assert acc.result().text == "Hello"
    acc.add(TextEvent("Hello!"))
    assert acc.result() == acc.result()
    assert acc.result().text == "Hello!"


def test_events_kept_in_order_and_out_of_repr() -> None:
    events: list[ChatEvent] = [
        UnknownEvent("[DONE]"),
        TextEvent("a"),
        HeartbeatEvent(),
        ToolCallEvent("t", {}),
    ]
    reply = reply_of(*events)
    assert reply.events == tuple(events)
    assert "events" not in repr(reply)
    assert "UnknownEvent" not in repr(reply)


def test_many_partial_chunks_build_one_message() -> None:
    words = [f"w{i} " for i in range(5000)]
    lines = [
        json.dumps({"content": {"parts": [{"text": w}]}, "partial": True, "id": "e"}) for w in words
    ]
    acc = ReplyAccumulator()
    for line in lines:
        for event in parse_event_data(line):
            acc.add(event)
    assert acc.result().text == "".join(words).strip()


def test_a_final_with_its_own_id_that_repeats_the_chunks_replaces_them() -> None:
    # Agents built on ADK's BaseAgent give every event its own id, the repeat included.
    reply = reply_of(
        TextEvent("Animating your", partial=True, event_id="id-1"),
        TextEvent(" image into", partial=True, event_id="id-2"),
        TextEvent(" a clip.", partial=True, event_id="id-3"),
        TextEvent("Animating your image into a clip.", event_id="id-4"),
    )
    assert reply.text == "Animating your image into a clip."
    one_run = reply_of(
        TextEvent("Adding ", partial=True, event_id="x"),
        TextEvent("music.", partial=True, event_id="x"),
        TextEvent("Adding music.", event_id="y"),
        TextEvent("Done.", event_id="z"),
    )
    assert one_run.text == "Adding music.\n\nDone."


def test_a_final_with_another_id_and_other_text_is_another_message() -> None:
    reply = reply_of(
        TextEvent("Working on", partial=True, event_id="a"),
        TextEvent("All done.", event_id="b"),
    )
    assert reply.text == "Working on\n\nAll done."
