"""The sub-commands that do one job and end: animate, batch, status, credits, export, resume."""

from __future__ import annotations

import argparse
import glob
import inspect
import os
import tempfile
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import attrs

from nemovideo.cli.auth import auth
from nemovideo.cli.exitcodes import ExitCode, cli_message, exit_code_for
from nemovideo.cli.output import Console, describe_video, video_record
from nemovideo.cli.parser import IMAGE_EXTENSIONS
from nemovideo.cli.progress import BatchStatus, ProgressDisplay
from nemovideo.cli.queue import QUEUE_COMMANDS
from nemovideo.cli.runtime import open_client
from nemovideo.protocol.errors import ConfigurationError, NemoError
from nemovideo.protocol.intents import Intent
from nemovideo.workflows.batch import AnimateItem, BatchResult
from nemovideo.workflows.conversation import converse, describe_credits, describe_export

__all__ = ["COMMANDS", "Command", "make_dir", "overwrite_option", "unique_output"]

#: A sub-command: parsed arguments and the console in, exit code out.
Command = Callable[[argparse.Namespace, Console], Coroutine[Any, Any, int]]


def _check_image(image: str) -> None:
    if image.lower().startswith(("http://", "https://")):
        return
    path = Path(image).expanduser()
    if path.is_dir():
        raise ConfigurationError(
            f"{image} is a folder, not an image. To animate every image in it: "
            f"nemovideo batch {image} -o videos/"
        )
    if not path.is_file():
        raise ConfigurationError(f"No such image file: {image}. Check the path and try again.")


def make_dir(path: str | Path, *, option: str = "-o") -> Path:
    """Create a folder (and its parents) if needed and check that files can be written in it.

    Anything in the way (a file, a missing permission, a read-only disk) is a usage error that
    names the option to change, not a crash.
    """
    folder = Path(path).expanduser()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise ConfigurationError(
            f"Cannot use {folder} as the output folder: it (or a folder above it) is a file. "
            f"Choose another with {option}."
        ) from None
    except OSError as exc:
        raise ConfigurationError(
            f"Cannot create the output folder {folder}: {exc.strerror or exc}. Choose another "
            f"with {option}."
        ) from None
    try:  # root ignores permission bits: only writing tells
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise ConfigurationError(
            f"Cannot write to the output folder {folder}: {exc.strerror or exc}. Choose another "
            f"with {option}."
        ) from None
    return folder


def _stem_of(image: str) -> str:
    if image.lower().startswith(("http://", "https://")):
        name = unquote(urlsplit(image).path.rstrip("/").rsplit("/", 1)[-1])
    else:
        name = Path(image).name
    stem = Path(name).stem.strip()
    return stem or "video"


def unique_output(folder: Path, stem: str, taken: set[Path] | None = None) -> Path:
    """``folder/stem.mp4``, or ``stem-1.mp4``, ``stem-2.mp4``... when the name is taken (on
    disk, or in ``taken``: names already given to other items of the same run)."""
    taken = taken if taken is not None else set()
    candidate = folder / f"{stem}.mp4"
    number = 0
    while candidate.exists() or candidate in taken:
        number += 1
        candidate = folder / f"{stem}-{number}.mp4"
    taken.add(candidate)
    return candidate


def _output_file(image: str, output: str | None, *, force: bool) -> Path:
    """Where ``animate`` saves: the ``-o`` file, or a name derived from the image in the ``-o``
    folder (default: the current one). An existing file is overwritten only with ``--force``."""
    stem = _stem_of(image)
    if output is None:
        return unique_output(Path.cwd(), stem)
    target = Path(output).expanduser()
    if target.is_dir() or output.endswith(("/", os.sep)):
        folder = make_dir(target)
        return folder / f"{stem}.mp4" if force else unique_output(folder, stem)
    if target.exists() and not force:
        raise ConfigurationError(
            f"{target} already exists: pass --force to overwrite it, or choose another -o."
        )
    make_dir(target.parent if str(target.parent) else ".")
    return target


def overwrite_option(function: Callable[..., Any], force: bool) -> dict[str, Any]:
    """``{"overwrite": True}`` for ``--force`` when ``function`` takes ``overwrite``, else ``{}``.

    The SDK's "never overwrite" setting may not exist in the installed version: then the CLI's
    own check (refusing an existing ``-o`` file without ``--force``) is all there is, and the
    SDK replaces files as it always did.
    """
    if not force:
        return {}
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):
        return {}
    return {"overwrite": True} if "overwrite" in parameters else {}


def _display(args: argparse.Namespace, console: Console) -> ProgressDisplay:
    return ProgressDisplay(console.err, enabled=not (args.quiet or args.json))


async def animate(args: argparse.Namespace, console: Console) -> int:
    """``nemovideo animate IMAGE [PROMPT] [-o OUT]``."""
    from nemovideo.workflows.animate import animate as animate_flow

    image: str = args.image
    _check_image(image)
    output = _output_file(image, args.output, force=args.force)
    display = _display(args, console)
    async with open_client(args, console) as (client, runtime), display.ticking():
        video = await client.animate(
            image,
            args.prompt,
            duration=args.duration,
            resolution=args.resolution,
            output=output,
            on_progress=display,
            **overwrite_option(animate_flow, args.force),
        )
    if runtime.sandbox_url is not None:
        # A sandbox claim link dies with the sandbox: showing it would only mislead.
        video = attrs.evolve(video, claim_url=None)
    lasting = runtime.sandbox_url is None
    console.result(describe_video(video, lasting_session=lasting), video_record(video, image=image))
    return ExitCode.OK


