"""Shared fixtures: the plugin's sandbox clients under the names the tests use."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from nemovideo import NemoClient
from nemovideo.testing import fast_retry_policy

fast_retry = fast_retry_policy


@pytest.fixture
def make_sandbox_client(
    nemo_client_factory: Callable[..., NemoClient],
) -> Callable[..., NemoClient]:
    return nemo_client_factory


@pytest.fixture
def sandbox_client(nemo_client: NemoClient) -> NemoClient:
    return nemo_client
