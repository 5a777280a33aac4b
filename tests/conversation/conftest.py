"""A client pointed at the ``nemo_sandbox`` fixture, with waits scaled down like its clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from nemovideo import NemoClient, RetryPolicy

ASSETS = Path(__file__).resolve().parents[2] / "examples" / "assets"


@pytest.fixture
def image() -> Path:
    """An example image shipped with the project."""
    path = ASSETS / "sunset.jpg"
    assert path.is_file(), "examples/assets/sunset.jpg is missing"
    return path


@pytest.fixture
async def client(nemo_sandbox: Any, tmp_path: Path) -> AsyncIterator[NemoClient]:
    async with NemoClient(
        base_url=nemo_sandbox.url,
        client_id_path=tmp_path / "cid",
        journal_path=tmp_path / "journal.jsonl",
        poll_interval=0.01,
        max_polls=3000,
        time_scale=nemo_sandbox.options.time_scale,
        retry=RetryPolicy(backoff_initial=0.005, backoff_max=0.05, rate_limit_wait=0.03),
    ) as made:
        yield made
