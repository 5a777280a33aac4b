"""Per-call options on every resource method, and the server's request id on every result."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nemovideo import APITimeoutError, ConfigurationError, NemoClient
from nemovideo.resources import (
    ChatResource,
    CreditsResource,
    RenderResource,
    SessionResource,
    StateResource,
    UploadResource,
)
from nemovideo.sandbox import FaultRule

ASSETS = Path(__file__).resolve().parents[2] / "examples" / "assets"
RESOURCES = (
    ChatResource,
    CreditsResource,
    RenderResource,
    SessionResource,
    StateResource,
    UploadResource,
)


@pytest.mark.parametrize("resource", RESOURCES)
def test_every_request_making_method_takes_timeout_and_extra_headers(resource: type) -> None:
    for name, method in vars(resource).items():
        if name.startswith("_") or name == "check" or not callable(method):
            continue
        params = inspect.signature(method).parameters
        assert "extra_headers" in params, f"{resource.__name__}.{name}"
        assert "timeout" in params, f"{resource.__name__}.{name}"


async def test_extra_headers_reach_every_api_request_of_the_call(
    nemo_sandbox: Any, make_sandbox_client: Callable[..., NemoClient]
) -> None:
    client = make_sandbox_client()
    session = await client.session.create(extra_headers={"X-Trace-Id": "t-1"})
    await client.state.get(session.session_id, extra_headers={"X-Trace-Id": "t-2"})
    await client.state.get(session.session_id)
    routes = [(r.route, "x-trace-id" in {h.lower() for h in r.header_names}) for r in
              nemo_sandbox.requests if r.route in ("session", "state")]  # fmt: skip
    assert routes == [("session", True), ("state", True), ("state", False)]


async def test_a_per_call_timeout_bounds_the_whole_call(
    nemo_sandbox: Any, make_sandbox_client: Callable[..., NemoClient]
) -> None:
    client = make_sandbox_client()
    session = await client.session.create()
    # 30 simulated seconds at the sandbox's clock (0.001): 30 ms, longer than the timeout.
    nemo_sandbox.faults.add(FaultRule(route="state", kind="slow", delay=300.0, times=1))
    with pytest.raises(APITimeoutError, match=r"client\.state\.get\(\).*timeout=0.05"):
        await client.state.get(session.session_id, timeout=0.05)
    with pytest.raises(ConfigurationError, match="timeout"):
        await client.state.get(session.session_id, timeout=-1)
    with pytest.raises(ConfigurationError, match="line break"):
        await client.state.get(session.session_id, extra_headers={"X-A": "b\r\nX-Evil: 1"})


async def test_results_carry_the_server_request_id(
    make_sandbox_client: Callable[..., NemoClient],
) -> None:
    client = make_sandbox_client()
    session = await client.session.create()
    results: list[Any] = [
        session,
        await client.credits.get(),
        await client.upload.files(session.session_id, ASSETS / "sunset.jpg"),
        await client.chat.send(session.session_id, "animate this image"),
        await client.state.get(session.session_id),
    ]
    ids = [r.request_id for r in results]
    assert all(isinstance(i, str) and i for i in ids), ids
    assert len(set(ids)) == len(ids)  # each the id of its own answer
