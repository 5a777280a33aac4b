"""``nemovideo enqueue`` and ``nemovideo worker``: a PostgreSQL queue of images and its workers.

``enqueue`` adds one job per image the queue does not know yet and says how many were new;
``worker`` runs them with one client per process (the ``NEMO_*`` settings as usual), the flow
ledger in the queue's database unless ``--journal`` says otherwise. Both need the ``queue``
extra (procrastinate and psycopg): ``pip install "nemovideo[queue]"``.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nemovideo.cli.exitcodes import ExitCode
from nemovideo.cli.output import Console
from nemovideo.cli.runtime import open_client
from nemovideo.protocol.errors import ConfigurationError
from nemovideo.workflows.animate import RESOLUTIONS

__all__ = ["QUEUE_COMMANDS", "add_queue_commands"]

_INSTALL_HINT = 'The queue commands need the "queue" extra: pip install "nemovideo[queue]"'


def _number(kind: type[float] | type[int]) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be positive: {text!r}")
        return value

    return parse


def _add_queue_url(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--queue",
        metavar="URL",
        default=os.environ.get("NEMO_QUEUE"),
        help="the queue's PostgreSQL database, postgresql://... (env NEMO_QUEUE)",
    )


def add_queue_commands(command: Callable[[str, str], argparse.ArgumentParser]) -> None:
    """Add ``enqueue`` and ``worker`` with the parser's own sub-command builder."""
    enqueue = command("enqueue", "add one queue job per image (skipping images already queued)")
    enqueue.add_argument("images", nargs="+", metavar="IMAGE", help="JPG/PNG/WEBP/HEIC files")
    _add_queue_url(enqueue)
    enqueue.add_argument("-o", "--output-dir", metavar="DIR", default=".", help="default: .")
    enqueue.add_argument("--prompt", help="the same prompt for every image")
    enqueue.add_argument("--duration", type=_number(float), default=5.0, help="seconds")
    enqueue.add_argument("--resolution", choices=RESOLUTIONS, default="1080p")

    worker = command("worker", "run queued jobs (one client per process) until stopped")
    _add_queue_url(worker)
    worker.add_argument(
        "--concurrency", type=_number(int), default=4, help="jobs at once (default 4)"
    )
    worker.add_argument(
        "--until-empty", action="store_true", help="exit 0 once no job waits or runs"
    )
    worker.add_argument(
        "--journal",
        metavar="PATH_OR_URL",
        help="the flow ledger (default: the queue's database, which every worker shares)",
    )
    worker.add_argument(
        "--stalled-after",
        type=_number(float),
        default=30.0,
        metavar="SECONDS",
        help="a worker silent this long is dead: its jobs are delivered again and its "
        "flows' leases lapse (default 30)",
    )
    worker.add_argument(
        "--time-scale",
        type=_number(float),
        help=argparse.SUPPRESS,  # for tests against a sandbox whose clock runs fast
    )


def _queue_url(args: argparse.Namespace) -> str:
    url = (args.queue or "").strip()
    if not url.lower().startswith(("postgresql://", "postgres://")):
        raise ConfigurationError(
            "Give the queue's database: --queue postgresql://user@host/db (or NEMO_QUEUE)."
        )
    return url


def _queue_module() -> Any:
    try:
        import nemovideo.queue as queue
    except ImportError as exc:
        raise ConfigurationError(f"{_INSTALL_HINT} ({exc})") from None
    return queue


def _check_inputs(images: list[str], output_dir: str) -> Path:
    for image in images:
        if not Path(image).is_file():
            raise ConfigurationError(f"No such image file: {image}. Check the path and try again.")
    folder = Path(output_dir)
    if not folder.is_dir():
        raise ConfigurationError(f"{folder} is not a folder: create it first.")
    return folder


async def enqueue(args: argparse.Namespace, console: Console) -> int:
    """``nemovideo enqueue IMAGES... --queue URL [-o DIR] [--prompt P]``."""
    url = _queue_url(args)
    folder = _check_inputs(args.images, args.output_dir)
    queue = _queue_module()
    report = await queue.enqueue(
        url, args.images, output_dir=folder, prompt=args.prompt, duration=args.duration,
        resolution=args.resolution,
    )  # fmt: skip
    console.result(
        f"{report.new} new job(s), {report.known} already queued",
        {"new": report.new, "known": report.known},
    )
    return ExitCode.OK


async def worker(args: argparse.Namespace, console: Console) -> int:
    """``nemovideo worker --queue URL [--concurrency N] [--until-empty]``."""
    url = _queue_url(args)
    queue = _queue_module()
    if getattr(args, "journal", None) is None:
        args.journal = url  # the ledger every worker shares: the queue's own database
    async with open_client(args, console) as (client, _):
        changes: dict[str, Any] = {"journal_lease": args.stalled_after}
        if args.time_scale is not None:
            changes["time_scale"] = args.time_scale
        flows = client.with_options(**changes)
        done = failed = 0

        def report(what: str, record: dict[str, Any]) -> None:
            nonlocal done, failed
            if what == "done":
                done += 1
                console.result(f"{record['image']} -> {record['path']}", {"ok": True, **record})
            else:
                failed += 1
                console.notice(f"{record['image']}: failed ({record['error']})")

        console.notice(
            f"Worker on {flows.journal.where if flows.journal else url}, "
            f"{args.concurrency} job(s) at a time" + (" until the queue is empty" if
            args.until_empty else "; Ctrl-C stops it")
        )  # fmt: skip
        await queue.run_worker(
            url, flows, concurrency=args.concurrency, until_empty=args.until_empty,
            stalled_after=args.stalled_after, report=report,
        )  # fmt: skip
    console.notice(f"Worker stopped: {done} done, {failed} failed here.")
    return ExitCode.OK


#: The queue's sub-commands, for the command table.
QUEUE_COMMANDS = {"enqueue": enqueue, "worker": worker}
