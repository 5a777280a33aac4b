"""The anonymous token: asked for once per client id, saved beside the client id, reused by later
processes, never asked again after a refusal (API.md: "1 token per client per 7 days", "save
the token")."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from aiohttp import web

from nemovideo import NemoClient, RateLimitedError
from nemovideo.protocol.errors import TokenRateLimitedError
from nemovideo.transport.config import ClientConfig, default_client_id_path
from nemovideo.transport.token_status import (
    forget_saved_token,
    mask_token,
    saved_token,
    token_status,
)
from nemovideo.transport.tokens import SavedToken, TokenFile

from .conftest import FakeAPI, ok

CREDITS = "/api/credits/balance/simple"
TOKEN = "/api/auth/anonymous-token"
BALANCE = ok({"available": 100, "frozen": 0, "total": 100})


def token_file(tmp_path: Path) -> Path:
    return tmp_path / "cfg" / "anonymous_token.json"


async def test_a_second_process_reuses_the_saved_token(
    api: FakeAPI, make_client: Callable[..., NemoClient], tmp_path: Path
) -> None:
    api.json("POST", TOKEN, ok({"token": "nmv_usr_first", "user_id": "anon_1"}),
             ok({"token": "nmv_usr_second"}))  # fmt: skip
    api.json("GET", CREDITS, BALANCE)
    first = make_client(token=None)
    await first.credits.get()
    await first.close()
    # A new client is what a new process (a CLI run, a script, resume()) starts with.
    second = make_client(token=None)
    await second.credits.get()
    assert api.count("POST", TOKEN) == 1
    assert api.seen[-1].headers["Authorization"] == "Bearer nmv_usr_first"
    path = token_file(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]
    saved = saved_token(second.config)
    assert saved is not None and saved.usable() and saved.user_id == "anon_1"
    assert saved.client_id == (tmp_path / "cfg" / "client_id").read_text().strip()
    assert "nmv_usr_first" not in repr(saved)


async def test_two_clients_starting_at_once_make_one_token_request(
    api: FakeAPI, make_client: Callable[..., NemoClient]
) -> None:
    async def slow_token(_: web.Request) -> web.Response:
        await asyncio.sleep(0.1)  # both clients are waiting on the file lock meanwhile
        return web.json_response(ok({"token": "nmv_usr_shared"}))

    api.on("POST", TOKEN, slow_token)
    api.json("GET", CREDITS, BALANCE)
    clients = [make_client(token=None) for _ in range(3)]
    await asyncio.gather(*(c.credits.get() for c in clients for _ in range(3)))
    assert api.count("POST", TOKEN) == 1
    gets = [s for s in api.seen if s.path == CREDITS]
    assert {s.headers["Authorization"] for s in gets} == {"Bearer nmv_usr_shared"}


def test_two_processes_starting_at_once_make_one_token_request(tmp_path: Path) -> None:
    # Real processes: the lock is an flock on a file, not anything in memory.
    script = textwrap.dedent(
        """
        import asyncio, json, sys
        from aiohttp import web
        from nemovideo import NemoClient

        async def main():
            requests = 0
            async def token(request):
                nonlocal requests
                requests += 1
                await asyncio.sleep(0.3)
                return web.json_response({"code": 0, "data": {"token": "nmv_usr_one"}})
            async def credits(request):
                return web.json_response({"code": 0, "data": {"available": 1}})
            app = web.Application()
            app.router.add_post("/api/auth/anonymous-token", token)
            app.router.add_get("/api/credits/balance/simple", credits)
            runner = web.AppRunner(app)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port = runner.addresses[0][1]
            child = (
                "import asyncio, sys\\n"
                "from nemovideo import NemoClient\\n"
                "async def go():\\n"
                "    async with NemoClient(sys.argv[1], client_id_path=sys.argv[2],\\n"
                "                          journal_path=None) as c:\\n"
                "        await c.credits.get()\\n"
                "asyncio.run(go())\\n"
            )
            url = f"http://127.0.0.1:{port}"
            procs = [
                await asyncio.create_subprocess_exec(
                    sys.executable, "-c", child, url, sys.argv[1]
                )
                for _ in range(2)
            ]
            codes = [await p.wait() for p in procs]
            await runner.cleanup()
            print(json.dumps({"codes": codes, "requests": requests}))

        asyncio.run(main())
        """
    )
    done = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", script, str(tmp_path / "cfg" / "client_id")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"codes": [0, 0], "requests": 1}


async def test_a_refused_token_request_is_not_repeated(
    api: FakeAPI, make_client: Callable[..., NemoClient]
) -> None:
    api.json("POST", TOKEN, {"code": 429, "message": "Rate limit (1 token/client/7 days)"},
             status=429, headers={"Retry-After": "3600"})  # fmt: skip
    api.json("GET", CREDITS, BALANCE)
    client = make_client(token=None)
    results = await asyncio.gather(
        *(client.credits.get() for _ in range(4)),
        client.session.create(),
        return_exceptions=True,
    )
    assert all(isinstance(r, TokenRateLimitedError) for r in results)
    with pytest.raises(TokenRateLimitedError) as info:
        await client.credits.get()
    assert api.count("POST", TOKEN) == 1
    assert isinstance(info.value, RateLimitedError) and info.value.retry_after == 3600
    message = str(info.value)
    assert "NEMO_TOKEN" in message and "register" in message and "60 min" in message
    assert api.count("GET", CREDITS) == 0


async def test_a_short_429_on_the_token_request_is_retried_once_for_everyone(
    api: FakeAPI, make_client: Callable[..., NemoClient]
) -> None:
    busy = {"code": 429, "message": "slow down"}
    api.json("POST", TOKEN, busy, busy, status=429, headers={"Retry-After": "1"})
    api.json("GET", CREDITS, BALANCE)
    client = make_client(token=None)
    results = await asyncio.gather(*(client.credits.get() for _ in range(5)),
                                   return_exceptions=True)  # fmt: skip
    assert all(isinstance(r, TokenRateLimitedError) for r in results)
    assert api.count("POST", TOKEN) == 2  # one shared request, retried once as documented
    answers = iter([web.json_response(busy, status=429, headers={"Retry-After": "0"}),
                    web.json_response(ok({"token": "nmv_usr_late"}))])  # fmt: skip

    async def then_ok(_: web.Request) -> web.Response:
        return next(answers)

    api.on("POST", TOKEN, then_ok)
    later = make_client(token=None, token_cache=False)
    await later.credits.get()
    assert api.seen[-1].headers["Authorization"] == "Bearer nmv_usr_late"


async def test_an_expired_saved_token_is_replaced_and_1001_replaces_it_everywhere(
    api: FakeAPI, make_client: Callable[..., NemoClient], tmp_path: Path
) -> None:
    api.json("POST", TOKEN, ok({"token": "nmv_usr_a"}), ok({"token": "nmv_usr_b"}),
             ok({"token": "nmv_usr_c"}))  # fmt: skip
    api.json("GET", CREDITS, BALANCE)
    client = make_client(token=None)
    await client.credits.get()
    # The API says the saved token expired: the next process must not pick it up again.
    api.json("GET", CREDITS, {"code": 1001, "message": "token expired"}, BALANCE)
    await client.credits.get()
    assert api.seen[-1].headers["Authorization"] == "Bearer nmv_usr_b"
    saved = saved_token(client.config)
    assert saved is not None and saved.masked == mask_token("nmv_usr_b")
    # An entry past its expiry is not reused either.
    path = token_file(tmp_path)
    data = json.loads(path.read_text())
    for entry in data["tokens"].values():
        entry["expires_at"] = time.time() - 1
    path.write_text(json.dumps(data))
    later = make_client(token=None)
    await later.credits.get()
    assert api.seen[-1].headers["Authorization"] == "Bearer nmv_usr_c"
    assert api.count("POST", TOKEN) == 3


async def test_a_given_token_is_never_written(
    api: FakeAPI, make_client: Callable[..., NemoClient], tmp_path: Path
) -> None:
    api.json("GET", CREDITS, BALANCE)
    await make_client(token="nmv_usr_mine").credits.get()
    assert not token_file(tmp_path).exists()
    status = token_status(make_client(token="nmv_usr_mine_and_long_enough").config)
    assert status.source == "given" and status.masked == "nmv_usr_mi…ough"


@pytest.mark.parametrize("how", ["setting", "env"])
async def test_the_token_file_can_be_turned_off(
    api: FakeAPI,
    make_client: Callable[..., NemoClient],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    how: str,
) -> None:
    api.json("POST", TOKEN, ok({"token": "nmv_usr_x"}))
    api.json("GET", CREDITS, BALANCE)
    if how == "env":
        monkeypatch.setenv("NEMO_TOKEN_CACHE", "0")
        settings: dict[str, object] = {}
    else:
        settings = {"token_cache": False}
    for _ in range(2):
        await make_client(token=None, **settings).credits.get()
    assert api.count("POST", TOKEN) == 2
    assert not token_file(tmp_path).exists()


async def test_tokens_of_one_api_are_never_sent_to_another(tmp_path: Path) -> None:
    file = TokenFile(tmp_path / "anonymous_token.json")
    entry = SavedToken("nmv_usr_sandbox", "http://127.0.0.1:1", "cid", time.time() + 99, 0.0)
    file.save(entry)
    assert file.load("http://127.0.0.1:1", "cid") == entry
    assert file.load("https://mega-api-prod.nemovideo.ai", "cid") is None
    assert file.load("http://127.0.0.1:1", "other-id") is None
    (tmp_path / "anonymous_token.json").write_text("{not json")
    assert file.load("http://127.0.0.1:1", "cid") is None  # damaged: ask again, never crash


async def test_status_helpers_for_the_command_line(
    api: FakeAPI, make_client: Callable[..., NemoClient]
) -> None:
    client = make_client(token=None)
    assert token_status(client.config).source == "none"
    api.json("POST", TOKEN, ok({"token": "nmv_usr_0123456789abcdef", "expires_in": 3600}))
    api.json("GET", CREDITS, BALANCE)
    await client.credits.get()
    status = token_status(client.config)
    assert status.source == "saved" and status.usable
    assert status.masked == "nmv_usr_01…cdef"
    assert status.expires_at is not None and abs(status.expires_at - time.time() - 3600) < 60
    assert forget_saved_token(client.config) is True
    assert token_status(client.config).source == "none"


def test_the_client_id_path_is_fixed_whatever_xdg_says(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    expected = tmp_path / "home" / ".config" / "nemovideo" / "client_id"
    assert default_client_id_path() == expected
    config = ClientConfig.resolve(env={"XDG_CONFIG_HOME": str(tmp_path / "xdg")})
    assert config.client_id_path == expected
    assert config.token_cache_path == expected.with_name("anonymous_token.json")
    explicit = ClientConfig.resolve(client_id_path=tmp_path / "mine", env={})
    assert explicit.client_id_path == tmp_path / "mine"
