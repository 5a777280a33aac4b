"""``nemovideo chat``: a conversation with the agent, one line of stdin per turn.

Every line goes through :func:`nemovideo.workflows.conversation.converse`: "export",
"credits", "status" and "upload <file>" are answered directly, anything else goes to the
agent. A line naming existing files uploads them first. While a turn runs, "still working..."
is printed every two minutes (of service time) so that a person knows the work goes on.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import shlex
import sys
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, TextIO

from nemovideo.cli.commands import make_dir
from nemovideo.cli.exitcodes import ExitCode
from nemovideo.cli.output import Console
from nemovideo.cli.progress import ProgressDisplay, format_elapsed
from nemovideo.cli.runtime import open_client
from nemovideo.protocol.errors import AuthenticationError, NemoError, SessionNotFoundError
from nemovideo.workflows.conversation import Turn, converse

__all__ = ["STILL_WORKING_EVERY", "chat", "split_files"]

#: Seconds of service time between two "still working..." notices (API.md: every 2 minutes).
STILL_WORKING_EVERY = 120.0
_LEAVE = frozenset({"exit", "quit", ":q", "/exit", "/quit", "退出"})
_PROMPT = "you> "


def split_files(text: str) -> tuple[str, list[Path]]:
    """The words without the names of existing files in them, and those files.

    Example: ``"upload photos/sunset.jpg"`` -> ``("upload", [Path("photos/sunset.jpg")])``.
    """
    try:
        tokens = shlex.split(text)
    except ValueError:  # an apostrophe ("don't") leaves a quote open
        tokens = text.split()
    files: list[Path] = []
    for token in tokens:
        looks_like_path = "/" in token or "\\" in token or Path(token).suffix
        if not looks_like_path:
            continue
        path = Path(token).expanduser()
        if path.is_file() and path not in files:
            files.append(path)
            quoted = "|".join(re.escape(q + token + q) for q in ('"', "'", ""))
            text = re.sub(quoted, " ", text, count=1)
    return " ".join(text.split()), files


class _LineReader:
    """Lines of a text stream, read by a daemon thread (a blocked read never delays exit)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._loop = asyncio.get_running_loop()
        thread = threading.Thread(target=self._pump, name="nemovideo-stdin", daemon=True)
        thread.start()

    def _pump(self) -> None:
        while True:
            try:
                line: str | None = self._stream.readline() or None
            except (OSError, ValueError):
                line = None
            try:
                self._loop.call_soon_threadsafe(self._queue.put_nowait, line)
            except RuntimeError:  # the loop is gone: the conversation ended
                return
            if line is None:
                return

    async def readline(self) -> str | None:
        """The next line, or ``None`` at end of input."""
        return await self._queue.get()


@contextlib.asynccontextmanager
async def _still_working(
    console: Console, every: float, time_scale: float = 1.0
) -> AsyncIterator[None]:
    started = time.monotonic()

    async def tell() -> None:
        while True:
            await asyncio.sleep(every)
            # In service time, so that a time-scaled sandbox reads like the real service.
            elapsed = format_elapsed((time.monotonic() - started) / time_scale)
            console.notice(f"still working... ({elapsed} so far)")

    task = asyncio.ensure_future(tell())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def turn_record(turn: Turn) -> dict[str, Any]:
    """A turn as a JSON-ready dict."""
    record: dict[str, Any] = {
        "intent": turn.intent.value,
        "text": turn.text,
        "session_id": turn.session_id,
        "changes": list(turn.changes),
        "suggestions": [s.value for s in turn.suggestions],
    }
    if turn.job is not None:
        record["job_id"] = turn.job.id
        record["duration"] = turn.job.duration
    if turn.video_path is not None:
        record["path"] = str(turn.video_path)
    if turn.credits is not None:
        record["credits"] = {"available": turn.credits.available, "frozen": turn.credits.frozen}
    if turn.upload is not None:
        record["uploaded"] = [f.filename for f in turn.upload.files]
    return record


async def chat(args: argparse.Namespace, console: Console, stdin: TextIO | None = None) -> int:
    """``nemovideo chat [--session ID]``: read lines until EOF, "exit" or "quit"."""
    stream = stdin if stdin is not None else sys.stdin
    interactive = bool(getattr(stream, "isatty", lambda: False)()) and not args.json
    out_dir = make_dir(args.output_dir)
    display = ProgressDisplay(console.err, enabled=not (args.quiet or args.json))
    async with open_client(args, console) as (client, runtime):
        session_id: str | None = args.session
        if not session_id:
            session = await client.session.create()
            session_id = session.session_id
            console.notice(
                f"New session {session_id} (continue it later: nemovideo chat --session "
                f"{session_id})"
            )
        every = args.still_working_every or STILL_WORKING_EVERY * runtime.time_scale
        console.notice(
            'Say what to make or change. "upload <file>" adds media, "status" shows the '
            'timeline, "export" saves the MP4, "exit" leaves.'
        )
        reader = _LineReader(stream)
        while True:
            if interactive:
                console.out.write(_PROMPT)
                console.out.flush()
            line = await reader.readline()
            if line is None:
                break
            text = line.strip()
            if not text:
                continue
            if text.lower() in _LEAVE:
                break
            words, files = split_files(text)
            try:
                async with (
                    _still_working(console, every, runtime.time_scale),
                    display.ticking(),
                ):
                    turn = await converse(
                        client,
                        session_id,
                        words,
                        files=files or None,
                        output=out_dir,
                        on_progress=display,
                    )
            except (SessionNotFoundError, AuthenticationError):
                raise  # every later turn would fail the same way
            except NemoError as exc:
                console.error(f"error: {exc.message}")
                continue
            console.result(turn.text, turn_record(turn))
            console.say("")  # a blank line between turns
    return ExitCode.OK
