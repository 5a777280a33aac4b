"""Clients pointed at the sandbox, with every wait scaled down like the sandbox's clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from nemovideo import NemoClient, RetryPolicy


def fast_retry() -> RetryPolicy:
    """The documented retry table with waits scaled down for tests."""
    return RetryPolicy(
        backoff_initial=0.005,
        backoff_max=0.05,
        backoff_jitter=0.005,
        rate_limit_wait=0.03,
        rate_limit_max_wait=0.5,
    )


@pytest.fixture
async def make_sandbox_client(
    nemo_sandbox: Any, tmp_path: Path
) -> AsyncIterator[Callable[..., NemoClient]]:
    made: list[NemoClient] = []

    def make(**kw: Any) -> NemoClient:
        kw.setdefault("client_id_path", tmp_path / "cfg" / "client_id")
        kw.setdefault("journal_path", tmp_path / "journal.jsonl")
        kw.setdefault("poll_interval", 0.02)
        kw.setdefault("max_polls", 500)
        kw.setdefault("retry", fast_retry())
        client = NemoClient(kw.pop("base_url", nemo_sandbox.url), **kw)
        made.append(client)
        return client

    yield make
    for client in made:
        await client.close()


@pytest.fixture
def sandbox_client(make_sandbox_client: Callable[..., NemoClient]) -> NemoClient:
    return make_sandbox_client()
