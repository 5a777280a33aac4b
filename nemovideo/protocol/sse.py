"""A sans-I/O decoder for Server-Sent Events (``text/event-stream``).

Feed it the bytes of a response body as they arrive, in chunks split anywhere; it gives back the
events each chunk completes. It follows the WHATWG HTML standard, section 9.2.6 "Interpreting an
event stream", and does no I/O::

    decoder = SSEDecoder()
    for chunk in (b"data: hel", b"lo\\r\\n\\r\\n"):
        for event in decoder.feed(chunk):
            print(event.data)  # hello
    decoder.close()

Lines are split on the raw bytes (CR, LF and CRLF are ASCII and never occur inside a multi-byte
UTF-8 sequence), then only field values are decoded, so a chunk boundary inside a character or a
CRLF pair changes nothing and no per-character Python loop is needed.
"""

from __future__ import annotations

import contextlib
from itertools import repeat
from typing import NamedTuple

from nemovideo.protocol.errors import ConfigurationError, InvalidResponseError

__all__ = ["DEFAULT_MAX_EVENT_BYTES", "SSEDecoder", "SSEError", "ServerSentEvent"]

#: Default cap on the size of one event (its unfinished line plus its ``data`` lines).
DEFAULT_MAX_EVENT_BYTES = 16 * 1024 * 1024

_BOM = b"\xef\xbb\xbf"


class SSEError(InvalidResponseError):
    """The event stream broke the decoder's limits (one event larger than ``max_event_bytes``)."""


class ServerSentEvent(NamedTuple):
    """One dispatched event: an immutable named tuple, so that a long stream costs little.

    Compare events with each other, not with plain tuples (a named tuple equals a tuple of the
    same values).

    Attributes:
        event: the event type (``event:`` field), ``"message"`` when none was given.
        data: the ``data:`` lines joined with LF.
        id: the last event id at dispatch time (``id:`` fields persist across events).
        retry: the reconnection time in milliseconds set by a ``retry:`` field in this event's
            block, else ``None``.
    """

    event: str = "message"
    data: str = ""
    id: str = ""
    retry: int | None = None


# Builds events from (event, data, id, retry) tuples without a Python-level call per event.
_new_tuple = tuple.__new__


