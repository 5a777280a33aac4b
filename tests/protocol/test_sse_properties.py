"""Property tests of the SSE decoder: any split, the bulk fast path, arbitrary bytes."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nemovideo.protocol.sse import SSEDecoder, SSEError
from tests.protocol.sse_reference import (
    ADK_STREAM,
    VARIANT_STREAM,
    GeneralPathDecoder,
    decode,
    key,
    reference,
)

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

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
    expected = key(reference(stream))
    assert key(decode(stream)) == expected
    assert key(decode(*_split(stream, cuts))) == expected
    assert key(decode(*_split(stream, cuts), cls=GeneralPathDecoder)) == expected


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
    fast = key(decode(*pieces))
    assert fast == key(decode(*pieces, cls=GeneralPathDecoder))
    assert fast == key(reference(stream))
    assert [e.data for e in decode(stream)] == [
        p.encode("utf-8", "surrogatepass").decode("utf-8", "replace") for p in payloads
    ]


def test_fast_path_disabled_gives_the_same_events() -> None:
    for stream in (ADK_STREAM * 3, VARIANT_STREAM):
        assert key(decode(stream, cls=GeneralPathDecoder)) == key(decode(stream))


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
        assert key(decode(data)) == key(reference(data))
