"""The argument parser of ``nemovideo``: one sub-command per task.

This module imports only the standard library and the command line's own light modules, so
that ``--help``, ``--version`` and every argument error answer at once: the client, aiohttp and
the sandbox are imported by the command handlers, after the arguments were accepted.
"""

from __future__ import annotations

import argparse
import os
from typing import Any, NoReturn

from nemovideo._version import __version__
from nemovideo.cli.exitcodes import EPILOG

__all__ = [
    "IMAGE_EXTENSIONS",
    "RESOLUTIONS",
    "SANDBOX_CREDITS",
    "SANDBOX_TIME_SCALE",
    "build_parser",
    "check_args",
    "sandbox_option",
]

#: The resolutions ``animate`` accepts (the same as ``nemovideo.workflows.animate.RESOLUTIONS``,
#: repeated here so that building the parser imports no workflow; a test keeps them equal).
RESOLUTIONS = ("480p", "720p", "1080p")
#: The images ``batch`` picks from a folder, and what ``animate`` takes for a second image.
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".heic", ".gif")
#: Real seconds per simulated second in a demo sandbox (``--sandbox`` and ``nemovideo
#: sandbox``): the 100-300 s of a generation take one to three seconds.
SANDBOX_TIME_SCALE = 0.01
#: Credits of every new token in a demo sandbox: a thousand generations, so demos never stop
#: at "out of credits" (the real service gives an anonymous token 100, about one generation).
SANDBOX_CREDITS = 100_000

