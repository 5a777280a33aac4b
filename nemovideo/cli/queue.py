"""``nemovideo enqueue`` and ``nemovideo worker``: a PostgreSQL queue of images and its workers.

``enqueue`` adds one job per image the queue does not know yet and says how many were new;
``worker`` runs them with one client per process (the ``NEMO_*`` settings as usual), the flow
ledger in the queue's database unless ``--journal`` says otherwise. Both need the ``queue``
extra (procrastinate and psycopg): ``pip install "nemovideo[queue]"``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from nemovideo.cli.exitcodes import ExitCode
from nemovideo.cli.output import Console
from nemovideo.cli.runtime import open_client
from nemovideo.protocol.errors import ConfigurationError

__all__ = ["QUEUE_COMMANDS"]

_INSTALL_HINT = 'The queue commands need the "queue" extra: pip install "nemovideo[queue]"'


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
