"""The sub-commands that do one job and end: animate, batch, status, credits, export, resume."""

from __future__ import annotations

import argparse
import glob
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import attrs

from nemovideo.cli.exitcodes import ExitCode, exit_code_for
from nemovideo.cli.output import Console, describe_video, video_record
from nemovideo.cli.progress import ProgressDisplay
from nemovideo.cli.queue import QUEUE_COMMANDS
from nemovideo.cli.runtime import open_client, sandbox_class
from nemovideo.protocol.errors import ConfigurationError, NemoError
from nemovideo.protocol.intents import Intent
from nemovideo.workflows.batch import AnimateItem, BatchResult
from nemovideo.workflows.conversation import converse, describe_credits

__all__ = ["COMMANDS", "Command", "make_dir", "run_sandbox"]

#: A sub-command: parsed arguments and the console in, exit code out.
Command = Callable[[argparse.Namespace, Console], Coroutine[Any, Any, int]]

_IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".heic", ".gif")


def _check_image(image: str) -> None:
    is_url = image.lower().startswith(("http://", "https://"))
    if not is_url and not Path(image).is_file():
        raise ConfigurationError(f"No such image file: {image}. Check the path and try again.")


def make_dir(path: str | Path) -> Path:
    """Create a folder (and its parents) if needed; a file in the way is a usage error."""
    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise ConfigurationError(f"{folder} is a file, not a folder.") from None
    return folder


def _display(args: argparse.Namespace, console: Console) -> ProgressDisplay:
    return ProgressDisplay(console.err, enabled=not (args.quiet or args.json))


async def animate(args: argparse.Namespace, console: Console) -> int:
    """``nemovideo animate IMAGE [PROMPT] [-o OUT]``."""
    image: str = args.image
    _check_image(image)
    output = Path(args.output) if args.output else Path.cwd()
    display = _display(args, console)
    async with open_client(args, console) as (client, runtime), display.ticking():
        video = await client.animate(
            image,
            args.prompt,
            duration=args.duration,
            resolution=args.resolution,
            output=output,
            on_progress=display,
        )
    if runtime.sandbox_url is not None:
        # A sandbox claim link dies with the sandbox: showing it would only mislead.
        video = attrs.evolve(video, claim_url=None)
    lasting = runtime.sandbox_url is None
    console.result(describe_video(video, lasting_session=lasting), video_record(video, image=image))
    return ExitCode.OK


def _batch_images(source: str) -> list[Path]:
    path = Path(source)
    if path.is_dir():
        found = [p for p in sorted(path.iterdir()) if p.suffix.lower() in _IMAGE_EXTENSIONS]
        if not found:
            raise ConfigurationError(
                f"No images in {source} (looked for {', '.join(_IMAGE_EXTENSIONS)})."
            )
        return found
    matches = sorted(Path(p) for p in glob.glob(source) if Path(p).is_file())
    if not matches:
        raise ConfigurationError(
            f"Nothing matches {source!r}: give a folder of images or a pattern such as "
            '"photos/*.jpg" (quoted, so the shell leaves it alone).'
        )
    return matches


async def batch(args: argparse.Namespace, console: Console) -> int:
    """``nemovideo batch DIR_OR_GLOB [-o OUTDIR] [--concurrency N]``: results as they finish."""
    images = _batch_images(args.source)
    out_dir = make_dir(args.output_dir)
    items = [AnimateItem(str(image), args.prompt) for image in images]
    console.notice(f"Animating {len(items)} image(s), {args.concurrency} at a time...")
    first_error: NemoError | None = None
    async with open_client(args, console) as (client, runtime):
        run = client.animate_many(
            items,
            concurrency=args.concurrency,
            output_dir=out_dir,
            duration=args.duration,
            resolution=args.resolution,
        )
        finished = 0
        async for result in run:
            finished += 1
            if runtime.sandbox_url is not None and result.video is not None:
                result = attrs.evolve(result, video=attrs.evolve(result.video, claim_url=None))
            _report_item(console, result, f"[{finished}/{len(items)}]")
            if result.error is not None and first_error is None:
                first_error = result.error
        summary = run.summary
    console.notice(f"Batch finished: {summary}")
    console.result(
        f"{summary}",
        {"summary": True, "done": summary.done, "failed": summary.failed,
         "credits": summary.credits},
    )  # fmt: skip
    return ExitCode.OK if first_error is None else exit_code_for(first_error)


