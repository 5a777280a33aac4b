"""Griffe extension: render the reStructuredText habits of some docstrings as Markdown.

The docstrings are Google style, which mkdocstrings renders as Markdown, but a few habits come
from Sphinx and would show as noise:

- roles such as ``:class:`~nemovideo.Draft``` become inline code (``Draft``), as Sphinx shows
  them;
- a paragraph ending in ``::`` followed by an indented literal block becomes the paragraph and
  a fenced code block (``pycon`` for doctest prompts, ``python`` when it parses, else ``text``);
- a simple reStructuredText table (rows between ``==== ====`` borders) becomes a text block,
  which keeps its columns;
- a lone ``Example:`` heading becomes the ``Examples:`` section, so doctest prompts render as
  code instead of nested quotes;
- ``# doctest: +SKIP`` directives, meaningful to doctest only, are dropped.

The source files are not changed; only what the reference pages show.
"""

from __future__ import annotations

import ast
import re
import textwrap
from typing import Any

import griffe

__all__ = ["ReadableDocstrings", "readable"]

_ROLE = re.compile(r":(?:py:)?(?:class|meth|func|attr|data|mod|exc|obj|const):`(~?)([^`]+)`")
_EXAMPLE = re.compile(r"^(\s*)Example:\s*$")
_DOCTEST_FLAG = re.compile(r"\s+#\s*doctest:.*$")
_TABLE_BORDER = re.compile(r"^\s*=+(?:\s+=+)+\s*$")


def _role(match: re.Match[str]) -> str:
    short, target = match.group(1), match.group(2)
    return f"`{target.rsplit('.', 1)[-1] if short else target}`"


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _language(code: str) -> str:
    if code.lstrip().startswith(">>>"):
        return "pycon"
    try:
        ast.parse(code)
    except SyntaxError:
        return "text"
    return "python"


def _literal_block(lines: list[str], start: int, indent: int) -> tuple[list[str], int]:
    """The indented block after a ``::`` line, and the index of the first line after it."""
    end = start
    while end < len(lines) and not lines[end].strip():
        end += 1
    first = end
    while end < len(lines) and (not lines[end].strip() or _indent(lines[end]) > indent):
        end += 1
    body = lines[first:end]
    while body and not body[-1].strip():
        body.pop()
        end -= 1
    return body, end


def _undoctest(line: str) -> str:
    if line.lstrip().startswith((">>>", "...")):
        return _DOCTEST_FLAG.sub("", line)
    return line


def readable(text: str) -> str:
    """A docstring with the habits above turned into Markdown."""
    lines = _ROLE.sub(_role, text).splitlines()
    out: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.rstrip().endswith("::") and line.strip() != "::":
            margin = line[: _indent(line)]
            body, after = _literal_block(lines, index + 1, len(margin))
            if body:
                code = textwrap.dedent("\n".join(_undoctest(raw) for raw in body))
                out += [line.rstrip()[:-1], "", f"{margin}```{_language(code)}"]
                out += [f"{margin}{raw}" if raw.strip() else "" for raw in code.splitlines()]
                out += [f"{margin}```"]
                index = after
                continue
        if _TABLE_BORDER.match(line):
            margin = line[: _indent(line)]
            end = index
            while end < len(lines) and lines[end].strip():
                end += 1
            rows = [row for row in lines[index:end] if not _TABLE_BORDER.match(row)]
            out += [f"{margin}```text", *rows, f"{margin}```"]
            index = end
            continue
        heading = _EXAMPLE.match(line)
        out.append(f"{heading.group(1)}Examples:" if heading else _undoctest(line))
        index += 1
    return "\n".join(out)


class ReadableDocstrings(griffe.Extension):
    """Rewrites every docstring with :func:`readable` before it is parsed."""

    def on_instance(self, *, obj: griffe.Object, **_: Any) -> None:
        """Called by Griffe for each object it loads."""
        if obj.docstring is not None:
            obj.docstring.value = readable(obj.docstring.value)
