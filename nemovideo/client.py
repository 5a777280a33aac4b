"""`NemoClient`: the entry point. One aiohttp session, six sub-clients, and the product workflows
(:mod:`nemovideo.workflows`) as methods."""

from __future__ import annotations

import os
from collections.abc import AsyncIterable, Iterable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import aiohttp
import attrs

from nemovideo.resources import (
    ChatResource,
    CreditsResource,
    RenderResource,
    SessionResource,
    StateResource,
    UploadResource,
)
from nemovideo.transport.config import ClientConfig
from nemovideo.transport.http import HTTPTransport
from nemovideo.transport.logconfig import configure_from_environment
from nemovideo.workflows.host import FlowAccounting

if TYPE_CHECKING:
    from nemovideo.workflows.batch import AnimateItem, Batch, BatchResult
    from nemovideo.workflows.conversation import Turn
    from nemovideo.workflows.journal import Journal
    from nemovideo.workflows.results import Video

__all__ = ["NemoClient"]


class NemoClient:
    """Asyncio client for NemoVideo's cloud video API.

    Settings come from the arguments, then the environment (``NEMO_API_URL``, ``NEMO_WEB_URL``,
    ``NEMO_TOKEN``, ``NEMO_CLIENT_ID``, ``SKILL_SOURCE``), then the documented defaults. Without a
    token, an anonymous one (100 credits, 7 days) is acquired on first use.

    Args:
        base_url: the API address (``https://mega-api-prod.nemovideo.ai``); plain ``http://`` only
            for loopback addresses, unless ``allow_insecure=True``.
        token: a bearer token (``nmv_usr_...``).
        client_id: the ``X-Client-Id`` used to ask for anonymous tokens (default: the id shared
            by NemoVideo tools in ``~/.config/nemovideo/client_id``).
        web_url: the web app, for claim links.
        session: an aiohttp session to use (not closed by the client).
        **settings: any field of :class:`ClientConfig` (``timeouts``, ``retry``, ``poll_interval``,
            ``max_polls``, ``upload_limit``, ...), ``skill_source``/``skill_version``/
            ``skill_platform``, ``client_id_path``, ``allow_insecure``.

    Example:
        >>> async with NemoClient() as client:  # doctest: +SKIP
        ...     video = await client.animate("sunset.jpg", "gentle waves", output="sunset.mp4")

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
        session: aiohttp.ClientSession | None = None,
        **settings: Any,
    ) -> None:
        configure_from_environment()  # NEMO_LOG=debug|info, once per process
        config = ClientConfig.resolve(
            base_url=base_url, token=token, client_id=client_id, web_url=web_url, **settings
        )
        self._init(HTTPTransport(config, session=session), FlowAccounting(), {})

    def _init(
        self,
        transport: HTTPTransport,
        flows: FlowAccounting,
        journals: dict[tuple[Path | str, float], Journal],
    ) -> None:
        self._transport = transport
        self._flows = flows
        # One Journal (one database connection) per ledger and lease, shared with the clones.
        self._journals = journals
        if transport.rate_gate.shared is None and transport.config.journal_path is not None:
            # One 429 pauses every process that shares the ledger, not only this client.
            transport.rate_gate.shared = _JournalPause(self)
        self.session = SessionResource(transport)
        self.upload = UploadResource(transport)
        self.chat = ChatResource(transport)
        self.state = StateResource(transport)
        self.render = RenderResource(transport)
        self.credits = CreditsResource(transport)

    @property
    def config(self) -> ClientConfig:
        """The resolved settings (the token is not in its repr)."""
        return self._transport.config

    @property
    def client_id(self) -> str:
        """The ``X-Client-Id`` this client uses for anonymous tokens."""
        return self._transport.client_id

    def with_options(self, **changes: Any) -> NemoClient:
        """A client with some settings changed, sharing this one's connections, token and flow
        accounting.

        Example:
            >>> patient = client.with_options(retry=RetryPolicy(max_retries=5))  # doctest: +SKIP
        """
        config = attrs.evolve(self.config, **changes)
        clone = NemoClient.__new__(NemoClient)
        clone._init(self._transport.derive(config), self._flows, self._journals)
        return clone

    @property
    def flows(self) -> FlowAccounting:
        """The ``animate`` flows running on this client and its clones (one account's balance
        is credited to a flow only when it ran alone)."""
        return self._flows

    def __repr__(self) -> str:
        return f"<NemoClient {self.config.base_url} {self._transport.credentials!r}>"

    async def __aenter__(self) -> NemoClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the connections. Calling it twice is fine.

        ``animate`` flows still running on this client (and its clones) are stopped first and
        recorded in the journal: what they paid for stays resumable (``client.resume()``).

        Raises:
            Nothing: closing is always safe.
        """
        if self._transport.owns_connections:
            await self._flows.stop_all()
            for journal in self._journals.values():
                journal.close()
        await self._transport.close()

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._transport.closed

    # -- workflows (imported lazily: a client used only for its sub-clients never loads them)

    async def animate(
        self,
        image: str | os.PathLike[str] | bytes | Any,
        prompt: str | None = None,
        **options: Any,
    ) -> Video:
        """Turn one image into an animated MP4: see :func:`nemovideo.workflows.animate.animate`.

        Raises:
            UnsupportedFileTypeError: the image's type was refused before upload.
            FileTooLargeError: the image is over the upload limit.
            InsufficientCreditsError: not enough credits for a generation.
            GenerationFailedError: the agent produced no timeline.
            RenderFailedError: the export failed twice.
            APITimeoutError: the ``timeout`` passed (what still runs is in the journal).
        """
        from nemovideo.workflows.animate import animate

        return await animate(self, image, prompt, **options)

    def animate_many(
        self,
        items: Iterable[AnimateItem | str | Path] | AsyncIterable[AnimateItem | str | Path],
        *,
        concurrency: int = 4,
        **options: Any,
    ) -> Batch:
        """Animate many images, ``concurrency`` at a time; iterate the results as they finish.

        ``items`` may be a list, any iterable or an async iterable: it is read one item at a
        time as workers free up, so memory does not grow with the number of items.

        Example:
            >>> batch = client.animate_many(["a.jpg", "b.png"], output_dir="out")  # doctest: +SKIP
            >>> async for result in batch:  # doctest: +SKIP
            ...     print(result.item.image, result.video or result.error)
            >>> print(batch.summary)  # doctest: +SKIP
            2 done, 0 failed, 200 credits
        """
        from nemovideo.workflows.batch import Batch

        return Batch(self, items, concurrency=concurrency, **options)

    async def converse(self, session_id: str, text: str, **kw: Any) -> Turn:
        """Answer a person's words: see :func:`nemovideo.workflows.conversation.converse`.

        Raises:
            SessionNotFoundError: the session does not exist.
            NemoError: any other refusal of the request the words led to.
        """
        from nemovideo.workflows.conversation import converse

        return await converse(self, session_id, text, **kw)

    async def resume(
        self,
        journal: Journal | None = None,
        *,
        output_dir: str | os.PathLike[str] | None = None,
        concurrency: int = 4,
    ) -> list[BatchResult]:
        """Finish the flows an interrupted run left in the journal, without paying twice: see
        :func:`nemovideo.workflows.resume.resume`.

        Raises:
            ConfigurationError: no journal is configured. Each flow's own error is reported in
                its result, not raised.
        """
        from nemovideo.workflows.resume import resume

        return await resume(self, journal, output_dir=output_dir, concurrency=concurrency)

    @property
    def journal(self) -> Journal | None:
        """The job journal (``None`` when disabled with ``journal_path=None``)."""
        path = self.config.journal_path
        if path is None:
            return None
        lease = self.config.journal_lease
        journal = self._journals.get((path, lease))
        if journal is None:
            from nemovideo.workflows.journal import Journal

            journal = self._journals[(path, lease)] = Journal(path, lease=lease)
        return journal


class _JournalPause:
    """The fleet's rate-limit pause, kept in a client's journal (the ``RateGate``'s hook).

    The journal is opened only when a pause is told or read; a pause is for one API address.
    """

    def __init__(self, client: NemoClient) -> None:
        self._client = client

    def _ledger(self) -> Any:
        from nemovideo.workflows.journal import LedgerPause

        journal = self._client.journal
        if journal is None:
            return None
        return LedgerPause(journal, str(self._client.config.base_url))

    async def pause_until(self, ts: float) -> None:
        ledger = self._ledger()
        if ledger is not None:
            await ledger.pause_until(ts)

    async def paused_until(self) -> float:
        ledger = self._ledger()
        return 0.0 if ledger is None else float(await ledger.paused_until())
