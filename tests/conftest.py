"""Shared fixtures: the plugin's sandbox clients under the names the tests use, a home of
their own for every test, so that no test reads or writes the user's real one, and the ledger
backends (SQLite, and PostgreSQL on a throwaway cluster of its own) for tests that run on both."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from nemovideo import NemoClient
from nemovideo.testing import fast_retry_policy

from .pgcluster import PgCluster, why_unavailable

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
    nemo_client_factory: Callable[..., NemoClient], request: pytest.FixtureRequest
) -> Callable[..., NemoClient]:
    """Clients for the sandbox; in a test that takes ``ledger``, their journal is that ledger."""
    if "ledger" not in request.fixturenames:
        return nemo_client_factory
    ledger = request.getfixturevalue("ledger")

    def factory(**settings: Any) -> NemoClient:
        settings.setdefault("journal_path", ledger)
        return nemo_client_factory(**settings)

    return factory


@pytest.fixture
def sandbox_client(nemo_client: NemoClient) -> NemoClient:
    return nemo_client


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """A real PostgreSQL server for the session, on a free loopback port; removed at the end."""
    reason = why_unavailable()
    if reason is not None:
        pytest.skip(reason)
    cluster = PgCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def pg_url(pg_cluster: PgCluster) -> str:
    """A fresh, empty database of the session's cluster: ``postgresql://...``."""
    return pg_cluster.new_database()


@pytest.fixture(params=["sqlite", "postgres"])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """Where a test's journal lives: an SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        return tmp_path / "nemovideo" / "journal.db"
    return str(request.getfixturevalue("pg_url"))
