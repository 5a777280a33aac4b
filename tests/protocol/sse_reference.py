"""A literal transcription of the SSE standard's parsing algorithm, and decoding helpers.

Tests compare the decoder with :func:`reference`, which follows the WHATWG HTML standard,
9.2.6 "Interpreting an event stream", one decoded line at a time, without any optimisation.
"""

from __future__ import annotations

import re

from nemovideo.protocol.sse import ServerSentEvent, SSEDecoder


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


def key(events: list[ServerSentEvent]) -> list[tuple[str, str, str, int | None]]:
    return [(e.event, e.data, e.id, e.retry) for e in events]


# The ADK sample of API.md "The chat stream", whole and as a variant.
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