class SSEDecoder:
    """Incremental event-stream parser: bytes in, :class:`ServerSentEvent` objects out.

    Args:
        max_event_bytes: the largest event accepted, counting its ``data`` values and any
            unfinished line; beyond it :meth:`feed` raises :class:`SSEError`, so a server that
            never ends a line cannot grow memory without bound.

    Example::

        decoder = SSEDecoder()
        events = decoder.feed(b'data: {"a": 1}\\n\\n')
        assert events == [ServerSentEvent(data='{"a": 1}')]
    """

    __slots__ = (
        "_block_retry",
        "_closed",
        "_data",
        "_data_size",
        "_event_type",
        "_failed",
        "_head",
        "_id_buffer",
        "_last_event_id",
        "_max",
        "_partial",
        "_partial_size",
        "_retry",
        "_skip_lf",
    )

    def __init__(self, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> None:
        if (
            not isinstance(max_event_bytes, int)
            or isinstance(max_event_bytes, bool)
            or max_event_bytes < 1
        ):
            raise ConfigurationError(
                f"max_event_bytes must be a positive number of bytes, not {max_event_bytes!r}."
            )
        self._max = max_event_bytes
        # Bytes seen while it is still undecided whether the stream starts with a BOM;
        # None once decided.
        self._head: bytes | None = b""
        # Pieces of the unfinished line, joined only once its end arrives (no quadratic copies).
        self._partial: list[bytes] = []
        self._partial_size = 0
        # The previous chunk ended with CR: an LF opening the next chunk belongs to that CR.
        self._skip_lf = False
        self._data: list[bytes] = []
        self._data_size = 0
        self._event_type = b""
        self._block_retry: int | None = None
        self._id_buffer = ""
        self._last_event_id = ""
        self._retry: int | None = None
        self._closed = False
        self._failed = False

    @property
    def last_event_id(self) -> str:
        """The last event id string: the id buffer as of the latest blank line (spec step 1)."""
        return self._last_event_id

    @property
    def retry(self) -> int | None:
        """The latest reconnection time (ms) the server asked for with ``retry:``, if any."""
        return self._retry

    @property
    def pending_bytes(self) -> int:
        """Bytes held for the unfinished line and event (0 right after a dispatch)."""
        head = len(self._head) if self._head else 0
        return head + self._partial_size + self._data_size

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    def close(self) -> None:
        """Mark the end of the stream.

        An event without its closing blank line is discarded, as the standard says ("if the file
        ends in the middle of an event, before the final empty line, the incomplete event is not
        dispatched"). Feeding a closed decoder raises ``RuntimeError``.
        """
        self._closed = True
        self._head = None
        self._partial = []
        self._partial_size = 0
        self._data = []
        self._data_size = 0
        self._event_type = b""
        self._block_retry = None

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """Decode the next piece of the stream; return the events it completes, in order.

        Raises:
            SSEError: one event grew past ``max_event_bytes`` (the decoder is then unusable).
            RuntimeError: the decoder was closed.
        """
        if self._failed:
            raise SSEError("The event stream already exceeded the event size limit; stop reading.")
        if self._closed:
            raise RuntimeError("feed() after close(): use a new SSEDecoder for a new stream.")
        if not chunk:
            return []
        if self._head is not None:
            head = self._head + chunk
            if len(head) < 3 and _BOM.startswith(head):
                self._head = head
                return []
            self._head = None
            chunk = head[3:] if head.startswith(_BOM) else head
        if self._skip_lf:
            self._skip_lf = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        if b"\n" not in chunk and b"\r" not in chunk:
            if chunk:
                self._partial.append(chunk)
                self._partial_size += len(chunk)
                self._check_size()
            return []
        if self._partial:
            self._partial.append(chunk)
            buf = b"".join(self._partial)
            self._partial = []
            self._partial_size = 0
        else:
            buf = chunk
        if b"\r" in buf:
            self._skip_lf = buf[-1:] == b"\r"
            buf = buf.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        events: list[ServerSentEvent] = []
        if (
            not self._data
            and not self._event_type
            and self._block_retry is None
            and buf.startswith(b"data: ")
        ):
            buf = self._process_simple(buf, events)
        lines = buf.split(b"\n")
        rest = lines.pop()
        if lines:
            events += self._process(lines)
        if rest:
            self._partial = [rest]
            self._partial_size = len(rest)
            self._check_size()
        return events

    def _check_size(self) -> None:
        if self._partial_size + self._data_size > self._max:
            self._fail()

    def _fail(self) -> None:
        self._failed = True
        self._partial = []
        self._data = []
        raise SSEError(
            f"One server-sent event exceeded {self._max} bytes (max_event_bytes); the stream is "
            "malformed or the limit is too small for this server: raise max_event_bytes."
        )

    def _process_simple(self, buf: bytes, events: list[ServerSentEvent]) -> bytes:
        """Dispatch a leading run of one-line ``data: ...`` events in bulk; return what is left.

        The usual stream (ADK's) is nothing but ``data: <json>`` and a blank line. When no line
        feed is left inside the values split on ``"\n\ndata: "``, every complete block in ``buf``
        has exactly that shape, and one decode, one split and one ``map`` build the events, with
        no Python code run per event.
        """
        end = buf.rfind(b"\n\n") + 2
        if end < 2 or (end > self._max and max(map(len, buf[:end].split(b"\n\n"))) >= self._max):
            return buf
        # Decoding the whole run at once is exact: the separators are ASCII.
        values = buf[6 : end - 2].decode("utf-8", "replace").split("\n\ndata: ")
        # An LF left inside a value means some block is not one `data: ` line: the general path
        # takes the whole buffer. (Joining and a memchr scan cost a quarter of counting LFs.)
        if "\n" in "".join(values):
            return buf
        ids = self._id_buffer
        self._last_event_id = ids
        events += map(
            _new_tuple,
            repeat(ServerSentEvent),
            zip(repeat("message"), values, repeat(ids), repeat(None)),
        )
        return buf[end:]

    def _process(self, lines: list[bytes]) -> list[ServerSentEvent]:
        """Interpret complete lines in order (spec 9.2.6); return the events they dispatch.

        Each line is one step: a blank line dispatches the event being built, a ``data:``
        line adds to its data, and any other line is a field (or a comment).
        """
        events: list[ServerSentEvent] = []
        dispatch, add_data, field = self._dispatch, self._add_data, self._field
        for line in lines:
            if not line:
                dispatch(events)
            elif line.startswith(b"data: "):  # the usual line, without splitting it
                add_data(line[6:])
            else:
                field(line)
        return events

    def _dispatch(self, events: list[ServerSentEvent]) -> None:
        """A blank line: the event built so far goes out if it has data (spec: "If the line
        is empty"), and a new one begins."""
        id_buffer = self._last_event_id = self._id_buffer
        data = self._data
        if data:
            raw = data[0] if len(data) == 1 else b"\n".join(data)
            event_type = self._event_type
            events.append(
                ServerSentEvent(
                    event_type.decode("utf-8", "replace") if event_type else "message",
                    raw.decode("utf-8", "replace"),
                    id_buffer,
                    self._block_retry,
                )
            )
            self._data = []
            self._data_size = 0
        self._event_type = b""
        self._block_retry = None

    def _add_data(self, value: bytes) -> None:
        """A ``data`` field: one more line of the event's data, within the size limit."""
        self._data.append(value)
        size = self._data_size = self._data_size + len(value) + 1
        if size > self._max:
            self._fail()

    def _field(self, line: bytes) -> None:
        """Any other line: split it at the first colon (one space after it is dropped), then
        set the field it names; a line starting with a colon is a comment, unknown fields are
        ignored."""
        colon = line.find(b":")
        if colon == 0:
            return
        if colon < 0:
            name, value = line, b""
        else:
            start = colon + 2 if line.startswith(b" ", colon + 1) else colon + 1
            name, value = line[:colon], line[start:]
        if name == b"data":
            self._add_data(value)
        elif name == b"event":
            self._event_type = value
        elif name == b"id":
            if b"\x00" not in value:  # an id with a NUL is ignored
                self._id_buffer = value.decode("utf-8", "replace")
        elif name == b"retry" and value.isdigit():
            with contextlib.suppress(ValueError):  # more digits than int() accepts
                self._retry = self._block_retry = int(value)