def _images_in(source: str) -> list[Path]:
    path = Path(source).expanduser()
    if path.is_dir():
        found = [p for p in sorted(path.iterdir()) if p.suffix.lower() in IMAGE_EXTENSIONS]
        if not found:
            raise ConfigurationError(
                f"No images in {source} (looked for {', '.join(IMAGE_EXTENSIONS)})."
            )
        return found
    if path.is_file():
        return [path]
    matches = sorted(Path(p) for p in glob.glob(os.path.expanduser(source)) if Path(p).is_file())
    if not matches:
        raise ConfigurationError(
            f"Nothing matches {source!r}: give a folder of images or a pattern such as "
            '"photos/*.jpg" (quoted, so the shell leaves it alone).'
        )
    return matches


def _batch_images(sources: list[str]) -> list[Path]:
    images: list[Path] = []
    for source in sources:
        images.extend(p for p in _images_in(source) if p not in images)
    return images


async def batch(args: argparse.Namespace, console: Console) -> int:
    """``nemovideo batch DIR_OR_GLOB... [-o OUTDIR] [--concurrency N]``: results as they finish.

    Each video is named after its image (``sunset.jpg`` -> ``sunset.mp4``, ``sunset-1.mp4`` when
    taken). Credits are counted for the whole batch only: flows running side by side on one
    account cannot tell their shares, so the items' JSON records carry none.
    """
    from nemovideo.workflows.animate import animate as animate_flow

    images = _batch_images(args.sources)
    out_dir = make_dir(args.output_dir)
    taken: set[Path] = set()
    items = []
    for image in images:
        stem = _stem_of(str(image))
        target = out_dir / f"{stem}.mp4" if args.force else unique_output(out_dir, stem, taken)
        items.append(AnimateItem(str(image), args.prompt, target))
    console.notice(f"Animating {len(items)} image(s), {args.concurrency} at a time...")
    first_error: NemoError | None = None
    status = BatchStatus(
        console.err, len(items), args.concurrency, enabled=not (args.quiet or args.json)
    )
    async with open_client(args, console) as (client, runtime), status.ticking():
        sandbox = runtime.sandbox_url is not None
        run = client.animate_many(
            items,
            concurrency=args.concurrency,
            duration=args.duration,
            resolution=args.resolution,
            **overwrite_option(animate_flow, args.force),
        )
        async for result in run:
            if sandbox and result.video is not None:
                result = attrs.evolve(result, video=attrs.evolve(result.video, claim_url=None))
            status.clear()
            _report_item(console, result, f"[{status.finished + 1}/{len(items)}]", sandbox=sandbox)
            status.item_finished(ok=result.ok, credits=await _balance(client, status.enabled))
            if result.error is not None and first_error is None:
                first_error = result.error
        summary = run.summary
    console.result(
        f"{summary}",
        {"summary": True, "done": summary.done, "failed": summary.failed,
         "credits": summary.credits},
    )  # fmt: skip
    return ExitCode.OK if first_error is None else exit_code_for(first_error)


async def _balance(client: Any, wanted: bool) -> int | None:
    """The credits available now, for the status line; ``None`` when not shown or unknown."""
    if not wanted:
        return None
    try:
        balance = await client.credits.get()
    except NemoError:
        return None
    return int(balance.available)


def _report_item(
    console: Console, result: BatchResult, counter: str, *, sandbox: bool = False
) -> None:
    image = str(result.item.image)
    if result.video is not None:
        video = result.video
        record = video_record(video, image=image)
        # Per item the balance's drop would include the other items' charges: the batch's
        # summary record has the total instead.
        record.pop("credits_spent", None)
        console.result(
            f"{counter} ok     {image} -> {video.path} ({video.duration or 0:g} s)", record
        )
        return
    error = result.error
    message = cli_message(error, sandbox=sandbox) if error is not None else "unknown error"
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


def _export_output(output: str | None, *, force: bool) -> Path:
    if output is None:
        return Path.cwd()
    target = Path(output).expanduser()
    if target.is_dir() or output.endswith(("/", os.sep)):
        return make_dir(target)
    if target.exists() and not force:
        raise ConfigurationError(
            f"{target} already exists: pass --force to overwrite it, or choose another -o."
        )
    make_dir(target.parent if str(target.parent) else ".")
    return target


async def export(args: argparse.Namespace, console: Console) -> int:
    """``nemovideo export SESSION_ID [-o OUT]``: render, wait, download."""
    output = _export_output(args.output, force=args.force)
    display = _display(args, console)
    async with open_client(args, console) as (client, _), display.ticking():
        turn = await converse(
            client,
            args.session_id,
            "export",
            intent=Intent.EXPORT,
            output=output,
            on_progress=display,
            **overwrite_option(converse, args.force),
        )
    job = turn.job
    if job is None:
        raise ConfigurationError(turn.text)
    path = turn.video_path
    size = path.stat().st_size if path is not None else job.size
    record: dict[str, Any] = {
        "ok": True,
        "path": str(path) if path is not None else None,
        "size": size,
        "duration": job.duration,
        "session_id": args.session_id,
        "job_id": job.id,
    }
    console.result(describe_export(job, path), record)
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
        results = await client.resume(
            journal,
            output_dir=args.output_dir,
            **overwrite_option(client.resume, args.force),
        )
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


COMMANDS: dict[str, Command] = {
    "auth": auth,
    "animate": animate,
    "batch": batch,
    "status": status,
    "credits": credits,
    "export": export,
    "resume": resume,
    **QUEUE_COMMANDS,
}
