"""One private event loop on a daemon thread, driven from any number of other threads.

:class:`LoopThread` is how the blocking client runs the asyncio one: every call is a coroutine
handed to the loop with :func:`asyncio.run_coroutine_threadsafe`, and every async iterator is
walked one item per call. The loop holds the client's one connection pool and one token, so
threads that share a client share those too.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import itertools
import threading
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, TypeVar

from nemovideo.protocol.errors import ConfigurationError

__all__ = ["LoopThread"]

T = TypeVar("T")

#: How long an interrupted call (Ctrl-C in the waiting thread) may take to wind down: long
#: enough for a flow to record its interruption and remove a partial file.
CANCEL_GRACE = 10.0
#: How long closing waits for the loop thread to finish.
CLOSE_TIMEOUT = 30.0

_numbers = itertools.count(1)
_live: weakref.WeakSet[LoopThread] = weakref.WeakSet()
_END = object()

_IN_LOOP = (
    "{what} blocks, and was called from a thread running an event loop, which it would stall. "
    "In async code use NemoClient instead: `async with NemoClient() as client: "
    "await client.animate(...)` (in Jupyter, top-level `await` works)."
)
_ON_OWN_LOOP = (
    "{what} was called from its own event loop's thread (inside a progress or event "
    "callback?), where it would wait for itself forever. Keep callbacks short and call the "
    "client after the call that runs them returns."
)


def _serve(loop: asyncio.AbstractEventLoop) -> None:
    """The thread's body: run the loop until stopped, then leave nothing behind."""
    asyncio.set_event_loop(loop)
    try:
        loop.run_forever()
    finally:
        try:
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            asyncio.set_event_loop(None)
            loop.close()


class LoopThread:
    """An event loop running on its own daemon thread, named ``nemovideo-sync-N``.

    Its default executor's threads are named after it (``nemovideo-sync-N-worker_0``...), and
    :meth:`close` leaves none of them, nor the loop, behind.
    """

    def __init__(self) -> None:
        number = next(_numbers)
        self.name = f"nemovideo-sync-{number}"
        self._loop = asyncio.new_event_loop()
        # Its own worker threads (uploads read files there) carry the client's name too.
        self._executor = concurrent.futures.ThreadPoolExecutor(
            thread_name_prefix=f"{self.name}-worker"
        )
        self._loop.set_default_executor(self._executor)
        self._lock = threading.Lock()
        self._closed = False
        self._on_close: list[Callable[[], Awaitable[object]]] = []
        self._thread = threading.Thread(
            target=_serve, args=(self._loop,), name=self.name, daemon=True
        )
        self._thread.start()
        _live.add(self)

    def __repr__(self) -> str:
        state = "closed" if self._closed else "running"
        return f"<LoopThread {self.name} {state}>"

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The private loop (closed once :meth:`close` returned)."""
        return self._loop

    @property
    def thread(self) -> threading.Thread:
        """The loop's thread."""
        return self._thread

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._closed

    def on_close(self, closer: Callable[[], Awaitable[object]]) -> None:
        """Run ``closer()`` on the loop when it is closed, before it stops."""
        self._on_close.append(closer)

    def check_caller(self, what: str) -> None:
        """Refuse a blocking call where it would stall or deadlock a loop.

        Raises:
            RuntimeError: called from a thread that runs an event loop (this one's included).
        """
        if threading.get_ident() == self._thread.ident:
            raise RuntimeError(_ON_OWN_LOOP.format(what=what))
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return
        raise RuntimeError(_IN_LOOP.format(what=what))

    def _submit(self, make: Callable[[], Awaitable[T]]) -> tuple[Any, threading.Event]:
        finished = threading.Event()

        async def call() -> T:
            try:
                return await make()
            finally:
                finished.set()

        with self._lock:
            if self._closed:
                raise ConfigurationError(
                    "This SyncNemoClient is closed; create a new one (or use "
                    "`with SyncNemoClient() as client:`)."
                )
            future = asyncio.run_coroutine_threadsafe(call(), self._loop)
        return future, finished

    def run(self, make: Callable[[], Awaitable[T]], what: str = "SyncNemoClient") -> T:
        """Run ``make()`` on the loop and wait for its result (or its exception).

        ``make`` is called on the loop, so nothing is created where it cannot be awaited.

        Raises:
            RuntimeError: called from inside a running event loop.
            ConfigurationError: the client is closed (or was closed during the call).
        """
        self.check_caller(what)
        future, finished = self._submit(make)
        try:
            return future.result()  # type: ignore[no-any-return]
        except concurrent.futures.CancelledError:
            raise ConfigurationError(
                "The SyncNemoClient was closed while this call was running."
            ) from None
        except BaseException:
            if not future.done():
                # Ctrl-C (or SystemExit) in the waiting thread: cancel the work on the loop and
                # give it a moment to wind down cleanly (journal, partial files).
                future.cancel()
                finished.wait(CANCEL_GRACE)
            raise

    def iterate(
        self, make: Callable[[], AsyncIterator[T]], what: str = "SyncNemoClient"
    ) -> Iterator[T]:
        """Walk the async iterator ``make()`` (created on the loop), one item per call.

        Leaving the loop early (``break``, an exception, garbage collection) closes the async
        iterator on the loop, which cancels what it started.
        """
        self.check_caller(what)

        async def start() -> AsyncIterator[T]:
            return make()

        iterator = self.run(start, what)

        async def step() -> Any:
            try:
                return await iterator.__anext__()
            except StopAsyncIteration:
                return _END

        def walk() -> Iterator[T]:
            try:
                while True:
                    item = self.run(step, what)
                    if item is _END:
                        return
                    yield item
            finally:
                self._close_iterator(iterator)

        return walk()

    def _close_iterator(self, iterator: AsyncIterator[Any]) -> None:
        aclose = getattr(iterator, "aclose", None)
        if aclose is None or self._closed:
            return
        try:
            self.check_caller("closing an iterator")
        except RuntimeError:
            # Collected on a loop's thread: cannot wait here, so let the loop do it.
            with contextlib.suppress(RuntimeError, ConfigurationError):
                self._submit(aclose)
            return
        with contextlib.suppress(ConfigurationError):
            self.run(aclose)

    def close(self) -> None:
        """Run the closers, stop the loop, join its thread and close the loop (idempotent).

        From the loop's own thread (a collector running there) it only asks the loop to stop.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
        closers, self._on_close = self._on_close, []

        async def finish() -> None:
            for closer in closers:
                with contextlib.suppress(Exception):
                    await closer()

        loop = self._loop
        if threading.get_ident() == self._thread.ident:
            task = loop.create_task(finish())
            task.add_done_callback(lambda _: loop.stop())
            return
        with contextlib.suppress(RuntimeError):  # the loop may be gone already (at exit)
            done = asyncio.run_coroutine_threadsafe(finish(), loop)
            with contextlib.suppress(Exception):
                done.result(CLOSE_TIMEOUT)
            loop.call_soon_threadsafe(loop.stop)
        self._thread.join(CLOSE_TIMEOUT)
        self._executor.shutdown(wait=True)


@atexit.register
def _close_all() -> None:
    """Close the loops of clients still open at exit, while their daemon threads still run."""
    for runner in list(_live):
        with contextlib.suppress(Exception):
            runner.close()
