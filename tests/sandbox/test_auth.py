"""Tokens, scopes, expiry, the per-IP limit, claim links and credits."""

from __future__ import annotations

import aiohttp
import pytest

from nemovideo.sandbox import Sandbox
from tests.sandbox.support import Api

TOKEN_PATH = "/api/auth/anonymous-token"


async def test_anonymous_token_has_100_credits_and_is_stable_per_client_id(
    nemo_sandbox: Sandbox, http: aiohttp.ClientSession
) -> None:
    api = Api(http, nemo_sandbox.url)
    status, body, _ = await api.call("POST", TOKEN_PATH, headers={"X-Client-Id": "c-1"})
    assert status == 200 and body["code"] == 0
    data = body["data"]
    assert data["token"].startswith("nmv_usr_")
    assert data["credits"] == 100
    assert data["user_id"].startswith("anon_")
    again = await api.data("POST", TOKEN_PATH, headers={"X-Client-Id": "c-1"})
    other = await api.data("POST", TOKEN_PATH, headers={"X-Client-Id": "c-2"})
    assert again["token"] == data["token"]
    assert other["token"] != data["token"]


async def test_missing_client_id_is_http_400(
    nemo_sandbox: Sandbox, http: aiohttp.ClientSession
) -> None:
    status, body, _ = await Api(http, nemo_sandbox.url).call("POST", TOKEN_PATH)
    assert status == 400
    assert body["code"] == 400


async def test_per_ip_limit_answers_429_with_scaled_retry_after(
    nemo_sandbox: Sandbox, http: aiohttp.ClientSession
) -> None:
    api = Api(http, nemo_sandbox.url)
    for n in range(10):
        await api.data("POST", TOKEN_PATH, headers={"X-Client-Id": f"client-{n}"})
    status, body, resp = await api.call("POST", TOKEN_PATH, headers={"X-Client-Id": "eleventh"})
    assert status == 429, body
    retry_after = float(resp.headers["Retry-After"])
    assert 0 < retry_after <= 7 * 86400 * 0.001  # seven simulated days, scaled
    # A known client id still gets its valid token back: re-use avoids the limit.
    again = await api.data("POST", TOKEN_PATH, headers={"X-Client-Id": "client-3"})
    assert again["token"].startswith("nmv_usr_")


@pytest.mark.parametrize("header", [None, "Bearer nmv_usr_unknown", "Basic abc"])
async def test_unknown_or_missing_token_is_code_1001(
    nemo_sandbox: Sandbox, http: aiohttp.ClientSession, header: str | None
) -> None:
    headers = {"Authorization": header} if header else {}
    status, body, _ = await Api(http, nemo_sandbox.url).call(
        "GET", "/api/credits/balance/simple", headers=headers
    )
    assert (status, body["code"]) == (200, 1001)
    assert "nmv_usr_unknown" not in str(body)


async def test_expired_token_is_1001_and_the_client_id_gets_a_new_one(
    nemo_sandbox: Sandbox, api: Api
) -> None:
    sid = await api.new_session()
    old = api.token
    assert old is not None
    nemo_sandbox.expire_token(old)
    _status, body, _ = await api.call("GET", "/api/credits/balance/simple")
    assert body["code"] == 1001
    new = await api.anonymous()  # same client id as before
    assert new != old
    state = await api.state(sid)  # the same anonymous user keeps its sessions
    assert state["session_id"] == sid


async def test_tokens_expire_after_seven_simulated_days(nemo_sandbox: Sandbox, api: Api) -> None:
    assert (await api.credits())["available"] == 100
    nemo_sandbox.clock.advance(7 * 86400 + 1)
    _status, body, _ = await api.call("GET", "/api/credits/balance/simple")
    assert body["code"] == 1001


async def test_http_error_style_sends_codes_with_http_statuses(
    nemo_sandbox_factory, http: aiohttp.ClientSession
) -> None:
    sb = await nemo_sandbox_factory(error_style="http")
    status, body, _ = await Api(http, sb.url, "nmv_usr_nope").call(
        "GET", "/api/credits/balance/simple"
    )
    assert (status, body["code"]) == (401, 1001)


async def test_missing_scope_is_403_and_registered_tokens_have_all_scopes(
    nemo_sandbox_factory, http: aiohttp.ClientSession
) -> None:
    sb = await nemo_sandbox_factory(tokens={"nmv_usr_reader": "read", "nmv_usr_test": "*"})
    reader = Api(http, sb.url, "nmv_usr_reader")
    assert (await reader.credits())["available"] == 100_000
    status, body, _ = await reader.call(
        "POST", "/api/tasks/me/with-session/nemo_agent", json={"task_name": "p", "language": "en"}
    )
    assert status == 403 and body["code"] == 403
    full = Api(http, sb.url, "nmv_usr_test")
    assert (await full.new_session()).isdigit()


async def test_claim_token(api: Api) -> None:
    sid = await api.new_session()
    state = await api.state(sid)
    data = await api.data(
        "POST", "/api/auth/claim-token", json={"task_id": state["task_id"], "session_id": sid}
    )
    assert data["claim_token"].startswith("clm_")
    assert data["expires_in"] == 604800
    _status, body, _ = await api.call(
        "POST", "/api/auth/claim-token", json={"task_id": "x", "session_id": "123"}
    )
    assert body["code"] == 1002


async def test_credits_and_set_credits(nemo_sandbox: Sandbox, api: Api) -> None:
    assert await api.credits() == {"available": 100, "frozen": 0, "total": 100}
    assert api.token is not None
    nemo_sandbox.set_credits(api.token, 7)
    assert await api.credits() == {"available": 7, "frozen": 0, "total": 7}
    assert nemo_sandbox.credits(api.token)["available"] == 7


async def test_request_log_names_headers_but_never_stores_token_values(
    nemo_sandbox: Sandbox, api: Api
) -> None:
    await api.credits()
    record = nemo_sandbox.requests[-1]
    assert record.route == "credits" and record.status == 200
    assert record.had_authorization and record.had_attribution
    assert "authorization" in record.header_names
    assert api.token is not None
    assert api.token not in repr(nemo_sandbox.requests)
    assert api.token not in repr(nemo_sandbox.core.tokens[api.token])


async def test_answers_carry_a_request_id(api: Api) -> None:
    _, _, first = await api.call("GET", "/api/credits/balance/simple")
    _, _, second = await api.call("GET", "/api/state/nemo_agent/me/1/latest")
    ids = {first.headers["X-Request-Id"], second.headers["X-Request-Id"]}
    assert len(ids) == 2 and all(i.startswith("req_") for i in ids)
