"""Chat: one message to the backend's agent, answered by a server-sent event stream.

The message is POSTed once and never again: not after a disconnect, not after a timeout. The
stream's normal end is the server closing it. A broken stream raises
`StreamDisconnectedError`, which says whether the message was delivered, so the caller can poll
the session state instead of sending the message twice (and paying twice).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING

import aiohttp

from nemovideo.protocol.errors import (
    APIConnectionError,
    APITimeoutError,
    ConfigurationError,
    StreamDisconnectedError,
)
from nemovideo.protocol.sse import SSEDecoder
from nemovideo.transport.calls import per_call, per_call_options
from nemovideo.transport.http import HTTPTransport
from nemovideo.transport.retry import RetryPolicy
from nemovideo.transport.streams import open_stream

if TYPE_CHECKING:  # loaded by the first stream: a client that never chats never builds them
    from nemovideo.protocol.events import ChatEvent
    from nemovideo.protocol.reply import ChatReply

if sys.version_info >= (3, 11):
    from asyncio import timeout_at
else:  # pragma: no cover - Python 3.10
    from async_timeout import timeout_at

__all__ = ["ChatResource", "ChatStream"]

_APP = "nemo_agent"


class ChatStream:
    """The events of one chat turn, as an async iterator (and an async context manager).

    Iterate it once. Leaving an ``async with`` block (or calling :meth:`aclose`) closes the
    connection; the work still goes on server-side.

    Attributes:
        session_id: the session the message went to.
        delivered: ``True`` once the server accepted the message (the stream started).
    """

    def __init__(
        self,
        transport: HTTPTransport,
        session_id: str,
        text: str,
        retry: RetryPolicy | None,
        timeout: float | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> None:
        from nemovideo.protocol.reply import ReplyAccumulator

        self._options = (timeout, extra_headers)
        self._transport = transport
        self.session_id = session_id
        self._text = text
        self._retry = retry
        self.delivered: bool | None = None
        self._accumulator = ReplyAccumulator()
        self._iterator: AsyncIterator[ChatEvent] | None = None

    def __repr__(self) -> str:
        return f"<ChatStream session={self.session_id} delivered={self.delivered}>"

    def __aiter__(self) -> AsyncIterator[ChatEvent]:
        if self._iterator is not None:
            raise RuntimeError("A ChatStream can be iterated once; start a new one to chat again.")
        timeout, headers = self._options
        self._iterator = self._events() if timeout is None and headers is None else self._within()
        return self._iterator

    async def _within(self) -> AsyncIterator[ChatEvent]:
        """The events under the stream's own ``timeout`` and ``extra_headers``."""
        timeout, headers = self._options
        async with per_call_options(timeout, headers, "client.chat.stream()"):
            async for event in self._events():
                yield event

    async def __aenter__(self) -> ChatStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection (the server keeps working on the message).

        Raises:
            Nothing: closing an unfinished or finished stream is always safe.
        """
        iterator = self._iterator
        if iterator is not None and hasattr(iterator, "aclose"):
            await iterator.aclose()

    def reply(self) -> ChatReply:
        """The reply so far: its text without partial/final duplication, tool calls, errors."""
        return self._accumulator.result()

    def _disconnected(self, exc: BaseException) -> StreamDisconnectedError:
        return StreamDisconnectedError(
            f"The chat stream broke ({type(exc).__name__}) after the message was delivered; the "
            "work goes on server-side. Do not send it again: poll "
            f"client.state.get({self.session_id!r}).",
            delivered=True,
            session_id=self.session_id,
        )

    async def _events(self) -> AsyncIterator[ChatEvent]:
        transport = self._transport
        cfg = transport.config
        body = {
            "app_name": _APP,
            "user_id": "me",
            "session_id": self.session_id,
            "new_message": {"parts": [{"text": self._text}]},
        }
        self.delivered = False
        try:
            async with open_stream(
                transport,
                "/run_sse",
                json=body,
                headers={"Accept": "text/event-stream"},
                retry=self._retry,
            ) as response:
                self.delivered = True
                async for event in self._read(response, cfg.timeouts.stream_total):
                    yield event
        except StreamDisconnectedError:
            raise
        except Exception as exc:
            unknown = isinstance(exc, APIConnectionError) and exc.request_sent is None
            if unknown and not self.delivered:
                raise StreamDisconnectedError(
                    f"The chat request broke before an answer ({type(exc).__name__}); it is "
                    "unknown whether the message arrived. Check client.state.get"
                    f"({self.session_id!r}) before sending it again.",
                    delivered=None,
                    session_id=self.session_id,
                ) from None
            raise

    async def _read(
        self, response: aiohttp.ClientResponse, total: float
    ) -> AsyncIterator[ChatEvent]:
        from nemovideo.protocol.events import HeartbeatEvent, parse_event_data

        cfg = self._transport.config
        idle = cfg.timeouts.stream_idle
        decoder = SSEDecoder(max_event_bytes=cfg.max_event_bytes)
        loop = asyncio.get_running_loop()
        started = loop.time()
        end = started + total
        idle_end = started + idle
        read = response.content.readany
        add = self._accumulator.add
        while True:
            deadline = min(end, idle_end)
            try:
                async with timeout_at(deadline):
                    chunk = await read()
            except asyncio.TimeoutError as exc:
                raise self._timed_out(loop.time() >= idle_end and idle_end < end, exc) from None
            except (aiohttp.ClientError, OSError) as exc:
                raise self._disconnected(exc) from None
            if not chunk:
                break
            for sse in decoder.feed(chunk):
                for event in parse_event_data(sse.data, sse.event):
                    if not isinstance(event, HeartbeatEvent):
                        idle_end = loop.time() + idle
                    add(event)
                    yield event
        decoder.close()

    def _timed_out(self, idle: bool, exc: BaseException) -> APITimeoutError:
        cfg = self._transport.config.timeouts
        if isinstance(exc, aiohttp.ServerTimeoutError) or not idle:
            what = (
                f"sent nothing for {cfg.stream_read:g} s"
                if isinstance(exc, aiohttp.ServerTimeoutError)
                else f"did not finish within {cfg.stream_total:g} s"
            )
        else:
            what = f"sent only keep-alives for {cfg.stream_idle:g} s"
        return APITimeoutError(
            f"The chat stream {what}; treated as timed out. The message was delivered and may "
            f"still be worked on: poll client.state.get({self.session_id!r}); do not re-send it.",
            request_sent=True,
        )


class ChatResource:
    """``client.chat``: ``stream(session_id, text)`` and ``send(session_id, text)``."""

    def __init__(self, transport: HTTPTransport) -> None:
        self._transport = transport

    def stream(
        self,
        session_id: str,
        text: str,
        *,
        retry: RetryPolicy | None = None,
        timeout: float | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> ChatStream:
        """Send ``text`` and iterate the typed events of the answer as they arrive.

        Example:
            >>> async with client.chat.stream(sid, "add a title") as events:  # doctest: +SKIP
            ...     async for event in events:
            ...         if isinstance(event, TextEvent) and not event.partial:
            ...             print(event.text)

        Raises:
            StreamDisconnectedError: the stream broke; ``delivered`` says whether it arrived.
            APITimeoutError: only keep-alives (or silence) for too long, or the turn took too long.
            SessionNotFoundError: (and the other API errors) refused before the stream began.

        The errors are raised while iterating, not by this call.
        """
        if not isinstance(text, str) or not text.strip():
            raise ConfigurationError("The chat message is empty; say what the video should be.")
        if not isinstance(session_id, str) or not session_id.strip():
            raise ConfigurationError(
                "session_id is empty; create one with client.session.create()."
            )
        return ChatStream(self._transport, session_id, text, retry, timeout, extra_headers)

    @per_call()
    async def send(
        self,
        session_id: str,
        text: str,
        *,
        on_event: Callable[[ChatEvent], object] | None = None,
        retry: RetryPolicy | None = None,
        timeout: float | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> ChatReply:
        """Send ``text`` and wait for the whole answer.

        Returns:
            A :class:`ChatReply`: ``text`` (partial chunks and their final repeat counted once),
            ``tool_calls``, ``silent`` when no text came (about 30% of edits), and the events.

        Raises:
            AgentError: the agent reported a failure and produced nothing.
            StreamDisconnectedError, APITimeoutError: as for :meth:`stream`.
        """
        async with self.stream(session_id, text, retry=retry) as events:
            async for event in events:
                if on_event is not None:
                    on_event(event)
        reply = events.reply()
        reply.raise_for_error()
        return reply
