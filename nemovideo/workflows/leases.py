"""Keeping a live run's claims alive: one renewal task per journal and event loop.

A flow's lease says "a live run is taking this flow's steps" to every other process that reads
the ledger. While any flow of this process holds a lease in a journal, one task renews all of
them every third of the lease, in one statement; when the last flow lets go, the task ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import AsyncIterator

from nemovideo.protocol.errors import StorageError
from nemovideo.workflows.journal import Journal

__all__ = ["holding"]

logger = logging.getLogger("nemovideo.journal")


class _Keeper:
    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.count = 0
        self.task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        while self.count > 0:
            await asyncio.sleep(self.journal.lease / 3)
            if self.count <= 0:
                return
            try:
                await asyncio.to_thread(self.journal.renew)
            except StorageError as exc:
                # The flows go on; at worst another process may take one after the lease.
                logger.warning("could not renew leases in %s: %s", self.journal.where, exc)


_keepers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[int, _Keeper]] = (
    weakref.WeakKeyDictionary()
)


@contextlib.asynccontextmanager
async def holding(journal: Journal | None) -> AsyncIterator[None]:
    """Renew ``journal``'s leases while the block runs (nothing when ``journal`` is ``None``)."""
    if journal is None:
        yield
        return
    loop = asyncio.get_running_loop()
    keepers = _keepers.setdefault(loop, {})
    keeper = keepers.get(id(journal))
    if keeper is None or keeper.journal is not journal:
        keeper = keepers[id(journal)] = _Keeper(journal)
    keeper.count += 1
    if keeper.task is None or keeper.task.done():
        keeper.task = loop.create_task(keeper.run(), name="nemovideo-lease-keeper")
    try:
        yield
    finally:
        keeper.count -= 1
        if keeper.count == 0:
            task, keeper.task = keeper.task, None
            keepers.pop(id(journal), None)
            if task is not None:
                task.cancel()
