"""The SSE decoder against the WHATWG HTML standard, 9.2.6 "Interpreting an event stream"."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nemovideo.protocol.errors import ConfigurationError, InvalidResponseError
from nemovideo.protocol.sse import ServerSentEvent, SSEDecoder, SSEError
from nemovideo.sse import ServerSentEvent as PublicEvent
from nemovideo.sse import SSEDecoder as PublicDecoder

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

Triple = tuple[str, str, str, "int | None"]


class GeneralPathDecoder(SSEDecoder):
    """The decoder with its bulk fast path turned off: every line takes the general path."""

    __slots__ = ()

    def _process_simple(self, buf: bytes, events: list[ServerSentEvent]) -> bytes:
        return buf


def decode(
    *chunks: bytes, max_event_bytes: int | None = None, cls: type[SSEDecoder] = SSEDecoder
) -> list[ServerSentEvent]:
    decoder = cls() if max_event_bytes is None else cls(max_event_bytes)
    events: list[ServerSentEvent] = []
    for chunk in chunks:
        events += decoder.feed(chunk)
    decoder.close()
    return events


def datas(*chunks: bytes) -> list[str]:
    return [e.data for e in decode(*chunks)]


def reference(stream: bytes) -> list[ServerSentEvent]:
    """A literal transcription of the standard's algorithm, one decoded line at a time."""
    text = stream.decode("utf-8", "replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = re.split(r"\r\n|\r|\n", text)
    lines.pop()  # an unterminated last line never counts
    events: list[ServerSentEvent] = []
    data, event_type, id_buffer, retry = "", "", "", None
    for line in lines:
        if line == "":
            if data == "":
                event_type, retry = "", None
                continue
            data = data.removesuffix("\n")
            events.append(ServerSentEvent(event_type or "message", data, id_buffer, retry))
            data, event_type, retry = "", "", None
            continue
        if line.startswith(":"):
            continue
        field, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if field == "event":
            event_type = value
        elif field == "data":
            data += value + "\n"
        elif field == "id":
            if "\0" not in value:
                id_buffer = value
        elif field == "retry" and value and all(c in "0123456789" for c in value):
            retry = int(value)
    return events


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

ADK_LINES = [
    '{"content":{"parts":[{"text":"Animating your image"}],"role":"model"},"partial":true,'
    '"invocationId":"e-1","author":"nemo_agent"}',
    '{"content":{"parts":[{"text":" into a clip."}],"role":"model"},"partial":true,'
    '"invocationId":"e-1","author":"nemo_agent"}',
    '{"content":{"parts":[{"text":"Animating your image into a clip."}],"role":"model"},'
    '"invocationId":"e-1","author":"nemo_agent"}',
    '{"content":{"parts":[{"functionCall":{"id":"fc-1","args":{"duration_s":5},'
    '"name":"generate_video"}}],"role":"model"},"invocationId":"e-1","author":"nemo_agent"}',
    '{"content":{"parts":[{"functionResponse":{"id":"fc-1","name":"generate_video",'
    '"response":{"status":"ok"}}}],"role":"user"},"invocationId":"e-1","author":"nemo_agent"}',
    '{"error": "RuntimeError: <message>", "error_details": {"error_type": "RuntimeError", '
    '"error_message": "<message>", "timestamp": 1795480055.3}}',
]
ADK_STREAM = "".join(f"data: {line}\n\n" for line in ADK_LINES).encode()
# The same events with comments, ids, an event type, a retry, CRLF and a BOM.
VARIANT_STREAM = (
    "\ufeff: keep-alive\r\n\r\n"
    + "".join(
        f"id: ev-{i}\r\n: progress\r\ndata: {line}\r\n\r\n" for i, line in enumerate(ADK_LINES)
    )
    + "event: done\r\nretry: 3000\r\ndata:\r\n\r\n: trailing\r\n"
).encode()


def _key(events: list[ServerSentEvent]) -> list[tuple[str, str, str, int | None]]:
    return [(e.event, e.data, e.id, e.retry) for e in events]


def test_adk_sample_whole() -> None:
    events = decode(ADK_STREAM)
    assert [e.data for e in events] == ADK_LINES
    assert all(e.event == "message" and e.id == "" for e in events)


@pytest.mark.parametrize("stream", [ADK_STREAM, VARIANT_STREAM], ids=["adk", "variant"])
def test_sample_split_at_every_byte_and_fed_byte_by_byte(stream: bytes) -> None:
    whole = _key(decode(stream))
    assert len(whole) >= len(ADK_LINES)
    assert whole == _key(reference(stream))
    for cut in range(len(stream) + 1):
        assert _key(decode(stream[:cut], stream[cut:])) == whole, cut
    singles = [stream[i : i + 1] for i in range(len(stream))]
    assert _key(decode(*singles)) == whole


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


# -- property tests: the fast path, any split, arbitrary bytes --------------------------------

_LINES = st.one_of(
    st.sampled_from(
        [
            "",
            "data",
            "data:",
            "data: ",
            "data: x",
            "data:  two",
            "data:y",
            "event: tool",
            "event:",
            "id: 1",
            "id:",
            "id",
            "id: a\0b",
            "retry: 250",
            "retry: x1",
            ": comment",
            ":",
            "foo: bar",
            "\ufeffdata: bom",
            'data: {"a": "导出"}',
        ]
    ),
    st.text(max_size=12).map(lambda t: "data: " + t),
    st.text(max_size=12),
)
_EOL = st.sampled_from(["\n", "\r", "\r\n"])


@st.composite
def streams(draw: st.DrawFn) -> bytes:
    lines = draw(st.lists(st.tuples(_LINES, _EOL), max_size=25))
    text = "".join(line + eol for line, eol in lines)
    if draw(st.booleans()):
        text += draw(_LINES)  # an unterminated tail
    bom = "\ufeff" if draw(st.booleans()) else ""
    return (bom + text).encode("utf-8", "surrogatepass")


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces, start = [], 0
    for point in points:
        pieces.append(data[start:point])
        start = point
    pieces.append(data[start:])
    return pieces


@FAST
@given(streams(), st.lists(st.integers(min_value=0, max_value=10_000), max_size=8))
def test_any_split_matches_the_standard(stream: bytes, cuts: list[int]) -> None:
    expected = _key(reference(stream))
    assert _key(decode(stream)) == expected
    assert _key(decode(*_split(stream, cuts))) == expected
    assert _key(decode(*_split(stream, cuts), cls=GeneralPathDecoder)) == expected


@FAST
@given(
    st.lists(
        st.text(max_size=30).map(lambda t: t.replace("\r", "").replace("\n", "")), max_size=30
    ),
    st.lists(st.integers(min_value=0, max_value=10_000), max_size=6),
)
def test_fast_path_agrees_with_the_general_path(payloads: list[str], cuts: list[int]) -> None:
    stream = "".join(f"data: {p}\n\n" for p in payloads).encode("utf-8", "surrogatepass")
    pieces = _split(stream, cuts)
    fast = _key(decode(*pieces))
    assert fast == _key(decode(*pieces, cls=GeneralPathDecoder))
    assert fast == _key(reference(stream))
    assert [e.data for e in decode(stream)] == [
        p.encode("utf-8", "surrogatepass").decode("utf-8", "replace") for p in payloads
    ]


def test_fast_path_disabled_gives_the_same_events() -> None:
    for stream in (ADK_STREAM * 3, VARIANT_STREAM):
        assert _key(decode(stream, cls=GeneralPathDecoder)) == _key(decode(stream))


@FAST
@given(st.binary(max_size=300), st.lists(st.integers(min_value=0, max_value=400), max_size=5))
def test_arbitrary_bytes_never_raise_anything_but_sse_error(data: bytes, cuts: list[int]) -> None:
    decoder = SSEDecoder(max_event_bytes=64)
    try:
        for piece in _split(data, cuts):
            for event in decoder.feed(piece):
                assert isinstance(event.data, str)
    except SSEError:
        return
    decoder.close()
    if len(data) < 60:
        assert _key(decode(data)) == _key(reference(data))
