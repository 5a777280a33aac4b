"""Building the client a command runs with: the configured service, or an in-process sandbox."""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import attrs

from nemovideo.cli.output import Console
from nemovideo.cli.parser import SANDBOX_CREDITS, SANDBOX_TIME_SCALE, sandbox_option
from nemovideo.client import NemoClient
from nemovideo.protocol.errors import ConfigurationError

__all__ = [
    "SANDBOX_CREDITS",
    "SANDBOX_DEFAULTS",
    "SANDBOX_TIME_SCALE",
    "Runtime",
    "open_client",
    "sandbox_class",
    "sandbox_option",
]

#: The in-process sandbox of ``--sandbox`` is a demo: a fast clock (a whole animation, about 400
#: simulated seconds of generation and export, takes a few seconds), credits for a thousand
#: generations (an anonymous token of the real service has 100: one), full-size renders.
#: ``--sandbox-option KEY=VALUE`` overrides any of them.
SANDBOX_DEFAULTS: dict[str, Any] = {
    "time_scale": SANDBOX_TIME_SCALE,
    "initial_credits": SANDBOX_CREDITS,
    "render_height": 1080,
}
#: The documented polling: every 30 s, 10 times.
_DOCUMENTED_POLL = 30.0
_DOCUMENTED_WAIT = 300.0
_MIN_POLL_INTERVAL = 0.01
_INSTALL_HINT = 'The sandbox needs the "sandbox" extra: pip install "nemovideo[sandbox]"'


@attrs.frozen
class Runtime:
    """What a command runs with, besides the client.

    Attributes:
        time_scale: real seconds per service second (1.0, or the sandbox's scale), to scale
            "still working" notices.
        sandbox_url: the in-process sandbox's address, when ``--sandbox`` is used.
    """

    time_scale: float = 1.0
    sandbox_url: str | None = None


def sandbox_class() -> Any:
    """The :class:`~nemovideo.sandbox.Sandbox` class, or a friendly error without the extra."""
    try:
        from nemovideo.sandbox import Sandbox
    except ImportError as exc:
        missing = f" ({exc.name} is missing)" if exc.name else ""
        raise ConfigurationError(_INSTALL_HINT + missing) from None
    return Sandbox


def _settings(args: argparse.Namespace, *, sandbox_scale: float | None) -> dict[str, Any]:
    sandbox = sandbox_scale is not None
    settings: dict[str, Any] = {}
    journal = getattr(args, "journal", None)
    if journal is not None:
        settings["journal_path"] = journal  # a path, or a postgresql:// URL (kept as text)
    elif sandbox:
        # Sandbox sessions vanish with the process: resuming them later against the real
        # service could only fail, so a sandbox run keeps no journal unless asked to.
        settings["journal_path"] = None
    if getattr(args, "allow_insecure", False):
        settings["allow_insecure"] = True
    interval = getattr(args, "poll_interval", None)
    if interval is None and sandbox_scale is not None:
        # The documented 30 s in the sandbox's time, so waits keep their documented shape.
        interval = max(_MIN_POLL_INTERVAL, _DOCUMENTED_POLL * sandbox_scale)
    if sandbox_scale is not None:
        # The service's documented waits (generation recovery) pass at the sandbox's pace.
        settings["time_scale"] = sandbox_scale
    if interval is not None:
        # Polling more often must not shorten the documented total wait (10 polls of 30 s).
        settings["poll_interval"] = interval
        settings["max_polls"] = max(10, math.ceil(_DOCUMENTED_WAIT / interval))
    return settings


@contextlib.asynccontextmanager
async def open_client(
    args: argparse.Namespace, console: Console
) -> AsyncIterator[tuple[NemoClient, Runtime]]:
    """The client for ``args``: an in-process sandbox with ``--sandbox``, else the settings
    (``--api-url``/``--token``, then ``NEMO_API_URL``/``NEMO_TOKEN``/..., then defaults)."""
    token = getattr(args, "token", None)
    if token:
        console.add_secret(token)
        console.notice(
            "warning: --token is visible to other users of this machine (process list, shell "
            "history); prefer the NEMO_TOKEN environment variable."
        )
    console.add_secret(os.environ.get("NEMO_TOKEN"))
    if not getattr(args, "sandbox", False):
        client = NemoClient(
            base_url=args.api_url, token=token, **_settings(args, sandbox_scale=None)
        )
        async with client:
            yield client, Runtime()
        return
    if args.api_url or token:
        raise ConfigurationError("--sandbox runs a local service: leave out --api-url and --token.")
    sandbox_cls = sandbox_class()
    options: dict[str, Any] = dict(SANDBOX_DEFAULTS)
    options.update(dict(getattr(args, "sandbox_option", None) or ()))
    try:
        sandbox = sandbox_cls(**options)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"Bad --sandbox-option: {exc}") from None
    # The sandbox gets no real credentials: NEMO_* variables (a real token) are left out, and
    # a throw-away client id keeps the shared one in ~/.config untouched.
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEMO_")}
    with tempfile.TemporaryDirectory(prefix="nemovideo-sandbox-") as tmp:
        async with sandbox as sb:
            console.notice(f"Sandbox running at {sb.url} (a local stand-in for NemoVideo).")
            client = NemoClient(
                base_url=sb.url,
                env=env,
                client_id_path=Path(tmp) / "client_id",
                **_settings(args, sandbox_scale=sb.options.time_scale),
            )
            async with client:
                yield client, Runtime(time_scale=sb.options.time_scale, sandbox_url=sb.url)
