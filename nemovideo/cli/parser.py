"""The argument parser of ``nemovideo``: one sub-command per task."""

from __future__ import annotations

import argparse
from typing import Any

from nemovideo._version import __version__
from nemovideo.cli.exitcodes import EPILOG
from nemovideo.cli.queue import add_queue_commands
from nemovideo.cli.runtime import sandbox_option
from nemovideo.workflows.animate import RESOLUTIONS

__all__ = ["build_parser"]

_DESCRIPTION = (
    "Turn images into animated MP4s with NemoVideo, edit them by chat, export them.\n"
    "Settings come from the options, then NEMO_API_URL, NEMO_TOKEN, NEMO_WEB_URL, "
    "NEMO_CLIENT_ID.\nWithout a token an anonymous one (100 credits, 7 days) is used.\n"
    "Try it offline first: nemovideo animate photo.jpg --sandbox"
)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive: {text!r}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
    return value


def _add_common(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """Options every command takes, before or after its name.

    On sub-commands the defaults are suppressed, so that ``nemovideo --json credits`` is not
    undone by the sub-command's own default.
    """

    def default(value: Any) -> Any:
        return value if top else argparse.SUPPRESS

    group = parser.add_argument_group("common options")
    group.add_argument(
        "-q", "--quiet", action="store_true", default=default(False), help="no progress or notices"
    )
    group.add_argument(
        "--json",
        action="store_true",
        default=default(False),
        help="print one JSON object per result on stdout (for scripts)",
    )
    group.add_argument(
        "--debug", action="store_true", default=default(False), help="show tracebacks and logs"
    )
    group.add_argument(
        "--api-url", default=default(None), metavar="URL", help="API address (env NEMO_API_URL)"
    )
    group.add_argument(
        "--poll-interval",
        type=_positive_float,
        default=default(None),
        metavar="SECONDS",
        help="seconds between two status polls (default 30, as documented; the total wait "
        "stays the same)",
    )
    group.add_argument(
        "--token",
        default=default(None),
        metavar="TOKEN",
        help="bearer token; prefer the NEMO_TOKEN environment variable (not in the process list)",
    )


def _add_sandbox(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--sandbox",
        action="store_true",
        help='run against a local in-process sandbox (needs pip install "nemovideo[sandbox]")',
    )
    parser.add_argument(
        "--sandbox-option",
        type=sandbox_option,
        action="append",
        metavar="KEY=VALUE",
        help="a sandbox setting, e.g. initial_credits=0 or time_scale=0.001 (repeatable)",
    )


def _add_journal(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--journal",
        metavar="PATH",
        help="job journal file (default ~/.local/state/nemovideo/journal.db; none with --sandbox)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The ``nemovideo`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="nemovideo",
        description=_DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"nemovideo {__version__}")
    _add_common(parser, top=True)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(
            name,
            help=help_text,
            description=help_text,
            epilog=EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        _add_common(sub, top=False)
        return sub

    animate = command("animate", "turn one image into an animated MP4")
    animate.add_argument("image", help="a JPG/PNG/WEBP/HEIC file or an http(s) URL")
    animate.add_argument("prompt", nargs="?", help="what should move and how")
    animate.add_argument("-o", "--output", metavar="OUT", help="MP4 path or folder (default: .)")
    animate.add_argument(
        "--duration", type=_positive_float, default=5.0, help="seconds (default 5)"
    )
    animate.add_argument("--resolution", choices=RESOLUTIONS, default="1080p", help="default 1080p")
    _add_sandbox(animate)
    _add_journal(animate)

    batch = command("batch", "animate every image of a folder or glob pattern")
    batch.add_argument("source", metavar="DIR_OR_GLOB", help='a folder, or a pattern ("*.jpg")')
    batch.add_argument("-o", "--output-dir", metavar="OUTDIR", default=".", help="default: .")
    batch.add_argument(
        "--concurrency", type=_positive_int, default=4, help="images at once (default 4)"
    )
    batch.add_argument("--prompt", help="the same prompt for every image")
    batch.add_argument("--duration", type=_positive_float, default=5.0, help="seconds")
    batch.add_argument("--resolution", choices=RESOLUTIONS, default="1080p")
    _add_sandbox(batch)
    _add_journal(batch)

    chat = command("chat", "talk with the NemoVideo agent (type exit or quit to leave)")
    chat.add_argument("--session", metavar="ID", help="continue this session (default: new)")
    chat.add_argument(
        "-o", "--output-dir", metavar="DIR", default=".", help="where exports are saved"
    )
    chat.add_argument(
        "--still-working-every",
        type=_positive_float,
        metavar="SECONDS",
        help=argparse.SUPPRESS,  # for tests; by default 120 s of service time
    )
    _add_sandbox(chat)

    status = command("status", "show a session's timeline")
    status.add_argument("session_id", metavar="SESSION_ID")

    credits = command("credits", "show the credit balance")
    _add_sandbox(credits)

    export = command("export", "render a session's timeline to MP4 and download it")
    export.add_argument("session_id", metavar="SESSION_ID")
    export.add_argument("-o", "--output", metavar="OUT", help="MP4 path or folder (default: .)")

    resume = command("resume", "finish the work an interrupted run left in the journal")
    resume.add_argument("-o", "--output-dir", metavar="OUTDIR", help="for flows with no output")
    _add_journal(resume)

    sandbox = command("sandbox", "run a local NemoVideo sandbox until Ctrl-C")
    sandbox.add_argument("--host", default="127.0.0.1", help="default 127.0.0.1")
    sandbox.add_argument("--port", type=int, default=0, help="default: any free port")
    sandbox.add_argument(
        "--time-scale",
        type=_positive_float,
        default=1.0,
        help="real seconds per service second (default 1.0; 0.01 makes 200 s take 2 s)",
    )
    sandbox.add_argument("--seed", type=int, help="seed for reproducible runs")
    add_queue_commands(command)
    return parser