_DESCRIPTION = (
    "Turn images into animated MP4s with NemoVideo, edit them by chat, export them.\n"
    "Settings come from the options, then NEMO_API_URL, NEMO_TOKEN, NEMO_WEB_URL, "
    "NEMO_CLIENT_ID.\nWithout a token an anonymous one (100 credits, 7 days) is used.\n"
    "Try it offline first: nemovideo animate photo.jpg --sandbox"
)
_SANDBOX_DEMO = (
    f"--sandbox starts a local NemoVideo inside the command, made for demos: a fast clock "
    f"(time scale {SANDBOX_TIME_SCALE:g}: a generation takes seconds), {SANDBOX_CREDITS:,} "
    f"credits, 1080p renders; it ends with the command."
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


def _natural(text: str) -> int:
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative: {text!r}")
    return value


def _port(text: str) -> int:
    value = _natural(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"not a port (0-65535): {text!r}")
    return value


def sandbox_option(text: str) -> tuple[str, Any]:
    """Parse ``KEY=VALUE`` (``initial_credits=0``, ``seed=3``) for a sandbox option."""
    key, sep, raw = text.partition("=")
    key = key.strip().replace("-", "_")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    value: Any = raw.strip()
    lowered = value.lower()
    if lowered in ("true", "false"):
        value = lowered == "true"
    else:
        for kind in (int, float):
            try:
                value = kind(value)
            except ValueError:
                continue
            break
    return key, value


# ---- option groups ---------------------------------------------------------------------------


def _default(value: Any, *, top: bool) -> Any:
    # On sub-commands the defaults are suppressed, so that `nemovideo --json credits` is not
    # undone by the sub-command's own default.
    return value if top else argparse.SUPPRESS


def _add_output_options(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """``--quiet``, ``--json``, ``--debug``: every command takes them, before or after its name."""
    group = parser.add_argument_group("output options")
    group.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=_default(False, top=top),
        help="no progress or notices",
    )
    group.add_argument(
        "--json",
        action="store_true",
        default=_default(False, top=top),
        help="print one JSON object per result on stdout (for scripts)",
    )
    group.add_argument(
        "--debug",
        action="store_true",
        default=_default(False, top=top),
        help="show tracebacks and logs",
    )


def _add_client_options(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """How to reach the service: for every command that talks to it."""
    group = parser.add_argument_group("service options")
    group.add_argument(
        "--api-url",
        default=_default(None, top=top),
        metavar="URL",
        help="API address (env NEMO_API_URL)",
    )
    group.add_argument(
        "--token",
        default=_default(None, top=top),
        metavar="TOKEN",
        help="bearer token; prefer the NEMO_TOKEN environment variable (not in the process list)",
    )
    group.add_argument(
        "--poll-interval",
        type=_positive_float,
        default=_default(None, top=top),
        metavar="SECONDS",
        help="seconds between two status polls (default 30, as documented; the total wait "
        "stays the same). Against `nemovideo sandbox`, 0.3",
    )
    group.add_argument(
        "--allow-insecure",
        action="store_true",
        default=_default(False, top=top),
        help="allow a plain http:// API address that is not on this machine (the token then "
        "crosses the network unencrypted)",
    )


def _add_sandbox_flag(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("sandbox (offline demo)")
    group.add_argument(
        "--sandbox",
        action="store_true",
        help="run against a local in-process sandbox: fast, plenty of credits, gone when the "
        'command ends (needs pip install "nemovideo[sandbox]")',
    )
    group.add_argument(
        "--sandbox-option",
        type=sandbox_option,
        action="append",
        metavar="KEY=VALUE",
        help=f"a sandbox setting (repeatable), e.g. initial_credits=0, time_scale=0.001, "
        f"render_height=360 (defaults: time_scale={SANDBOX_TIME_SCALE:g}, "
        f"initial_credits={SANDBOX_CREDITS})",
    )


def _add_journal(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--journal",
        metavar="PATH",
        help="job journal file (default $XDG_STATE_HOME/nemovideo/journal.db, else "
        "~/.local/state/nemovideo/journal.db; none with --sandbox)",
    )


def _add_force(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--force", action="store_true", help="overwrite an existing output file (default: never)"
    )


def _wrap(text: str, width: int = 79) -> str:
    """Greedy word wrap (``textwrap`` compiles regexes on import: too slow for ``--help``)."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return "\n".join([*lines, line])


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions as written; option help wrapped without importing ``textwrap``."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        return _wrap(text, width).splitlines()


# ---- the sub-commands ------------------------------------------------------------------------


def _command(
    commands: Any, name: str, help_text: str, *, client: bool = True, epilog: str = ""
) -> argparse.ArgumentParser:
    if epilog:
        epilog = "\n\n" + _wrap(epilog)
    sub: argparse.ArgumentParser = commands.add_parser(
        name,
        help=help_text,
        description=help_text + epilog,
        epilog=EPILOG,
        formatter_class=_HelpFormatter,
    )
    sub.set_defaults(command_parser=sub)
    if client:
        _add_client_options(sub, top=False)
    _add_output_options(sub, top=False)
    return sub


def _add_animate(commands: Any) -> None:
    sub = _command(commands, "animate", "turn one image into an animated MP4", epilog=_SANDBOX_DEMO)
    sub.add_argument("image", help="a JPG/PNG/WEBP/HEIC file or an http(s) URL")
    sub.add_argument(
        "prompt", nargs="*", help='what should move and how (quote it: "waves roll in")'
    )
    sub.add_argument(
        "-o",
        "--output",
        metavar="OUT",
        help="MP4 path or folder (default: the image's name as .mp4 in the current folder; "
        "sunset.jpg -> sunset.mp4, or sunset-1.mp4 if that exists)",
    )
    sub.add_argument("--duration", type=_positive_float, default=5.0, help="seconds (default 5)")
    sub.add_argument("--resolution", choices=RESOLUTIONS, default="1080p", help="default 1080p")
    _add_force(sub)
    _add_sandbox_flag(sub)
    _add_journal(sub)


def _add_batch(commands: Any) -> None:
    sub = _command(
        commands, "batch", "animate every image of a folder or glob pattern", epilog=_SANDBOX_DEMO
    )
    sub.add_argument(
        "sources",
        nargs="+",
        metavar="DIR_OR_GLOB",
        help='folders, patterns ("photos/*.jpg", quoted) or image files',
    )
    sub.add_argument("-o", "--output-dir", metavar="OUTDIR", default=".", help="default: .")
    sub.add_argument(
        "--concurrency", type=_positive_int, default=4, help="images at once (default 4)"
    )
    sub.add_argument("--prompt", help="the same prompt for every image")
    sub.add_argument("--duration", type=_positive_float, default=5.0, help="seconds")
    sub.add_argument("--resolution", choices=RESOLUTIONS, default="1080p")
    _add_force(sub)
    _add_sandbox_flag(sub)
    _add_journal(sub)


def _add_chat(commands: Any) -> None:
    sub = _command(
        commands,
        "chat",
        "talk with the NemoVideo agent (type exit or quit to leave, new for a new session)",
    )
    sub.add_argument("--session", metavar="ID", help="continue this session (default: new)")
    sub.add_argument("-o", "--output-dir", metavar="DIR", default=".", help="where exports go")
    sub.add_argument(
        "--still-working-every",
        type=_positive_float,
        metavar="SECONDS",
        help=argparse.SUPPRESS,  # for tests; by default every 120 s
    )
    _add_sandbox_flag(sub)


def _add_status(commands: Any) -> None:
    sub = _command(commands, "status", "show a session's timeline")
    sub.add_argument("session_id", metavar="SESSION_ID")


def _add_credits(commands: Any) -> None:
    sub = _command(commands, "credits", "show the credit balance")
    _add_sandbox_flag(sub)


def _add_export(commands: Any) -> None:
    sub = _command(commands, "export", "render a session's timeline to MP4 and download it")
    sub.add_argument("session_id", metavar="SESSION_ID")
    sub.add_argument("-o", "--output", metavar="OUT", help="MP4 path or folder (default: .)")
    _add_force(sub)


def _add_resume(commands: Any) -> None:
    sub = _command(commands, "resume", "finish the work an interrupted run left in the journal")
    sub.add_argument("-o", "--output-dir", metavar="OUTDIR", help="for flows with no output")
    _add_force(sub)
    _add_journal(sub)


def _add_auth(commands: Any) -> None:
    sub = _command(
        commands,
        "auth",
        "show the token commands use (status) or print the saved anonymous one (token)",
        epilog="`auth status` shows the token masked, its expiry and the balance. `auth token` "
        "prints the saved anonymous token itself, to put in NEMO_TOKEN elsewhere; it is the one "
        "command that prints a token.",
    )
    sub.add_argument("action", choices=("status", "token"), help="status (default) or token",
                     nargs="?", default="status")  # fmt: skip


def _number(kind: type[float] | type[int]) -> Any:
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


def _add_queue_commands(commands: Any) -> None:
    """``enqueue`` and ``worker`` (the ``queue`` extra; see :mod:`nemovideo.cli.queue`)."""

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        return _command(commands, name, help_text)

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


def _add_sandbox_command(commands: Any) -> None:
    sub = _command(
        commands,
        "sandbox",
        "run a local NemoVideo (API and CDN) until Ctrl-C",
        client=False,
        epilog=(
            "Made for trying things: by default its clock runs 100 times faster than the "
            f"service's and every new token gets {SANDBOX_CREDITS:,} credits. Point a client at "
            "it with NEMO_API_URL (and --poll-interval 0.3, since polls wait 30 s by default). "
            "One line per request goes to stderr (--quiet: none). Realistic timings: "
            "--time-scale 1 --credits 100."
        ),
    )
    sub.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    sub.add_argument("--port", type=_port, default=0, help="API port (default: any free one)")
    sub.add_argument(
        "--time-scale",
        type=_positive_float,
        default=SANDBOX_TIME_SCALE,
        help=f"real seconds per simulated second (default {SANDBOX_TIME_SCALE:g}: a 200 s "
        "generation takes 2 s; 1 is realistic)",
    )
    sub.add_argument(
        "--credits",
        type=_natural,
        default=SANDBOX_CREDITS,
        metavar="N",
        help=f"credits of every new token, anonymous or --token (default {SANDBOX_CREDITS})",
    )
    sub.add_argument(
        "--token",
        action="append",
        default=[],
        metavar="TOKEN",
        help="pre-register a token with all scopes (repeatable); clients then use NEMO_TOKEN",
    )
    sub.add_argument("--seed", type=int, default=None, help="seed for reproducible runs")
    sub.add_argument(
        "--render-height",
        type=_positive_int,
        default=1080,
        metavar="PIXELS",
        help="height of rendered MP4s (default 1080)",
    )
    sub.add_argument(
        "--sandbox-option",
        type=sandbox_option,
        action="append",
        metavar="KEY=VALUE",
        help="any other sandbox setting (repeatable), e.g. silent_edit_ratio=0 or "
        "render_failure_rate=0.5",
    )
    sub.add_argument(
        "-v", "--verbose", action="store_true", help="also log the sandbox's own events"
    )


def build_parser() -> argparse.ArgumentParser:
    """The ``nemovideo`` argument parser: the top level, then one step per sub-command."""
    parser = argparse.ArgumentParser(
        prog="nemovideo",
        description=_DESCRIPTION,
        epilog=EPILOG,
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"nemovideo {__version__}")
    _add_client_options(parser, top=True)
    _add_output_options(parser, top=True)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in (
        _add_animate,
        _add_batch,
        _add_chat,
        _add_status,
        _add_credits,
        _add_export,
        _add_resume,
        _add_auth,
        _add_queue_commands,
        _add_sandbox_command,
    ):
        add(commands)
    return parser


# ---- checks argparse cannot make -------------------------------------------------------------


def _looks_like_image(word: str) -> bool:
    if any(ch.isspace() for ch in word):  # a prompt, unless it names an existing image
        return word.lower().endswith(IMAGE_EXTENSIONS) and os.path.isfile(word)
    return word.lower().endswith(IMAGE_EXTENSIONS)


def _check_animate(args: argparse.Namespace, fail: Any) -> None:
    words: list[str] = args.prompt or []
    images = [word for word in words if _looks_like_image(word)]
    if images:
        given = [args.image, *images]
        shown = ", ".join(given[:4]) + (", ..." if len(given) > 4 else "")
        fail(
            f"animate takes one image and a prompt, but {len(given)} images were given "
            f"({shown}). If the shell expanded a pattern such as *.jpg, quote the glob or use "
            'batch: nemovideo batch "*.jpg" -o videos/'
        )
    args.prompt = " ".join(words) if words else None


def check_args(args: argparse.Namespace) -> None:
    """The checks argparse cannot express; a failure exits 2 with the command's usage line.

    Example: ``nemovideo animate a.jpg b.png`` (an unquoted ``*.jpg`` the shell expanded) is
    refused instead of animating ``a.jpg`` with the prompt "b.png".
    """
    sub: argparse.ArgumentParser | None = getattr(args, "command_parser", None)

    def fail(message: str) -> NoReturn:
        assert sub is not None
        sub.error(message)

    if args.command == "animate":
        _check_animate(args, fail)
