"""Shared by the examples: a client for the real service, or for a local sandbox with --sandbox."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from nemovideo import NemoClient


@contextlib.asynccontextmanager
async def open_client(use_sandbox: bool, **settings: Any) -> AsyncIterator[NemoClient]:
    """``NemoClient()`` configured from the environment, or pointed at a fresh local sandbox."""
    if not use_sandbox:
        async with NemoClient(**settings) as client:
            yield client
        return
    from nemovideo.sandbox import Sandbox

    # A fast clock (generation takes seconds, not minutes), a real 720p render, and credits
    # for a batch (an anonymous token has 100, about one generation).
    async with Sandbox(
        time_scale=0.01, render_height=720, seed=1, initial_credits=10_000
    ) as sandbox:
        settings.setdefault("poll_interval", 0.3)
        settings.setdefault("time_scale", sandbox.options.time_scale)
        settings.setdefault("token_cache", False)  # a sandbox token is worth keeping nowhere
        settings.setdefault("max_polls", 1000)
        # The sandbox's sessions end with it: no journal to resume them from, and a client id
        # of its own, so that nothing is written to ~/.local/state or ~/.config.
        settings.setdefault("journal_path", None)
        settings.setdefault("client_id", "nemovideo-example-sandbox")
        async with NemoClient(base_url=sandbox.url, **settings) as client:
            yield client
