"""Write the command-line reference from the command line's own ``--help`` output.

Two ways to use it:

- as a MkDocs hook (``hooks: [scripts/gen_cli_docs.py]`` in ``mkdocs.yml``): on every page, the
  marker ``<!-- cli-help -->`` is replaced by the help of ``nemovideo`` and of each of its
  commands, when the site is built;
- as a script: ``python scripts/gen_cli_docs.py [-o FILE]`` prints (or writes) that Markdown.

The text is exactly what ``nemovideo.cli.main([..., "--help"])`` prints, so the page cannot
drift from the parser. When the command line cannot be imported or its help fails, the page
says so in a note instead of failing the build.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

__all__ = ["MARKER", "CliUnavailableError", "cli_reference", "main", "on_page_markdown"]

#: Where the generated reference goes in a page.
MARKER = "<!-- cli-help -->"

#: Help is wrapped at this width whatever the terminal building the docs, for stable pages.
WIDTH = 100

log = logging.getLogger("mkdocs.hooks.gen_cli_docs")

_ROOT = Path(__file__).resolve().parents[1]

# argparse lists sub-commands either under their metavar ("  COMMAND", then one command per
# line indented by four spaces) or as a choices line ("  {animate,batch,...}").
_CHOICES = re.compile(r"^  \{([\w,-]+)\}\s*$")
_METAVAR = re.compile(r"^  [A-Z][A-Z_]*\s*$")
_COMMAND_LINE = re.compile(r"^    ([a-z][\w-]*)(?:\s|$)")


class CliUnavailableError(RuntimeError):
    """The command line could not be imported, or its ``--help`` did not exit cleanly."""


def _load_main() -> Callable[[Sequence[str]], int | None]:
    if str(_ROOT) not in sys.path:
        sys.path.insert(0, str(_ROOT))  # the checkout's package, also when not installed
    try:
        from nemovideo import cli
    except Exception as exc:  # any import failure means: no reference in this build
        raise CliUnavailableError(f"importing nemovideo.cli failed ({exc!r})") from exc
    entry = getattr(cli, "main", None)
    if not callable(entry):
        raise CliUnavailableError("nemovideo.cli has no main() yet")
    return entry  # type: ignore[no-any-return]


@contextlib.contextmanager
def _fixed_width() -> Iterator[None]:
    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(WIDTH)  # argparse reads it through shutil.get_terminal_size
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = previous


def capture_help(entry: Callable[[Sequence[str]], int | None], command: Sequence[str]) -> str:
    """What ``nemovideo <command> --help`` prints on stdout."""
    out, err = io.StringIO(), io.StringIO()
    with _fixed_width(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = entry([*command, "--help"])
        except SystemExit as exc:  # a main() that lets argparse exit
            code = exc.code if isinstance(exc.code, int) else 1
    text = out.getvalue()
    if code not in (0, None) or not text.strip():
        shown = " ".join(["nemovideo", *command, "--help"])
        raise CliUnavailableError(f"`{shown}` exited with {code}: {err.getvalue().strip()[:300]}")
    return text.rstrip() + "\n"


def command_names(top_help: str) -> list[str]:
    """The sub-commands listed in the top-level help, in their order."""
    lines = top_help.splitlines()
    for index, line in enumerate(lines):
        choices = _CHOICES.match(line)
        if choices:
            return choices.group(1).split(",")
        if _METAVAR.match(line):
            names = []
            for follower in lines[index + 1 :]:
                if not follower.strip() or not follower.startswith("    "):
                    break
                found = _COMMAND_LINE.match(follower)
                if found:
                    names.append(found.group(1))
            if names:
                return names
    return []


def _section(title: str, text: str) -> str:
    return f"## `{title}`\n\n```text\n{text}```\n"


def cli_reference() -> str:
    """The Markdown reference: the top-level help, then each command's.

    Raises:
        CliUnavailableError: the command line is missing or its help failed.
    """
    entry = _load_main()
    top = capture_help(entry, [])
    sections = [_section("nemovideo", top)]
    for name in command_names(top):
        sections.append(_section(f"nemovideo {name}", capture_help(entry, [name])))
    return "\n".join(sections)


def unavailable_note(reason: str) -> str:
    """The note a page shows when the reference could not be generated."""
    return (
        '!!! warning "Command reference not generated in this build"\n'
        "    This page is written from `nemovideo --help` when the documentation is built, and "
        f"this build could not run it: {reason}. Run `nemovideo --help` (and "
        "`nemovideo COMMAND --help`) to read the same text.\n"
    )


def render() -> str:
    """The reference, or the note saying why there is none."""
    try:
        return cli_reference()
    except CliUnavailableError as exc:
        # Not a warning: a strict build must still pass while the command line is unfinished.
        log.info("CLI reference not generated: %s", exc)
        return unavailable_note(str(exc))


def on_page_markdown(markdown: str, **_: Any) -> str:
    """MkDocs hook: replace the marker with the generated reference."""
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, render())


def main(argv: Sequence[str] | None = None) -> int:
    """Print the reference (or write it with ``-o FILE``); exit 1 when it cannot be made."""
    parser = argparse.ArgumentParser(description="Write the nemovideo CLI reference (Markdown).")
    parser.add_argument("-o", "--output", type=Path, help="write here instead of stdout")
    args = parser.parse_args(argv)
    try:
        text = cli_reference()
    except CliUnavailableError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
