"""The :class:`Sandbox`: two aiohttp apps (API and CDN) on loopback ports, plus inspection.

Example::

    async with Sandbox(time_scale=0.001, render_height=144, seed=0) as sb:
        print(sb.url, sb.cdn_url)
        ...
        assert not sb.duplicate_deliveries()
        assert not any(r.had_authorization for r in sb.cdn_requests)
"""

from __future__ import annotations

import asyncio
import collections
from types import TracebackType
from typing import Any

import attrs
from aiohttp import web

from nemovideo.sandbox import api, chat, render
from nemovideo.sandbox.cdn import media_file, render_file
from nemovideo.sandbox.clock import SimClock
from nemovideo.sandbox.core import CORE, Core
from nemovideo.sandbox.faults import Faults
from nemovideo.sandbox.gateway import ROUTE_NAMES, gateway
from nemovideo.sandbox.options import SandboxOptions, ScopesLike, parse_scopes
from nemovideo.sandbox.store import (
    Account,
    CdnRequest,
    ChatDelivery,
    RenderJob,
    RequestRecord,
    SessionRecord,
    TokenRecord,
)

__all__ = ["Sandbox"]

_MAX_BODY = 32 * 1024 * 1024  # JSON bodies (drafts); multipart uploads are streamed instead


def _api_app(core: Core) -> web.Application:
    app = web.Application(middlewares=[gateway(cdn=False)], client_max_size=_MAX_BODY)
    app[CORE] = core
    names: dict[str, str] = {}
    for method, path, handler, route in [*api.ROUTES, *chat.ROUTES, *render.ROUTES]:
        resource = app.router.add_resource(path)
        resource.add_route(method, handler)
        names[resource.canonical] = route
    app[ROUTE_NAMES] = names
    return app


def _cdn_app(core: Core) -> web.Application:
    app = web.Application(middlewares=[gateway(cdn=True)])
    app[CORE] = core
    app[ROUTE_NAMES] = {}
    app.router.add_get("/media/{media_id}/{name}", media_file)
    app.router.add_get("/renders/{name}", render_file)
    return app


