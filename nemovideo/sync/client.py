"""`SyncNemoClient`: the asyncio client, blocking, for scripts, threads and WSGI apps.

It is not a second implementation: it owns a :class:`~nemovideo.NemoClient` and a private event
loop on a daemon thread, and runs each call there. Threads that share one ``SyncNemoClient``
share its one connection pool and its one token.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from nemovideo.client import NemoClient
from nemovideo.sync.bridge import BlockingView
from nemovideo.sync.resources import (
    SyncChat,
    SyncCredits,
    SyncRender,
    SyncSession,
    SyncState,
    SyncUpload,
)
from nemovideo.sync.runner import LoopThread
from nemovideo.workflows.batch import Batch

if TYPE_CHECKING:
    from nemovideo.transport.config import ClientConfig
    from nemovideo.workflows.batch import AnimateItem, BatchResult, BatchSummary
    from nemovideo.workflows.conversation import Turn
    from nemovideo.workflows.host import FlowAccounting
    from nemovideo.workflows.journal import Journal
    from nemovideo.workflows.results import Video

__all__ = ["SyncBatch", "SyncNemoClient"]


class SyncBatch(BlockingView[Batch]):
    """A batch as a plain iterator of :class:`~nemovideo.BatchResult`, in the order they
    finish; ``summary`` counts them. Leaving the loop early cancels the items still running.

    Example:
        >>> batch = client.animate_many(["a.jpg", "b.png"], output_dir="out")  # doctest: +SKIP
        >>> for result in batch:  # doctest: +SKIP
        ...     print(result.item.image, result.video or result.error)
        >>> print(batch.summary)  # doctest: +SKIP
        2 done, 0 failed, 200 credits
    """

    def __len__(self) -> int:
        return len(self._async)

    def __iter__(self) -> Iterator[BatchResult]:
        return self._iterate(self._async.__aiter__, "SyncBatch iteration")

    @property
    def summary(self) -> BatchSummary:
        """Counts so far; credits spent once the batch has ended."""
        return self._async.summary


class SyncNemoClient(BlockingView[NemoClient]):
    """The blocking client: :class:`~nemovideo.NemoClient`'s settings, sub-clients and methods,
    without ``await``.

    Settings are those of ``NemoClient`` (arguments, then the environment, then the defaults),
    except ``session=``: the connections live on the client's own event loop, on a daemon
    thread named ``nemovideo-sync-N``. One client may be shared by many threads (a Flask or
    Django app's workers): they share its connections and its one token. Callbacks such as
    ``on_progress`` are called on the loop's thread. Calling it from inside a running event
    loop raises ``RuntimeError``: in async code, use ``NemoClient``.

    Example:
        >>> with SyncNemoClient() as client:  # doctest: +SKIP
        ...     video = client.animate("sunset.jpg", "gentle waves", output="sunset.mp4")

    Raises:
        ConfigurationError: a setting is unusable (bad URL, unknown setting, malformed token).
    """

    def __init__(
        self,
        base_url: str | None = None,
        *,
        token: str | None = None,
        client_id: str | None = None,
        web_url: str | None = None,
        **settings: Any,
    ) -> None:
        # Settings are checked before any thread starts: a bad one leaves nothing behind.
        client = NemoClient(base_url, token=token, client_id=client_id, web_url=web_url, **settings)
        runner = LoopThread()
        runner.on_close(client.close)
        self._setup(runner, client, owns_runner=True)

    def _setup(self, runner: LoopThread, client: NemoClient, *, owns_runner: bool) -> None:
        super().__init__(runner, client)
        self._owns_runner = owns_runner
        self.session = SyncSession(runner, client.session)
        self.upload = SyncUpload(runner, client.upload)
        self.chat = SyncChat(runner, client.chat)
        self.state = SyncState(runner, client.state)
        self.render = SyncRender(runner, client.render)
        self.credits = SyncCredits(runner, client.credits)

    def __repr__(self) -> str:
        return f"<SyncNemoClient {self.config.base_url} {self._async._transport.credentials!r}>"

    @property
    def config(self) -> ClientConfig:
        """The resolved settings (the token is not in its repr)."""
        return self._async.config

    @property
    def client_id(self) -> str:
        """The ``X-Client-Id`` this client uses for anonymous tokens."""
        return self._async.client_id

    @property
    def flows(self) -> FlowAccounting:
        """The ``animate`` flows running on this client and its clones."""
        return self._async.flows

    @property
    def journal(self) -> Journal | None:
        """The job journal (``None`` when disabled with ``journal_path=None``)."""
        return self._async.journal

    @property
    def async_client(self) -> NemoClient:
        """The asyncio client underneath; it belongs to the private loop's thread."""
        return self._async

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._runner.closed or self._async.closed

    def with_options(self, **changes: Any) -> SyncNemoClient:
        """A client with some settings changed, sharing this one's loop, connections and token.

        Closing the clone leaves this client open; closing this client ends both.
        """
        clone = SyncNemoClient.__new__(SyncNemoClient)
        clone._setup(self._runner, self._async.with_options(**changes), owns_runner=False)
        return clone

    # -- the workflows: NemoClient's, run on the loop (the same options, the same results)

    def animate(
        self,
        image: str | os.PathLike[str] | bytes | Any,
        prompt: str | None = None,
        **options: Any,
    ) -> Video:
        """Turn one image into an animated MP4: see :meth:`NemoClient.animate
        <nemovideo.NemoClient.animate>` (the same options; ``on_progress`` is called on the
        loop's thread).

        Example:
            >>> video = client.animate("sunset.jpg", output="sunset.mp4")  # doctest: +SKIP

        Raises:
            UnsupportedFileTypeError: the image's type was refused before upload.
            FileTooLargeError: the image is over the upload limit.
            InsufficientCreditsError: not enough credits for a generation.
            APITimeoutError: the ``timeout`` passed (what still runs is in the journal).
        """
        return self._run(
            lambda: self._async.animate(image, prompt, **options), "SyncNemoClient.animate()"
        )

    def converse(self, session_id: str, text: str, **kw: Any) -> Turn:
        """Answer a person's words: see :meth:`NemoClient.converse
        <nemovideo.NemoClient.converse>`.

        Raises:
            SessionNotFoundError: the session does not exist.
        """
        return self._run(
            lambda: self._async.converse(session_id, text, **kw), "SyncNemoClient.converse()"
        )

    def resume(
        self, journal: Journal | None = None, *, output_dir: str | None = None
    ) -> list[BatchResult]:
        """Finish the flows an interrupted run left in the journal, without paying twice.

        Raises:
            ConfigurationError: no journal is configured.
        """
        return self._run(
            lambda: self._async.resume(journal, output_dir=output_dir), "SyncNemoClient.resume()"
        )

    def animate_many(
        self, items: Iterable[AnimateItem | str | Path], *, concurrency: int = 4, **options: Any
    ) -> SyncBatch:
        """Animate many images, ``concurrency`` at a time; iterate the results as they finish.

        Example:
            >>> for result in client.animate_many(["a.jpg", "b.png"]):  # doctest: +SKIP
            ...     print(result.video.path if result.ok else result.error)
        """
        batch = self._async.animate_many(items, concurrency=concurrency, **options)
        return SyncBatch(self._runner, batch)

    def close(self) -> None:
        """Close the connections and stop the loop thread; nothing is left running.

        Calling it twice is fine. A clone from :meth:`with_options` only closes itself.
        """
        if self._owns_runner:
            self._runner.close()
        elif not self._runner.closed and not self._async.closed:
            with contextlib.suppress(RuntimeError):
                self._run(self._async.close, "SyncNemoClient.close()")

    def __enter__(self) -> SyncNemoClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __del__(self) -> None:
        # A client dropped without close(): stop its thread rather than leave it running.
        if getattr(self, "_owns_runner", False):
            with contextlib.suppress(Exception):
                self._runner.close()
