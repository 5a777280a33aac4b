"""Finishing the flows an interrupted run left in the journal, without paying twice.

Each pending flow is claimed first, so two resumers (or a resumer beside the live run) never
take one flow; flows of another server are skipped and said so; a few run side by side; and a
flow stopped by a passing outage is tried again with backoff before it is left resumable.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from nemovideo.protocol.errors import (
    APIConnectionError,
    ConfigurationError,
    NemoError,
    RateLimitedError,
    ServerError,
)
from nemovideo.workflows.batch import AnimateItem, BatchResult
from nemovideo.workflows.journal import FlowRecord, Journal
from nemovideo.workflows.recovery import finish_flow
from nemovideo.workflows.results import Video

if TYPE_CHECKING:
    from nemovideo.workflows.host import WorkflowClient

__all__ = ["TRANSIENT", "resume"]

logger = logging.getLogger("nemovideo.resume")

#: Errors that a later attempt may not meet: an outage, a broken connection, a 429.
TRANSIENT = (ServerError, APIConnectionError, RateLimitedError)

_ATTEMPTS = 4
_FIRST_BACKOFF = 5.0


def _destination(flow: FlowRecord, output_dir: Path | None, default_dir: Path) -> Path:
    """Where a resumed flow's video goes: its recorded output, else a folder, never nowhere."""
    recorded = flow.get("output")
    if isinstance(recorded, str) and recorded and output_dir is None:
        return Path(recorded)
    folder = output_dir or default_dir
    if isinstance(recorded, str) and recorded:
        return folder / Path(recorded).name
    image = flow.get("image")
    stem = Path(image).stem if isinstance(image, str) and not image.startswith("<") else ""
    return folder / f"{stem or 'video'}-{flow.flow_id[:8]}.mp4"


async def resume(
    client: WorkflowClient,
    journal: Journal | None = None,
    *,
    output_dir: str | os.PathLike[str] | None = None,
    concurrency: int = 4,
    attempts: int = _ATTEMPTS,
) -> list[BatchResult]:
    """Finish every unfinished flow of the journal without re-sending chat messages.

    - a flow whose chat message may have been sent: its render job is looked up by id and
      followed, else its draft is watched and rendered; the message is never sent again;
    - a flow that never reached the chat: it is started over (nothing was paid);
    - a flow that another live run holds is left to it; a flow of another server is skipped.

    Videos go where each flow was told; a flow that kept its video in memory, or any flow when
    ``output_dir`` is given, saves into ``output_dir`` (default: ``videos/`` in the journal's
    ``folder``: beside an SQLite file, the state folder for a PostgreSQL ledger). Steps are
    recorded in ``journal`` (default: the client's).

    Returns one :class:`BatchResult` per flow this call took, in the journal's order.

    Raises:
        ConfigurationError: no journal is configured, or ``concurrency`` is below 1. Each
            flow's own error is reported in its result (``error.resumable`` tells whether it
            can be tried again), not raised.
    """
    book = journal or client.journal
    if book is None:
        raise ConfigurationError("No journal: pass journal= or enable the client's journal.")
    if concurrency < 1 or attempts < 1:
        raise ConfigurationError("concurrency and attempts must be at least 1.")
    folder = Path(output_dir) if output_dir is not None else None
    default_dir = book.folder / "videos"
    server = str(client.config.base_url)
    pending = await asyncio.to_thread(book.pending)
    gate = asyncio.Semaphore(concurrency)
    skipped_server = [f for f in pending if f.server not in (None, server)]
    for flow in skipped_server:
        logger.warning(
            "flow %s belongs to %s, not %s: skipped (resume it against that server)",
            flow.flow_id, flow.server, server,
        )  # fmt: skip
    mine = [f for f in pending if f.server in (None, server)]

    async def one(index: int, flow: FlowRecord) -> BatchResult | None:
        dest = _destination(flow, folder, default_dir)
        item = AnimateItem(flow.get("image"), flow.get("prompt"), dest)
        async with gate:
            try:
                video = await _with_retries(client, book, flow, dest, attempts)
            except NemoError as exc:
                return BatchResult(index, item, error=exc)
        if video is None:
            return None
        return BatchResult(index, item, video=video)

    outcomes = await asyncio.gather(*(one(i, f) for i, f in enumerate(mine)))
    return [r for r in outcomes if r is not None]


async def _with_retries(
    client: WorkflowClient, book: Journal, flow: FlowRecord, dest: Path, attempts: int
) -> Video | None:
    """Claim and finish one flow; ``None`` when another run holds it."""
    wait = _FIRST_BACKOFF * client.config.time_scale
    for attempt in range(1, attempts + 1):
        if not await asyncio.to_thread(book.claim, flow.flow_id):
            logger.info("flow %s is held by another run; left to it", flow.flow_id)
            return None
        current = await asyncio.to_thread(book.get, flow.flow_id) or flow
        if dest.parent != Path() and not dest.parent.exists():
            await asyncio.to_thread(dest.parent.mkdir, mode=0o700, parents=True, exist_ok=True)
        try:
            return await finish_flow(client, book, current, dest)
        except TRANSIENT as exc:
            if attempt == attempts or not exc.resumable:
                raise
            logger.info(
                "flow %s stopped on %s; trying again in %.1f s",
                flow.flow_id, type(exc).__name__, wait,
            )  # fmt: skip
            await asyncio.sleep(wait)
            wait *= 2
    return None
