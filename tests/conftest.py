"""Shared fixtures: the plugin's sandbox clients under the names the tests use, and a home of
their own for the whole session, so that no test reads or writes the user's real one."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from nemovideo import NemoClient
from nemovideo.testing import fast_retry_policy

fast_retry = fast_retry_policy

#: The user's home before the session replaced it (tests assert it is never written to).
REAL_HOME = Path(os.path.expanduser("~")).resolve()


@pytest.fixture(autouse=True)
def isolated_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A throw-away home (and XDG folders in it) for every test: the journal, the client id
    (``~/.config/nemovideo``, fixed by the documents whatever XDG_CONFIG_HOME says), the saved
    anonymous token and the chat history live there. Subprocesses (examples, ``python -m
    nemovideo``) inherit it."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local" / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    for name in ("NEMO_JOURNAL", "NEMO_CLIENT_ID", "NEMO_TOKEN", "NEMO_TOKEN_CACHE"):
        monkeypatch.delenv(name, raising=False)  # the user's own settings
    return home


@pytest.fixture
def make_sandbox_client(
    nemo_client_factory: Callable[..., NemoClient],
) -> Callable[..., NemoClient]:
    return nemo_client_factory


@pytest.fixture
def sandbox_client(nemo_client: NemoClient) -> NemoClient:
    return nemo_client