def _report_item(console: Console, result: BatchResult, counter: str) -> None:
    image = str(result.item.image)
    if result.video is not None:
        video = result.video
        console.result(
            f"{counter} ok     {image} -> {video.path} ({video.duration or 0:g} s)",
            video_record(video, image=image),
        )
        return
    error = result.error
    message = error.message if error is not None else "unknown error"
    name = type(error).__name__ if error is not None else "Error"
    console.result(
        f"{counter} failed {image}: {message}",
        {"ok": False, "image": image, "error": name, "message": message,
         "exit_code": int(exit_code_for(error)) if error is not None else 1},
    )  # fmt: skip


async def status(args: argparse.Namespace, console: Console) -> int:
    """``nemovideo status SESSION_ID``: the timeline summary."""
    async with open_client(args, console) as (client, _):
        turn = await converse(client, args.session_id, "status", intent=Intent.STATE)
    state = turn.state
    assert state is not None
    draft = state.draft
    console.result(
        turn.text,
        {"session_id": args.session_id, "task_id": state.task_id, "summary": turn.text,
         "tracks": len(draft.tracks), "duration": draft.duration_ms / 1000,
         "exportable": draft.is_exportable},
    )  # fmt: skip
    return ExitCode.OK


async def credits(args: argparse.Namespace, console: Console) -> int:
    """``nemovideo credits``: the balance."""
    async with open_client(args, console) as (client, _):
        balance = await client.credits.get()
    console.result(
        describe_credits(balance),
        {"available": balance.available, "frozen": balance.frozen, "total": balance.total},
    )
    return ExitCode.OK


async def export(args: argparse.Namespace, console: Console) -> int:
    """``nemovideo export SESSION_ID [-o OUT]``: render, wait, download."""
    output = Path(args.output) if args.output else Path.cwd()
    display = _display(args, console)
    async with open_client(args, console) as (client, _), display.ticking():
        turn = await converse(
            client,
            args.session_id,
            "export",
            intent=Intent.EXPORT,
            output=output,
            on_progress=display,
        )
    job = turn.job
    if job is None:
        raise ConfigurationError(turn.text)
    path = turn.video_path
    record: dict[str, Any] = {
        "ok": True,
        "path": str(path) if path is not None else None,
        "size": path.stat().st_size if path is not None else job.size,
        "duration": job.duration,
        "session_id": args.session_id,
        "job_id": job.id,
    }
    console.result(turn.text, record)
    return ExitCode.OK


async def resume(args: argparse.Namespace, console: Console) -> int:
    """``nemovideo resume [--journal PATH] [-o OUTDIR]``: finish interrupted flows."""
    if args.output_dir:
        make_dir(args.output_dir)
    first_error: NemoError | None = None
    async with open_client(args, console) as (client, _):
        journal = client.journal
        if journal is None:
            raise ConfigurationError("No journal to resume from: pass --journal PATH.")
        pending = journal.pending()
        if not pending:
            console.notice(f"Nothing to resume in {journal.where}.")
            console.result("Nothing to resume.", {"summary": True, "done": 0, "failed": 0})
            return ExitCode.OK
        console.notice(f"Resuming {len(pending)} unfinished flow(s) from {journal.where}...")
        results = await client.resume(journal, output_dir=args.output_dir)
    for index, result in enumerate(results, 1):
        _report_item(console, result, f"[{index}/{len(results)}]")
        if result.error is not None and first_error is None:
            first_error = result.error
    done = sum(1 for r in results if r.ok)
    console.result(
        f"{done} done, {len(results) - done} failed",
        {"summary": True, "done": done, "failed": len(results) - done},
    )
    return ExitCode.OK if first_error is None else exit_code_for(first_error)


def run_sandbox(args: argparse.Namespace, console: Console) -> int:
    """``nemovideo sandbox``: a local service in the foreground until Ctrl-C.

    Synchronous: :func:`nemovideo.sandbox.serve` runs its own event loop.
    """
    sandbox_class()  # the friendly error when the extra is missing
    from nemovideo.sandbox import serve

    options: dict[str, Any] = {"time_scale": args.time_scale}
    if args.seed is not None:
        options["seed"] = args.seed
    serve(args.host, args.port, **options)
    return ExitCode.OK


COMMANDS: dict[str, Command] = {
    "animate": animate,
    "batch": batch,
    "status": status,
    "credits": credits,
    "export": export,
    "resume": resume,
    **QUEUE_COMMANDS,
}
