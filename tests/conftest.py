"""Shared fixtures: the plugin's sandbox clients under the names the tests use."""

from __future__ import annotations

from collections.abc import Callable

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
def make_sandbox_client(
    nemo_client_factory: Callable[..., NemoClient],
) -> Callable[..., NemoClient]:
    return nemo_client_factory


@pytest.fixture
def sandbox_client(nemo_client: NemoClient) -> NemoClient:
    return nemo_client
