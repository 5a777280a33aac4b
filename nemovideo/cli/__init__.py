"""The ``nemovideo`` command line (also ``python -m nemovideo``).

Commands::

    nemovideo animate IMAGE [PROMPT] [-o out.mp4] [--duration 5] [--resolution 1080p] [--sandbox]
    nemovideo batch DIR_OR_GLOB [-o OUTDIR] [--concurrency 4] [--prompt ...] [--sandbox]
    nemovideo chat [--session ID] [--sandbox]
    nemovideo status SESSION_ID
    nemovideo credits
    nemovideo export SESSION_ID [-o out.mp4]
    nemovideo resume [--journal PATH] [-o OUTDIR]
    nemovideo sandbox [--host 127.0.0.1] [--port 0] [--time-scale X]

Every command also takes ``--json`` (one JSON object per result on stdout), ``--quiet`` (no
progress), ``--debug`` (tracebacks), ``--api-url`` and ``--token`` (prefer ``NEMO_TOKEN``).
Results go to stdout; progress, notices and errors to stderr. An error is one line saying what
to do, without a traceback unless ``--debug``. The bearer token is never printed.

Exit codes:

==== ==========================================================================
0    everything worked
1    an unexpected error (a bug): run again with ``--debug`` and report it
2    wrong arguments or settings: a missing file, a bad URL, an unknown session
3    the token is invalid, expired, or lacks a scope
4    out of credits, or export blocked on the free plan
5    the file type is not accepted, or the file is too large
6    rate limited: wait and try again
7    the service failed, the network broke, or something timed out
8    the render or the generation failed
130  interrupted (Ctrl-C); unfinished work is in the journal (``nemovideo resume``)
==== ==========================================================================

``batch`` and ``resume`` exit with the code of their first failed item, if any.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from nemovideo.cli.exitcodes import ExitCode, cli_message, exit_code_for

if TYPE_CHECKING:
    import argparse
    import logging

    from nemovideo.cli.output import Console

__all__ = ["ExitCode", "main"]

# Only the standard library and the parser's light modules are imported until the arguments are
# accepted: `--help`, `--version` and argument errors never load aiohttp or the client.


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); return the exit code.

    Example:
        >>> main(["--version"])  # doctest: +SKIP
        nemovideo 0.1.0
    """
    from nemovideo.cli.parser import build_parser, check_args

    parser = build_parser()
    try:
        args = parser.parse_args(list(argv) if argv is not None else None)
        check_args(args)
    except SystemExit as exc:  # --help, --version, or a usage error already printed
        return exc.code if isinstance(exc.code, int) else ExitCode.USAGE
    from nemovideo.cli.output import Console

    console = Console(sys.stdout, sys.stderr, json_mode=args.json, quiet=args.quiet)
    with _debug_logging(console, enabled=args.debug):
        try:
            return _run(args, console)
        except KeyboardInterrupt:
            journaled = args.command in ("animate", "batch", "resume") and not getattr(
                args, "sandbox", False
            )
            hint = " Unfinished work is in the journal: nemovideo resume" if journaled else ""
            console.error("Interrupted." + hint)
            return ExitCode.INTERRUPTED
        except Exception as exc:
            return _fail(
                console, exc, debug=args.debug, sandbox=bool(getattr(args, "sandbox", False))
            )


def _log_handler(console: Console) -> logging.Handler:
    """Log records on stderr, through the console, so that secrets are redacted there too."""
    import logging

    class ConsoleLogHandler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            try:
                console.error(self.format(record))
            except Exception:  # logging must never break the command
                self.handleError(record)

    handler = ConsoleLogHandler(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    return handler


@contextlib.contextmanager
def _debug_logging(console: Console, *, enabled: bool) -> Iterator[None]:
    if not enabled:
        yield
        return
    import logging

    logger = logging.getLogger("nemovideo")
    handler = _log_handler(console)
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


def _run(args: argparse.Namespace, console: Console) -> int:
    if args.command == "sandbox":
        from nemovideo.cli.serve import run_sandbox

        return run_sandbox(args, console)
    import asyncio

    if args.command == "chat":
        from nemovideo.cli.repl import chat

        return asyncio.run(chat(args, console))
    from nemovideo.cli.commands import COMMANDS

    return asyncio.run(COMMANDS[args.command](args, console))


def _fail(console: Console, exc: BaseException, *, debug: bool, sandbox: bool = False) -> int:
    code = exit_code_for(exc)
    if debug:
        import traceback

        console.error("".join(traceback.format_exception(exc)).rstrip())
    message = cli_message(exc, sandbox=sandbox)
    console.error(f"error: {message}")
    if console.json_mode:
        record: dict[str, Any] = {"ok": False, "error": type(exc).__name__, "message": message,
                                  "exit_code": int(code)}  # fmt: skip
        console.result("", record)
    return int(code)
