"""The SSE decoder against the WHATWG HTML standard, 9.2.6 "Interpreting an event stream"."""

from __future__ import annotations

import pytest

from nemovideo.protocol.errors import ConfigurationError, InvalidResponseError
from nemovideo.protocol.sse import ServerSentEvent, SSEDecoder, SSEError
from nemovideo.sse import ServerSentEvent as PublicEvent
from nemovideo.sse import SSEDecoder as PublicDecoder
from tests.protocol.sse_reference import (
    ADK_LINES,
    ADK_STREAM,
    VARIANT_STREAM,
    datas,
    decode,
    key,
    reference,
)

# -- line ends, BOM, fields ------------------------------------------------------------------


@pytest.mark.parametrize("eol", [b"\n", b"\r", b"\r\n"])
def test_every_line_end_dispatches(eol: bytes) -> None:
    stream = b"data: a" + eol + b"data: b" + eol + eol + b"data: c" + eol + eol
    assert datas(stream) == ["a\nb", "c"]


def test_mixed_line_ends() -> None:
    assert datas(b"data: a\r\ndata: b\rdata: c\n\r\ndata: d\r\r") == ["a\nb\nc", "d"]


def test_cr_then_lf_in_the_next_chunk_is_one_line_end() -> None:
    # Were "\r" and "\n" counted as two line ends, the blank line would dispatch "a" early.
    assert datas(b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n") == ["a\nb"]


def test_leading_bom_is_stripped_once() -> None:
    assert datas(b"\xef\xbb\xbfdata: x\n\n") == ["x"]
    # Split inside the BOM.
    assert datas(b"\xef", b"\xbb", b"\xbfdata: x\n\n") == ["x"]
    # A second BOM is part of the first field name, which is then unknown: no event.
    assert datas(b"\xef\xbb\xbf\xef\xbb\xbfdata: x\n\n") == []


def test_bom_after_the_start_is_data() -> None:
    assert datas(b"data: \xef\xbb\xbfx\n\n") == ["\ufeffx"]
    assert datas(b"data: a\n\n\xef\xbb\xbfdata: b\n\n") == ["a"]


def test_a_lone_bom_prefix_that_is_not_a_bom_is_kept() -> None:
    # 0xEF 0xBB then "x" is not a BOM: the bytes are invalid UTF-8 in the field name.
    events = decode(b"\xef\xbb", b"x\ndata: y\n\n")
    assert [e.data for e in events] == ["y"]


def test_comments_are_ignored() -> None:
    assert datas(b": keep-alive\n:\ndata: x\n: between\n\n") == ["x"]
    assert datas(b": only a comment\n\n") == []


def test_field_without_colon_is_the_whole_line_with_empty_value() -> None:
    assert decode(b"data\n\n") == [ServerSentEvent(data="")]
    assert datas(b"data\ndata\n\n") == ["\n"]
    assert datas(b"data:\n\n") == [""]


def test_exactly_one_leading_space_is_stripped() -> None:
    assert datas(b"data:  x\n\n") == [" x"]
    assert datas(b"data:x\n\n") == ["x"]
    assert datas(b"data: \n\n") == [""]
    assert decode(b"event:  spaced\ndata: x\n\n")[0].event == " spaced"


def test_unknown_fields_are_ignored() -> None:
    assert datas(b"foo: bar\nData: no\ndata: x\nDATA: no\n\n") == ["x"]


def test_event_type_and_default_message() -> None:
    events = decode(b"event: tool\ndata: a\n\ndata: b\n\n")
    assert [(e.event, e.data) for e in events] == [("tool", "a"), ("message", "b")]
    assert decode(b"event:\ndata: c\n\n")[0].event == "message"


def test_id_persists_and_an_empty_id_resets_it() -> None:
    events = decode(
        b"id: 7\ndata: a\n\ndata: b\n\nid:\ndata: c\n\nid: 8\ndata: d\n\nid\ndata: e\n\n"
    )
    assert [(e.data, e.id) for e in events] == [
        ("a", "7"),
        ("b", "7"),
        ("c", ""),
        ("d", "8"),
        ("e", ""),
    ]


def test_id_with_nul_is_ignored() -> None:
    decoder = SSEDecoder()
    events = decoder.feed(b"id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n")
    assert [e.id for e in events] == ["1", "1"]
    assert decoder.last_event_id == "1"


def test_id_alone_sets_last_event_id_without_dispatch() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"id: 42\n\n") == []
    assert decoder.last_event_id == "42"


def test_retry() -> None:
    decoder = SSEDecoder()
    events = decoder.feed(b"retry: 1500\ndata: a\n\ndata: b\n\nretry: 1x\nretry:\ndata: c\n\n")
    assert [e.retry for e in events] == [1500, None, None]
    assert decoder.retry == 1500
    decoder.feed(b"retry: 20\n\n")
    assert decoder.retry == 20
    assert datas(b"retry: \xd9\xa3\ndata: x\n\n") == ["x"]  # non-ASCII digits are not digits
    huge = b"retry: " + b"9" * 5000 + b"\ndata: x\n\n"
    assert decode(huge)[0].retry is None  # more digits than int() accepts: ignored


def test_multiline_data_joined_with_lf_and_trailing_lf_removed() -> None:
    assert datas(b"data: a\ndata: b\ndata: c\n\n") == ["a\nb\nc"]
    assert datas(b"data: a\ndata:\n\n") == ["a\n"]
    assert datas(b"data:\ndata: a\n\n") == ["\na"]


