"""The blocking sub-clients: ``client.session``, ``upload``, ``chat``, ``state``, ``render``,
``credits`` of a :class:`~nemovideo.SyncNemoClient`.

Each is a view of the async sub-client of the same name: the same methods, parameters and
results, run on the client's private loop. Callbacks (``on_progress``, ``on_event``) are called
on that loop's thread.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import TracebackType

from nemovideo.protocol.events import ChatEvent
from nemovideo.resources import (
    ChatResource,
    ChatStream,
    CreditsResource,
    RenderResource,
    SessionResource,
    StateResource,
    UploadResource,
)
from nemovideo.sync.bridge import BlockingView, blocking, direct
from nemovideo.transport.retry import RetryPolicy

__all__ = [
    "SyncChat",
    "SyncChatStream",
    "SyncCredits",
    "SyncRender",
    "SyncSession",
    "SyncState",
    "SyncUpload",
]


class SyncSession(BlockingView[SessionResource]):
    """``client.session``: ``create()`` and ``claim_link(session)``, blocking."""

    create = blocking(SessionResource.create)
    claim_link = blocking(SessionResource.claim_link)


class SyncUpload(BlockingView[UploadResource]):
    """``client.upload``: ``files(session_id, *items)``, ``urls(...)``, ``landed(...)`` and
    ``check(...)``."""

    files = blocking(UploadResource.files)
    urls = blocking(UploadResource.urls)
    landed = blocking(UploadResource.landed)
    check = direct(UploadResource.check)


class SyncState(BlockingView[StateResource]):
    """``client.state``: ``get(session_id)``, blocking."""

    get = blocking(StateResource.get)


class SyncRender(BlockingView[RenderResource]):
    """``client.render``: ``start``, ``get``, ``wait``, ``download``, ``cancel``, blocking."""

    start = blocking(RenderResource.start)
    get = blocking(RenderResource.get)
    wait = blocking(RenderResource.wait)
    download = blocking(RenderResource.download)
    cancel = blocking(RenderResource.cancel)


class SyncCredits(BlockingView[CreditsResource]):
    """``client.credits``: ``get()``, blocking."""

    get = blocking(CreditsResource.get)


class SyncChatStream(BlockingView[ChatStream]):
    """The events of one chat turn as a plain iterator (and a context manager).

    Iterate it once; leaving the ``with`` block (or :meth:`close`) closes the connection, and
    the work goes on server-side, as with the async :class:`~nemovideo.resources.ChatStream`.

    Example:
        >>> with client.chat.stream(sid, "add a title") as events:  # doctest: +SKIP
        ...     for event in events:
        ...         print(event)
        >>> events.reply().text  # doctest: +SKIP
    """

    reply = direct(ChatStream.reply)
    _events: Iterator[ChatEvent] | None = None

    @property
    def session_id(self) -> str:
        """The session the message went to."""
        return self._async.session_id

    @property
    def delivered(self) -> bool | None:
        """``True`` once the server accepted the message (the stream started)."""
        return self._async.delivered

    def __iter__(self) -> Iterator[ChatEvent]:
        if self._events is None:
            self._events = self._iterate(self._async.__aiter__, "SyncChatStream iteration")
        return self._events

    def __enter__(self) -> SyncChatStream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection (the server keeps working on the message)."""
        if self._events is not None and hasattr(self._events, "close"):
            self._events.close()
        if not self._runner.closed:
            self._run(self._async.aclose, "SyncChatStream.close()")


class SyncChat(BlockingView[ChatResource]):
    """``client.chat``: ``stream(session_id, text)`` (a plain iterator) and ``send(...)``."""

    send = blocking(ChatResource.send)

    def stream(
        self, session_id: str, text: str, *, retry: RetryPolicy | None = None
    ) -> SyncChatStream:
        """Send ``text`` and iterate the typed events of the answer as they arrive.

        Raises:
            StreamDisconnectedError: the stream broke; ``delivered`` says whether it arrived.
            APITimeoutError: only keep-alives (or silence) for too long.
            SessionNotFoundError: (and the other API errors) refused before the stream began.

        The errors are raised while iterating, not by this call.
        """
        return SyncChatStream(self._runner, self._async.stream(session_id, text, retry=retry))
