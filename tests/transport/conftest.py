"""A scriptable loopback API server for transport and resource tests.

Each test installs handlers per (method, path); every request is recorded with its headers and
body so that tests can assert what went over the wire (and what did not).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import attrs
import pytest
from aiohttp import web

from nemovideo import NemoClient, RetryPolicy

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def _no_sleep(_: float) -> None:
    return None


@attrs.define
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class FakeAPI:
    """Routes -> handlers; unknown routes answer 404."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], list[Handler]] = {}
        self.seen: list[Seen] = []
        self.url = ""

    def on(self, method: str, path: str, *handlers: Handler) -> None:
        """Answer with each handler in turn; the last one repeats."""
        self.routes[(method, path)] = list(handlers)

    def json(self, method: str, path: str, *bodies: Any, status: int = 200, **kw: Any) -> None:
        """Answer with JSON bodies in turn (the last one repeats)."""
        self.on(method, path, *(_json_handler(b, status, kw.get("headers")) for b in bodies))

    def count(self, method: str, path: str) -> int:
        return sum(1 for s in self.seen if s.method == method and s.path == path)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.seen.append(Seen(request.method, request.path, dict(request.headers), body))
        handlers = self.routes.get((request.method, request.path))
        if not handlers:
            return web.json_response({"detail": "Not Found"}, status=404)
        handler = handlers.pop(0) if len(handlers) > 1 else handlers[0]
        return await handler(request)


def _json_handler(body: Any, status: int, headers: dict[str, str] | None) -> Handler:
    async def handler(_: web.Request) -> web.StreamResponse:
        if isinstance(body, (bytes, str)):
            return web.Response(body=body, status=status, headers=headers)
        return web.Response(
            text=json.dumps(body), status=status, content_type="application/json", headers=headers
        )

    return handler


@pytest.fixture
async def api() -> AsyncIterator[FakeAPI]:
    fake, runner = await _serve()
    yield fake
    await runner.cleanup()


async def _serve() -> tuple[FakeAPI, web.AppRunner]:
    fake = FakeAPI()
    app = web.Application(client_max_size=1024**3)

    async def route(request: web.Request) -> web.StreamResponse:
        return await fake.handle(request)  # looked up per call, so tests can wrap it

    app.router.add_route("*", "/{tail:.*}", route)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    fake.url = f"http://127.0.0.1:{port}"
    return fake, runner


@pytest.fixture
async def cdn() -> AsyncIterator[FakeAPI]:
    """A second origin, standing in for the CDN that serves rendered files."""
    fake, runner = await _serve()
    yield fake
    await runner.cleanup()


@pytest.fixture
async def make_client(api: FakeAPI, tmp_path: Path) -> AsyncIterator[Callable[..., NemoClient]]:
    clients: list[NemoClient] = []

    def make(**kw: Any) -> NemoClient:
        kw.setdefault("token", "nmv_usr_secret_for_tests")
        kw.setdefault("client_id_path", tmp_path / "cfg" / "client_id")
        kw.setdefault("journal_path", tmp_path / "journal.jsonl")
        kw.setdefault("retry", RetryPolicy(sleep=_no_sleep))
        kw.setdefault("poll_interval", 0.001)
        client = NemoClient(kw.pop("base_url", api.url), **kw)
        clients.append(client)
        return client

    yield make
    for made in clients:
        await made.close()


@pytest.fixture
def client(make_client: Callable[..., NemoClient]) -> NemoClient:
    return make_client()


def ok(data: Any) -> dict[str, Any]:
    return {"code": 0, "data": data}
