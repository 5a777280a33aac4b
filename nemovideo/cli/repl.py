"""``nemovideo chat``: a conversation with the agent, one line of stdin per turn.

Every line goes through :func:`nemovideo.workflows.conversation.converse`: "export",
"credits", "status" and "upload <file>" are answered directly, anything else goes to the
agent. A line naming existing files uploads them first; "new" starts a new session. While a
turn runs, "still working..." is printed every two minutes so that a person knows the work
goes on. On a terminal, lines can be edited and recalled (stdlib ``readline``, where it exists),
with the history kept in the state folder (``$XDG_STATE_HOME/nemovideo/chat_history``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import queue
import re
import shlex
import sys
import threading
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any, TextIO

from nemovideo.cli.commands import make_dir
from nemovideo.cli.exitcodes import ExitCode, cli_message, exit_code_for
from nemovideo.cli.output import Console
from nemovideo.cli.progress import ProgressDisplay, format_elapsed
from nemovideo.cli.runtime import open_client
from nemovideo.protocol.errors import AuthenticationError, NemoError, SessionNotFoundError
from nemovideo.protocol.intents import Intent, route
from nemovideo.workflows.conversation import Turn, converse, describe_export

__all__ = ["STILL_WORKING_EVERY", "chat", "history_path", "missing_files", "split_files"]

#: Seconds between two "still working..." notices (API.md: tell a waiting person every 2
#: minutes). Real seconds, also against a fast sandbox: the notice says how long *you* waited.
STILL_WORKING_EVERY = 120.0
_LEAVE = frozenset({"exit", "quit", ":q", "/exit", "/quit", "退出"})
_NEW = frozenset({"new", "/new"})
_PROMPT = "you> "
_HISTORY_LENGTH = 1000
_NEW_SESSION_HINT = 'Type "new" to start a new session, or "exit" to leave.'


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


def _tokens(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError:
        return text.split()


def missing_files(text: str) -> list[str]:
    """The words of ``text`` that name files (a path, or a name with an extension) that do
    not exist: ``"upload /nope.jpg"`` -> ``["/nope.jpg"]``."""
    missing = []
    for token in _tokens(text)[1:]:
        if ("/" in token or "\\" in token or Path(token).suffix) and not Path(
            token
        ).expanduser().exists():
            missing.append(token)
    return missing


def history_path(env: Mapping[str, str] | None = None) -> Path:
    """Where ``chat`` keeps its line history: ``$XDG_STATE_HOME/nemovideo/chat_history``
    (default ``~/.local/state/nemovideo/chat_history``), beside the journal."""
    env = os.environ if env is None else env
    base = env.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "nemovideo" / "chat_history"


@contextlib.contextmanager
def _line_editing(path: Path) -> Any:
    """Line editing and history with stdlib ``readline`` (absent on Windows: then nothing)."""
    try:
        import readline
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with contextlib.suppress(OSError):
        readline.read_history_file(path)
    readline.set_history_length(_HISTORY_LENGTH)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            path.parent.mkdir(parents=True, exist_ok=True)
            readline.write_history_file(path)


class _LineReader:
    """Lines of a text stream, each read by a daemon thread when asked for (a blocked read
    never delays exit). On a terminal ``input()`` reads them, so ``readline`` edits the line
    and shows the prompt."""

    def __init__(self, stream: TextIO, *, prompt: str | None = None) -> None:
        self._stream = stream
        self._prompt = prompt
        self._requests: queue.SimpleQueue[asyncio.Future[str | None]] = queue.SimpleQueue()
        self._loop = asyncio.get_running_loop()
        thread = threading.Thread(target=self._pump, name="nemovideo-stdin", daemon=True)
        thread.start()

    def _read(self) -> str | None:
        if self._prompt is not None:
            try:
                return input(self._prompt) + "\n"
            except EOFError:
                return None
        return self._stream.readline() or None

    def _pump(self) -> None:
        while True:
            future = self._requests.get()
            try:
                line = self._read()
            except (OSError, ValueError):
                line = None
            try:
                self._loop.call_soon_threadsafe(_settle, future, line)
            except RuntimeError:  # the loop is gone: the conversation ended
                return
            if line is None:
                return

    async def readline(self) -> str | None:
        """The next line, or ``None`` at end of input."""
        future: asyncio.Future[str | None] = self._loop.create_future()
        self._requests.put(future)
        return await future


def _settle(future: asyncio.Future[str | None], line: str | None) -> None:
    if not future.done():
        future.set_result(line)


@contextlib.asynccontextmanager
async def _still_working(
    console: Console, display: ProgressDisplay, every: float
) -> AsyncIterator[None]:
    started = time.monotonic()

    async def tell() -> None:
        while True:
            await asyncio.sleep(every)
            text = f"still working... ({format_elapsed(time.monotonic() - started)} so far)"
            if display.enabled:
                display.notice(console.redact(text))  # on its own line, never glued to a bar
            else:
                console.notice(text)

    task = asyncio.ensure_future(tell())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def turn_record(turn: Turn, text: str | None = None) -> dict[str, Any]:
    """A turn as a JSON-ready dict (``text``: what was shown, when it differs from the turn's)."""
    record: dict[str, Any] = {
        "intent": turn.intent.value,
        "text": turn.text if text is None else text,
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
    editing = _line_editing(history_path()) if interactive else contextlib.nullcontext()
    async with open_client(args, console) as (client, runtime):
        lasting = runtime.sandbox_url is None

        async def new_session() -> str:
            created = (await client.session.create()).session_id
            if lasting:
                later = f"continue it later: nemovideo chat --session {created}"
            else:
                later = "it ends with this sandbox, when you leave"
            console.notice(f"New session {created} ({later})")
            return created

        session_id: str = args.session or await new_session()
        unknown: NemoError | None = None
        if args.session:
            unknown = await _check_session(client, session_id, console, lasting)
        every = args.still_working_every or STILL_WORKING_EVERY
        console.notice(
            'Say what to make or change. "upload <file>" adds media, "status" shows the '
            'timeline, "export" saves the MP4, "new" starts a new session, "exit" leaves.'
        )
        with editing:
            reader = _LineReader(stream, prompt=_PROMPT if interactive else None)
            while True:
                line = await reader.readline()
                if line is None:
                    break
                text = line.strip()
                if not text:
                    continue
                if text.lower() in _LEAVE:
                    break
                if text.lower() in _NEW:
                    session_id, unknown = await new_session(), None
                    continue
                words, files = split_files(text)
                missing = missing_files(text) if route(text) is Intent.UPLOAD else []
                if missing and not files:
                    console.error(
                        f"error: No such file: {', '.join(missing)}. Check the path (quote "
                        "names with spaces) and try again."
                    )
                    continue
                try:
                    async with _still_working(console, display, every), display.ticking():
                        turn = await converse(
                            client,
                            session_id,
                            words,
                            files=files or None,
                            output=out_dir,
                            on_progress=display,
                        )
                except AuthenticationError:
                    raise  # every later turn would fail the same way
                except SessionNotFoundError as exc:
                    unknown = exc
                    console.error(f"error: {_session_message(exc, session_id, lasting)}")
                    console.notice(_NEW_SESSION_HINT)
                    continue
                except NemoError as exc:
                    console.error(f"error: {cli_message(exc, sandbox=not lasting)}")
                    continue
                if turn.intent is not Intent.CREDITS:  # the balance says nothing of a session
                    unknown = None
                text_out = turn.text
                if turn.job is not None:
                    text_out = describe_export(turn.job, turn.video_path)
                console.result(text_out, turn_record(turn, text_out))
                console.say("")  # a blank line between turns
    # Left while the session was still unknown: a script learns it from the exit code.
    return int(exit_code_for(unknown)) if unknown is not None else ExitCode.OK


def _session_message(error: SessionNotFoundError, session_id: str, lasting: bool) -> str:
    # Within chat, "new" starts a session (said on the next line), not another command.
    message = cli_message(error, sandbox=not lasting)
    message = message.replace(" Run `nemovideo chat` to start a new session.", "")
    return message.replace("The session was not found", f"Session {session_id} was not found", 1)


async def _check_session(
    client: Any, session_id: str, console: Console, lasting: bool
) -> SessionNotFoundError | None:
    """Look the ``--session`` up before the first line, so a typo is told at once."""
    try:
        await client.state.get(session_id)
    except SessionNotFoundError as exc:
        console.error(f"error: {_session_message(exc, session_id, lasting)}")
        console.notice(_NEW_SESSION_HINT)
        return exc
    return None
