"""Transport rules over a real loopback server: headers, tokens, retries, error mapping."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import stat
import warnings
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest
from aiohttp import ClientHandlerType, ClientRequest, ClientResponse, web

from nemovideo import (
    AuthenticationError,
    ConfigurationError,
    ExportBlockedError,
    InsufficientCreditsError,
    NemoClient,
    PermissionDeniedError,
    RateLimitedError,
    RetryPolicy,
    ServerError,
    SessionNotFoundError,
    __version__,
)
from nemovideo.protocol.errors import APIConnectionError

from .conftest import FakeAPI, ok

CREDITS = "/api/credits/balance/simple"
TOKEN = "/api/auth/anonymous-token"
SECRET = "nmv_usr_secret_for_tests"


async def test_every_api_request_carries_attribution_and_bearer(
    api: FakeAPI, client: NemoClient
) -> None:
    api.json("GET", CREDITS, ok({"available": 90, "frozen": 10, "total": 100}))
    credits = await client.credits.get()
    assert (credits.available, credits.frozen, credits.total) == (90, 10, 100)
    headers = api.seen[0].headers
    assert headers["Authorization"] == f"Bearer {SECRET}"
    assert headers["X-Skill-Source"] == "image-to-video-deevid"
    assert headers["X-Skill-Version"] == __version__
    assert headers["X-Skill-Platform"]


async def test_attribution_overridable_and_platform_from_env(
    api: FakeAPI, make_client: Callable[..., NemoClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SKILL_SOURCE", "my-platform")
    client = make_client(skill_source="my-app", skill_version="9.9")
    api.json("GET", CREDITS, ok({"available": 1, "frozen": 0, "total": 1}))
    await client.credits.get()
    headers = api.seen[0].headers
    assert headers["X-Skill-Source"] == "my-app"
    assert headers["X-Skill-Version"] == "9.9"
    assert headers["X-Skill-Platform"] == "my-platform"


async def test_anonymous_token_acquired_once_with_persisted_client_id(
    api: FakeAPI, make_client: Callable[..., NemoClient], tmp_path: Path
) -> None:
    client = make_client(token=None)
    api.json("POST", TOKEN, ok({"token": "nmv_usr_anon1", "credits": 100}))
    api.json("GET", CREDITS, ok({"available": 100, "frozen": 0, "total": 100}))
    await asyncio.gather(*(client.credits.get() for _ in range(5)))
    assert api.count("POST", TOKEN) == 1
    token_request = next(s for s in api.seen if s.path == TOKEN)
    assert "Authorization" not in token_request.headers
    id_file = tmp_path / "cfg" / "client_id"
    assert token_request.headers["X-Client-Id"] == id_file.read_text().strip()
    assert stat.S_IMODE(id_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(id_file.parent.stat().st_mode) == 0o700
    gets = [s for s in api.seen if s.path == CREDITS]
    assert all(s.headers["Authorization"] == "Bearer nmv_usr_anon1" for s in gets)


async def test_expired_anonymous_token_refreshed_once(
    api: FakeAPI, make_client: Callable[..., NemoClient]
) -> None:
    client = make_client(token=None)
    api.json("POST", TOKEN, ok({"token": "nmv_usr_old"}), ok({"token": "nmv_usr_new"}))
    api.json("GET", CREDITS, {"code": 1001, "message": "token expired"},
             ok({"available": 5, "frozen": 0, "total": 5}))  # fmt: skip
    assert (await client.credits.get()).available == 5
    assert api.count("POST", TOKEN) == 2
    assert api.seen[-1].headers["Authorization"] == "Bearer nmv_usr_new"


async def test_given_token_is_never_replaced_on_1001(api: FakeAPI, client: NemoClient) -> None:
    api.json("GET", CREDITS, {"code": 1001, "message": "invalid"})
    with pytest.raises(AuthenticationError) as info:
        await client.credits.get()
    assert api.count("GET", CREDITS) == 1
    assert api.count("POST", TOKEN) == 0
    assert SECRET not in str(info.value) and SECRET not in repr(info.value)


async def test_missing_client_id_400_creates_one_and_retries_once(
    api: FakeAPI, make_client: Callable[..., NemoClient]
) -> None:
    client = make_client(token=None, client_id="fixed-id")
    api.on(
        "POST",
        TOKEN,
        _status_handler(400, '{"detail": "X-Client-Id required"}'),  # type: ignore[arg-type]
        _ok_handler({"token": "nmv_usr_x"}),  # type: ignore[arg-type]
    )
    api.json("GET", CREDITS, ok({"available": 1, "frozen": 0, "total": 1}))
    await client.credits.get()
    ids = [s.headers["X-Client-Id"] for s in api.seen if s.path == TOKEN]
    assert len(ids) == 2 and ids[0] == "fixed-id" and ids[1] != "fixed-id"


async def test_400_elsewhere_is_not_retried(api: FakeAPI, client: NemoClient) -> None:
    api.json("GET", CREDITS, {"detail": "bad request"}, status=400)
    with pytest.raises(Exception):  # noqa: B017, PT011 - the class is checked below
        await client.credits.get()
    assert api.count("GET", CREDITS) == 1


def _ok_handler(data: object) -> Callable[[web.Request], object]:
    async def handler(_: web.Request) -> web.Response:
        return web.json_response({"code": 0, "data": data})

    return handler  # type: ignore[return-value]


async def test_429_waits_retry_after_and_retries_once(
    api: FakeAPI, make_client: Callable[..., NemoClient]
) -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    client = make_client(retry=RetryPolicy(sleep=sleep))
    api.json("GET", CREDITS, {"detail": "slow down"}, status=429, headers={"Retry-After": "7"})
    with pytest.raises(RateLimitedError) as info:
        await client.credits.get()
    assert api.count("GET", CREDITS) == 2  # the first try and exactly one retry
    assert 7.0 in waits
    assert info.value.retry_after == 7.0


async def test_429_without_retry_after_waits_documented_30s(
    api: FakeAPI, make_client: Callable[..., NemoClient]
) -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    client = make_client(retry=RetryPolicy(sleep=sleep))
    api.on("GET", CREDITS, _status_handler(429), _ok_handler({"available": 3}))
    assert (await client.credits.get()).available == 3
    assert waits and waits[0] == 30.0


def _status_handler(status: int, body: str = "", ctype: str = "application/json") -> object:
    async def handler(_: web.Request) -> web.Response:
        return web.Response(status=status, text=body, content_type=ctype)

    return handler


async def test_5xx_on_reads_retried_with_backoff_then_raised(
    api: FakeAPI, client: NemoClient
) -> None:
    api.json("GET", CREDITS, {"detail": "boom"}, status=503)
    with pytest.raises(ServerError):
        await client.credits.get()
    assert api.count("GET", CREDITS) == 3  # 1 + 2 retries


async def test_html_502_from_a_proxy_maps_to_server_error(api: FakeAPI, client: NemoClient) -> None:
    page = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    api.on("GET", CREDITS, _status_handler(502, page, "text/html"))  # type: ignore[arg-type]
    with pytest.raises(ServerError) as info:
        await client.credits.get()
    assert info.value.http_status == 502
    assert "<html>" not in str(info.value)


async def test_5xx_on_work_requests_is_never_retried(api: FakeAPI, client: NemoClient) -> None:
    api.json("POST", "/run_sse", {"detail": "boom"}, status=500)
    with pytest.raises(ServerError):
        await client.chat.send("123", "hello")
    assert api.count("POST", "/run_sse") == 1


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"code": 1002, "message": "no such session"}, 200, SessionNotFoundError),
        ({"code": 2001, "message": "no credits"}, 200, InsufficientCreditsError),
        ({"detail": "free plan"}, 402, ExportBlockedError),
        ({"detail": "scope"}, 403, PermissionDeniedError),
        ({"detail": "Session not found: 1"}, 404, SessionNotFoundError),
    ],
)
async def test_documented_errors_map_to_classes(
    api: FakeAPI, client: NemoClient, body: dict[str, object], status: int, error: type
) -> None:
    api.json("GET", "/api/state/nemo_agent/me/1/latest", body, status=status)
    with pytest.raises(error) as info:
        await client.state.get("1")
    assert info.value.message  # says what to do
    assert api.count("GET", "/api/state/nemo_agent/me/1/latest") == 1


async def test_request_id_travels_into_errors(api: FakeAPI, client: NemoClient) -> None:
    api.json("GET", CREDITS, {"detail": "nope"}, status=403, headers={"X-Request-Id": "req-42"})
    with pytest.raises(PermissionDeniedError) as info:
        await client.credits.get()
    assert info.value.request_id == "req-42"


async def test_connection_refused_is_a_clear_error(make_client: Callable[..., NemoClient]) -> None:
    client = make_client(base_url="http://127.0.0.1:9")
    with pytest.raises(APIConnectionError) as info:
        await client.credits.get()
    assert info.value.request_sent is False
    assert "127.0.0.1" in str(info.value) or "connect" in str(info.value).lower()


def test_plain_http_refused_for_remote_hosts(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="https"):
        NemoClient("http://api.example.com", token="t", client_id_path=tmp_path / "c")
    with pytest.raises(ConfigurationError, match="URL"):
        NemoClient("ftp://x", token="t", client_id_path=tmp_path / "c")
    NemoClient("http://api.example.com", token="t", allow_insecure=True, client_id_path=tmp_path)


def test_config_precedence_arguments_env_defaults(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("NEMO_API_URL", "https://env.example.com")
    monkeypatch.setenv("NEMO_TOKEN", "nmv_usr_from_env")
    monkeypatch.setenv("NEMO_CLIENT_ID", "env-client")
    from_env = NemoClient(client_id_path=tmp_path / "c")
    assert str(from_env.config.base_url) == "https://env.example.com"
    assert from_env.config.client_id == "env-client"
    assert from_env.config.token == "nmv_usr_from_env"
    given = NemoClient("https://arg.example.com", token="nmv_usr_arg", client_id_path=tmp_path)
    assert str(given.config.base_url) == "https://arg.example.com"
    for text in (repr(from_env), repr(from_env.config), repr(given), repr(given.config)):
        assert "nmv_usr_from_env" not in text and "nmv_usr_arg" not in text
    monkeypatch.delenv("NEMO_API_URL")
    assert str(NemoClient(client_id_path=tmp_path).config.base_url) == (
        "https://mega-api-prod.nemovideo.ai"
    )


def test_client_created_outside_a_loop_then_used_inside(tmp_path: Path) -> None:
    client = NemoClient("http://127.0.0.1:1", token=SECRET, client_id_path=tmp_path / "c")

    async def use() -> int:
        app = web.Application()

        async def credits(_: web.Request) -> web.Response:
            return web.json_response(ok({"available": 4, "frozen": 0, "total": 4}))

        app.router.add_get(CREDITS, credits)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        local = client.with_options(base_url=client.config.base_url.with_port(port))
        try:
            return (await local.credits.get()).available
        finally:
            await client.close()
            await client.close()  # twice is fine
            await runner.cleanup()

    assert asyncio.run(use()) == 4
    assert client.closed


async def test_close_twice_and_use_after_close(api: FakeAPI, client: NemoClient) -> None:
    api.json("GET", CREDITS, ok({"available": 1, "frozen": 0, "total": 1}))
    await client.credits.get()
    await client.close()
    await client.close()
    with pytest.raises(ConfigurationError, match="closed"):
        await client.credits.get()


async def test_unclosed_client_warns(api: FakeAPI, tmp_path: Path) -> None:
    api.json("GET", CREDITS, ok({"available": 1, "frozen": 0, "total": 1}))
    client = NemoClient(api.url, token=SECRET, client_id_path=tmp_path / "c")
    await client.credits.get()
    session = client._transport._session
    assert session is not None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del client
        gc.collect()
    assert any(issubclass(w.category, ResourceWarning) and "NemoClient" in str(w.message)
               for w in caught)  # fmt: skip
    await session.close()


def test_client_id_file_corrupt_gets_fresh_id(tmp_path: Path) -> None:
    from nemovideo.transport.auth import load_or_create_client_id

    path = tmp_path / "nemo" / "client_id"
    path.parent.mkdir()
    path.write_bytes(b"\x00\xff not an id at all \n" * 5)
    fresh = load_or_create_client_id(path)
    assert len(fresh) == 36 and path.read_text().strip() == fresh
    assert load_or_create_client_id(path) == fresh  # shared, stable
    os.chmod(path, 0o000)
    try:
        if os.geteuid() != 0:  # root reads anything
            assert load_or_create_client_id(path) != fresh
    finally:
        os.chmod(path, 0o600)


async def test_with_options_shares_connections_but_honours_a_new_token(
    api: FakeAPI, client: NemoClient
) -> None:
    api.json("GET", CREDITS, ok({"available": 1, "frozen": 0, "total": 1}))
    other = client.with_options(token="nmv_usr_other")
    same = client.with_options(poll_interval=1.0)
    await client.credits.get()
    await other.credits.get()
    await same.credits.get()
    tokens = [s.headers["Authorization"] for s in api.seen]
    assert tokens == [f"Bearer {SECRET}", "Bearer nmv_usr_other", f"Bearer {SECRET}"]
    assert other._transport.session() is client._transport.session()


async def test_requests_are_logged_at_debug_and_only_then(
    api: FakeAPI, client: NemoClient, caplog: pytest.LogCaptureFixture
) -> None:
    api.json("GET", CREDITS, ok({"available": 1, "frozen": 0, "total": 1}))

    def logged() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.name == "nemovideo.http"]

    caplog.set_level(logging.INFO, logger="nemovideo.http")
    await client.credits.get()
    assert logged() == []
    caplog.set_level(logging.DEBUG, logger="nemovideo.http")  # switched on while running
    await client.credits.get()
    assert len(logged()) == 1
    assert logged()[0].startswith(f"GET 127.0.0.1{CREDITS} -> 200 (")
    assert SECRET not in logged()[0]


async def test_a_supplied_session_keeps_its_own_middlewares(api: FakeAPI, tmp_path: Path) -> None:
    api.json("GET", CREDITS, ok({"available": 1, "frozen": 0, "total": 1}))
    marks: list[str] = []

    async def mark(request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        marks.append(request.url.path)
        request.headers["X-Skill-Source"] = "from-my-session"
        return await handler(request)

    async with aiohttp.ClientSession(middlewares=(mark,)) as session:
        client = NemoClient(
            api.url, token=SECRET, session=session, client_id_path=tmp_path / "cid",
            journal_path=None,
        )  # fmt: skip
        async with client:
            await client.credits.get()
    assert marks == [CREDITS]
    assert api.seen[0].headers["X-Skill-Source"] == "from-my-session"