def _url(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("", "0.0.0.0") else "[::1]" if host == "::" else host  # noqa: S104
    return f"http://{shown}:{port}"


class Sandbox:
    """A local NemoVideo service on two loopback ports: the API (``url``) and a CDN (``cdn_url``).

    Pass a :class:`SandboxOptions`, or its fields as keywords (keywords override ``options``).

    Args:
        options: the behaviour (timings, seed, faults, limits...).
        host: the interface to listen on.
        port: the API port (0: an ephemeral one).
        cdn_port: the CDN port (0: an ephemeral one); always a different origin from the API.
    """

    def __init__(
        self,
        options: SandboxOptions | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        cdn_port: int = 0,
        **fields: Any,
    ) -> None:
        base = options or SandboxOptions()
        self.options = attrs.evolve(base, **fields) if fields else base
        self._host, self._port, self._cdn_port = host, port, cdn_port
        self._core: Core | None = None
        self._runners: list[web.AppRunner] = []

    # ---- lifecycle ------------------------------------------------------------------
    async def start(self) -> Sandbox:
        """Start listening; returns ``self``. Starting twice is an error."""
        if self._core is not None:
            raise RuntimeError("the sandbox is already started")
        core = self._core = Core(self.options)
        try:
            ports = []
            for app, port in ((_api_app(core), self._port), (_cdn_app(core), self._cdn_port)):
                # lingering_time=0: a body left unread by an early refusal closes the connection
                # at once, instead of a handler task lingering (and outliving close()).
                runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0, lingering_time=0)
                await runner.setup()
                self._runners.append(runner)
                site = web.TCPSite(runner, self._host, port, reuse_address=True)
                await site.start()
                ports.append(runner.addresses[0][1])
        except BaseException:
            await self.close()
            raise
        core.api_url, core.cdn_url = _url(self._host, ports[0]), _url(self._host, ports[1])
        return self

    async def close(self) -> None:
        """Stop background work, close both servers and remove stored files (idempotent)."""
        core, self._core = self._core, None
        if core is not None:
            await core.shutdown()
        runners, self._runners = self._runners, []
        for runner in runners:
            await runner.cleanup()

    async def __aenter__(self) -> Sandbox:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def core(self) -> Core:
        """The server-side state (raises when the sandbox is not started)."""
        if self._core is None:
            raise RuntimeError("the sandbox is not started: use `async with Sandbox() as sb`")
        return self._core

    @property
    def url(self) -> str:
        """The API base URL, e.g. ``http://127.0.0.1:41234``."""
        return self.core.api_url

    @property
    def cdn_url(self) -> str:
        """The CDN base URL: another port, so another origin than :attr:`url`."""
        return self.core.cdn_url

    def __repr__(self) -> str:
        where = f"{self._core.api_url} cdn={self._core.cdn_url}" if self._core else "stopped"
        return f"<Sandbox {where} seed={self.options.seed} time_scale={self.options.time_scale}>"

    # ---- inspection and control -----------------------------------------------------
    @property
    def faults(self) -> Faults:
        """The active fault rules (``add``, ``script``, ``clear``) and the ``injected`` counts."""
        return self.core.faults

    @property
    def clock(self) -> SimClock:
        """The simulated clock (``advance(seconds)`` moves expiries forward)."""
        return self.core.clock

    @property
    def requests(self) -> list[RequestRecord]:
        """API requests so far (newest last, bounded by ``log_limit``); no secret values."""
        return list(self.core.requests)

    @property
    def cdn_requests(self) -> list[CdnRequest]:
        """CDN requests so far, each saying whether it carried ``Authorization``/``X-Skill-*``."""
        return list(self.core.cdn_requests)

    @property
    def chat_deliveries(self) -> list[ChatDelivery]:
        """Every chat message the server accepted, in order."""
        return list(self.core.chat_deliveries)

    def duplicate_deliveries(self) -> list[ChatDelivery]:
        """Deliveries of a text a session had already received (should be empty)."""
        return [d for d in self.core.chat_deliveries if d.delivery > 1]

    def delivery_counts(self) -> collections.Counter[tuple[str, str]]:
        """How many times each (session id, text) was delivered."""
        return collections.Counter(
            {(d.session_id, d.text): d.delivery for d in self.core.chat_deliveries}
        )

    def _token(self, token: str) -> TokenRecord:
        record = self.core.tokens.get(token)
        if record is None:
            raise KeyError("unknown token")  # never echo the token itself
        return record

    def register_token(
        self, token: str, scopes: ScopesLike = "*", *, credits: int | None = None
    ) -> None:
        """Add a registered user's token (all scopes by default)."""
        core = self.core
        amount = self.options.registered_credits if credits is None else credits
        account = Account(core.new_id("usr_"), False, amount)
        core.tokens[token] = TokenRecord(
            token, account, parse_scopes(scopes), issued_at=core.clock.now()
        )

    def expire_token(self, token: str) -> None:
        """Make ``token`` answer 1001 from now on (its client id may then get a new one)."""
        self._token(token).revoked = True

    def set_credits(self, token: str, available: int) -> None:
        """Set the available credits of ``token``'s user."""
        self._token(token).account.available = available

    def credits(self, token: str) -> dict[str, int]:
        """``available``, ``frozen`` and ``total`` of ``token``'s user."""
        return self._token(token).account.credits_payload()

    def session(self, session_id: str) -> SessionRecord:
        """The server-side record of a session (its ``draft``, ``media``, turns...)."""
        return self.core.sessions[session_id]

    @property
    def sessions(self) -> list[SessionRecord]:
        """All sessions still kept."""
        return list(self.core.sessions.values())

    def render_job(self, job_id: str) -> RenderJob:
        """The server-side record of a render job."""
        return self.core.render_jobs[job_id]

    async def idle(self, timeout: float = 10.0) -> None:
        """Wait until no chat turn or render is running (real seconds, at most ``timeout``)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while self.core.busy:
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError("the sandbox still has work running")
            await asyncio.sleep(0.005)
