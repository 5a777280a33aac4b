"""``nemovideo sandbox``: a local NemoVideo in the foreground until Ctrl-C, one line per request.

Its defaults are made for trying things (a fast clock, plenty of credits); the options are those
of ``python -m nemovideo.sandbox`` plus ``--credits`` and ``--sandbox-option``. The service's
address goes to stdout (a JSON object with ``--json``), the request log to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import logging
import time
from collections.abc import Iterable, Sequence
from typing import Any

from nemovideo.cli.exitcodes import ExitCode
from nemovideo.cli.output import Console
from nemovideo.cli.runtime import sandbox_class
from nemovideo.protocol.errors import ConfigurationError

__all__ = ["RequestLog", "run_sandbox", "sandbox_options"]

_LOG_EVERY = 0.1  # seconds between two looks at the sandbox's request records


def sandbox_options(args: argparse.Namespace) -> dict[str, Any]:
    """The :class:`~nemovideo.sandbox.SandboxOptions` fields the arguments ask for."""
    options: dict[str, Any] = {
        "time_scale": args.time_scale,
        "render_height": args.render_height,
        "initial_credits": args.credits,
        "registered_credits": args.credits,
    }
    if args.seed is not None:
        options["seed"] = args.seed
    if args.token:
        options["tokens"] = dict.fromkeys(args.token, "*")
    options.update(dict(args.sandbox_option or ()))
    return options


class RequestLog:
    """Writes one line per finished request of a sandbox: time, method, path, status.

    The sandbox records every request (without secrets: header names only) when it arrives and
    fills in the status when the answer starts; :meth:`poll` writes the records whose status is
    known since the last call, in the order they arrived.
    """

    def __init__(self, console: Console, sources: Sequence[tuple[str, Iterable[Any]]]) -> None:
        self._console = console
        self._sources = sources
        self._seen: list[Any] = [None] * len(sources)  # the newest record taken from each
        self._waiting: list[tuple[str, Any]] = []

    def poll(self) -> None:
        """Write the lines of the requests answered since the last call."""
        for index, (origin, records) in enumerate(self._sources):
            fresh: list[Any] = []
            for record in reversed(list(records)):
                if record is self._seen[index]:
                    break
                fresh.append(record)
            if fresh:
                self._seen[index] = fresh[0]
                self._waiting.extend((origin, record) for record in reversed(fresh))
        still: list[tuple[str, Any]] = []
        for origin, record in self._waiting:
            if record.status:
                self._console.notice(self.line(origin, record))
            else:
                still.append((origin, record))
        self._waiting = still

    @staticmethod
    def line(origin: str, record: Any) -> str:
        """``12:00:01 api POST /run_sse 200`` (plus the injected fault, if any)."""
        stamp = time.strftime("%H:%M:%S")
        fault = f" (fault: {record.fault})" if record.fault else ""
        return f"{stamp} {origin} {record.method} {record.path} {record.status}{fault}"


async def _serve(args: argparse.Namespace, console: Console) -> None:
    sandbox_cls = sandbox_class()
    try:
        sandbox = sandbox_cls(host=args.host, port=args.port, **sandbox_options(args))
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"Bad sandbox setting: {exc}") from None
    try:
        await sandbox.start()
    except OSError as exc:
        await sandbox.close()
        raise _listen_error(args.host, args.port, exc) from None
    try:
        _banner(console, sandbox)
        log = RequestLog(
            console, [("api", sandbox.core.requests), ("cdn", sandbox.core.cdn_requests)]
        )
        while True:  # until Ctrl-C
            await asyncio.sleep(_LOG_EVERY)
            log.poll()
    finally:
        await sandbox.close()


def _listen_error(host: str, port: int, exc: OSError) -> ConfigurationError:
    if exc.errno == errno.EADDRINUSE:
        return ConfigurationError(
            f"Port {port} on {host} is already in use (another sandbox?). Choose another with "
            "--port, or --port 0 for any free port."
        )
    reason = exc.strerror or str(exc)
    return ConfigurationError(
        f"Cannot listen on {host}:{port}: {reason}. Check --host and --port (ports below 1024 "
        "need privileges)."
    )


def _banner(console: Console, sandbox: Any) -> None:
    opts = sandbox.options
    console.result(
        f"NemoVideo sandbox listening on {sandbox.url}",
        {"url": sandbox.url, "cdn_url": sandbox.cdn_url, "time_scale": opts.time_scale,
         "initial_credits": opts.initial_credits},
    )  # fmt: skip
    console.notice(f"CDN (downloads, no token) on {sandbox.cdn_url}")
    console.notice(
        f"Clock x{1 / opts.time_scale:g} (time scale {opts.time_scale:g}), "
        f"{opts.initial_credits:,} credits per new token. Ctrl-C stops it."
    )
    poll = max(0.01, round(30 * opts.time_scale, 2))
    console.notice(
        f"Try: NEMO_API_URL={sandbox.url} nemovideo animate photo.jpg --poll-interval {poll:g}"
    )


def run_sandbox(args: argparse.Namespace, console: Console) -> int:
    """``nemovideo sandbox``: serve until Ctrl-C (which is a normal end, exit 0)."""
    if args.verbose:
        logging.getLogger("nemovideo.sandbox").setLevel(logging.INFO)
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args, console))
    return ExitCode.OK
