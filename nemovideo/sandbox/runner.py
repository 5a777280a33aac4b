"""Running the sandbox from a shell until Ctrl-C: :func:`serve` and its argument parser."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from nemovideo.sandbox.server import Sandbox

__all__ = ["build_parser", "main", "serve"]


async def _serve(
    host: str, port: int, out: TextIO, ready: asyncio.Event | None, **options: Any
) -> None:
    async with Sandbox(host=host, port=port, **options) as sandbox:
        print(f"NemoVideo sandbox listening on {sandbox.url}", file=out)
        print(f"CDN (downloads, no token) on {sandbox.cdn_url}", file=out)
        print(f"Try: export NEMO_API_URL={sandbox.url}", file=out, flush=True)
        if ready is not None:
            ready.set()
        await asyncio.Event().wait()  # until cancelled (Ctrl-C)


def serve(host: str = "127.0.0.1", port: int = 0, **options: Any) -> None:
    """Run a sandbox in the foreground until Ctrl-C (blocking; starts its own event loop).

    Prints ``NemoVideo sandbox listening on <url>`` and the CDN URL. ``options`` are
    :class:`~nemovideo.sandbox.SandboxOptions` fields (``time_scale``, ``seed``, ...).
    """
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(host, port, sys.stdout, None, **options))


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m nemovideo.sandbox``."""
    parser = argparse.ArgumentParser(
        prog="python -m nemovideo.sandbox",
        description="Run a local NemoVideo service (API + CDN) for development and tests.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="API port (default: any free one)")
    parser.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="real seconds per simulated second (default 1.0; 0.01 makes a 200 s job take 2 s)",
    )
    parser.add_argument("--seed", type=int, default=None, help="seed for reproducible runs")
    parser.add_argument(
        "--render-height",
        type=int,
        default=1080,
        help="height of rendered MP4s, and the most a draft's resolution gets (default 1080)",
    )
    parser.add_argument(
        "--token",
        action="append",
        default=[],
        metavar="TOKEN",
        help="pre-register a token with all scopes (repeatable)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log sandbox events")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m nemovideo.sandbox``; returns the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)
    try:
        serve(
            args.host,
            args.port,
            time_scale=args.time_scale,
            seed=args.seed,
            render_height=args.render_height,
            tokens=dict.fromkeys(args.token, "*"),
        )
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
