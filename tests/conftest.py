"""Shared fixtures: the plugin's sandbox clients under the names the tests use."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from nemovideo import NemoClient
from nemovideo.testing import fast_retry_policy

fast_retry = fast_retry_policy


@pytest.fixture(autouse=True)
def _isolated_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """No test reads or writes the real home: the client id (``~/.config/nemovideo``, fixed by
    the documents whatever XDG_CONFIG_HOME says) and the token file live under it."""
    monkeypatch.setenv("HOME", str(tmp_path_factory.mktemp("home")))
    monkeypatch.delenv("NEMO_TOKEN_CACHE", raising=False)


@pytest.fixture
def make_sandbox_client(
    nemo_client_factory: Callable[..., NemoClient],
) -> Callable[..., NemoClient]:
    return nemo_client_factory


@pytest.fixture
def sandbox_client(nemo_client: NemoClient) -> NemoClient:
    return nemo_client
