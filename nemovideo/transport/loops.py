"""An aiohttp session belongs to the event loop it was opened on; a client may outlive that loop.

A module-level ``NemoClient`` used by two ``asyncio.run()`` calls, or code run through asgiref's
``async_to_sync`` (a new loop per call), meets a second loop with a session of the first one:
aiohttp then fails with a bare ``RuntimeError: Event loop is closed``. The transport instead
closes its session when the session's loop shuts down, and opens a fresh one on the next loop.

Closing happens through an async generator the loop knows about: ``asyncio.run()`` (and
asgiref, and pytest-asyncio) call ``loop.shutdown_asyncgens()`` while the loop still runs, which
runs the generator's ``finally`` and so closes the session cleanly, sockets included. A loop
closed without that step is noticed at the next request instead (:func:`discard_session`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Callable

import aiohttp

__all__ = ["close_when_loop_ends", "discard_session", "running_loop"]

logger = logging.getLogger("nemovideo.http")

#: Closings of sessions left behind by a loop that ended uncleanly (kept until they finish).
_discarding: set[asyncio.Task[None]] = set()


def running_loop() -> asyncio.AbstractEventLoop | None:
    """The running loop of this thread, or ``None`` outside one."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def close_when_loop_ends(
    session: aiohttp.ClientSession, forget: Callable[[aiohttp.ClientSession], None]
) -> AsyncGenerator[None, None]:
    """Close ``session`` when the running loop shuts down; ``forget(session)`` first.

    Returns the guard, an async generator already started (so the loop's asyncgen hooks have
    registered it). Keep a reference to it while the session is in use: a guard dropped
    unfinished is closed by its loop, and closes the session with it.
    """

    async def guard() -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            forget(session)
            if not session.closed:
                await session.close()

    started = guard()
    # Run it to its `yield` without awaiting: asend() registers it with the running loop, and
    # the first send() stops at the yield (which ends the step with StopIteration).
    with contextlib.suppress(StopIteration):
        started.asend(None).send(None)
    return started


def discard_session(session: aiohttp.ClientSession) -> None:
    """Let go of a session whose loop ended without closing it (called inside the new loop).

    On a closed loop aiohttp's close only marks the session closed (its sockets go with the
    garbage collector); on a loop that is merely stopped it cannot finish: either way the new
    loop must not wait for it.
    """
    logger.info("the event loop changed; opening a new connection pool for it")

    async def close() -> None:
        with contextlib.suppress(RuntimeError):
            await session.close()

    task = asyncio.ensure_future(close())
    _discarding.add(task)
    task.add_done_callback(_discarding.discard)