def test_empty_data_buffer_does_not_dispatch() -> None:
    assert decode(b"event: x\n\n\n\nretry: 5\n\n") == []
    # ... and resets the event type for the next event.
    assert decode(b"event: x\n\ndata: y\n\n")[0].event == "message"


def test_unterminated_event_is_not_dispatched_at_close() -> None:
    assert datas(b"data: a\n\ndata: b\n") == ["a"]
    assert datas(b"data: a\n\ndata: b") == ["a"]
    decoder = SSEDecoder()
    decoder.feed(b"data: b\n")
    assert decoder.pending_bytes > 0
    decoder.close()
    assert decoder.closed
    assert decoder.pending_bytes == 0
    with pytest.raises(RuntimeError):
        decoder.feed(b"\n")


def test_utf8_decoded_with_replacement() -> None:
    assert datas(b"data: caf\xc3\xa9 \xff\n\n") == ["café \ufffd"]
    assert decode(b"event: \xfe\ndata: x\n\n")[0].event == "\ufffd"


def test_split_inside_a_multibyte_character() -> None:
    raw = "data: 导出 🎬\n\n".encode()
    for cut in range(1, len(raw)):
        assert datas(raw[:cut], raw[cut:]) == ["导出 🎬"], cut


def test_empty_chunks_are_harmless() -> None:
    assert datas(b"", b"data: x", b"", b"\n", b"", b"\n") == ["x"]


def test_public_reexport() -> None:
    assert PublicDecoder is SSEDecoder
    assert PublicEvent is ServerSentEvent
    import nemovideo.sse

    assert set(nemovideo.sse.__all__) >= {"SSEDecoder", "ServerSentEvent"}


# -- the realistic ADK stream ------------------------------------------------------------------


def test_adk_sample_whole() -> None:
    events = decode(ADK_STREAM)
    assert [e.data for e in events] == ADK_LINES
    assert all(e.event == "message" and e.id == "" for e in events)


@pytest.mark.parametrize("stream", [ADK_STREAM, VARIANT_STREAM], ids=["adk", "variant"])
def test_sample_split_at_every_byte_and_fed_byte_by_byte(stream: bytes) -> None:
    whole = key(decode(stream))
    assert len(whole) >= len(ADK_LINES)
    assert whole == key(reference(stream))
    for cut in range(len(stream) + 1):
        assert key(decode(stream[:cut], stream[cut:])) == whole, cut
    singles = [stream[i : i + 1] for i in range(len(stream))]
    assert key(decode(*singles)) == whole


def test_bulk_path_builds_real_events_and_falls_back_on_any_other_shape() -> None:
    events = decode(b'data: a\n\ndata: \n\ndata: {"b": 1}\n\n')
    assert events == [
        ServerSentEvent("message", "a"),
        ServerSentEvent("message", ""),
        ServerSentEvent("message", '{"b": 1}'),
    ]
    assert all(type(e) is ServerSentEvent for e in events)
    first = events[0]
    with pytest.raises(AttributeError):
        first.data = "changed"  # type: ignore[misc]
    # One block that is not a single `data: ` line (here a second data line, a `data:` with no
    # space and an extra blank line) sends the whole buffer down the general path.
    assert datas(b"data: a\n\ndata: b\ndata: c\n\n") == ["a", "b\nc"]
    assert datas(b"data: a\n\ndata:b\n\n") == ["a", "b"]
    assert datas(b"data: a\n\n\ndata: b\n\n") == ["a", "b"]


def test_variant_stream_values() -> None:
    events = decode(VARIANT_STREAM)
    assert [e.data for e in events[:-1]] == ADK_LINES
    assert [e.id for e in events[:-1]] == [f"ev-{i}" for i in range(len(ADK_LINES))]
    assert (events[-1].event, events[-1].data, events[-1].retry) == ("done", "", 3000)


# -- limits -------------------------------------------------------------------------------------


def test_endless_line_hits_the_cap() -> None:
    decoder = SSEDecoder(max_event_bytes=1024)
    for _ in range(9):
        decoder.feed(b"data: " + b"x" * 100)  # 954 bytes held: still under the cap
    with pytest.raises(SSEError, match="max_event_bytes"):
        decoder.feed(b"x" * 100)
    with pytest.raises(SSEError):  # a failed decoder stays failed
        decoder.feed(b"\n\n")
    assert isinstance(SSEError(), InvalidResponseError)


def test_many_data_lines_hit_the_cap() -> None:
    decoder = SSEDecoder(max_event_bytes=100)
    with pytest.raises(SSEError):
        decoder.feed(b"data: 0123456789\n" * 20)


def test_events_under_the_cap_pass_and_the_cap_is_per_event() -> None:
    line = b"data: " + b"y" * 50 + b"\n\n"
    assert len(decode(line * 100, max_event_bytes=64)) == 100
    assert len(decode(*(line for _ in range(100)), max_event_bytes=64)) == 100


@pytest.mark.parametrize("bad", [0, -1, True, 1.5, "16"])
def test_bad_cap_is_a_configuration_error(bad: object) -> None:
    with pytest.raises(ConfigurationError):
        SSEDecoder(bad)  # type: ignore[arg-type]
