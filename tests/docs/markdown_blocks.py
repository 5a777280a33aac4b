"""Finding the Python code blocks of the documentation pages.

A block is a fenced block whose info string starts with ``python`` (or ``py``). A block whose
fence is preceded by the comment ``<!-- no-test -->`` (blank lines between are allowed) is
marked skipped: that is for code that cannot run in a test, such as a server that runs until
Ctrl-C.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import attrs

__all__ = ["DOCS", "NO_TEST", "Block", "defined_tests", "extract_blocks", "page_blocks", "pages"]

DOCS = Path(__file__).resolve().parents[2] / "docs"
NO_TEST = "<!-- no-test -->"

_OPENING = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_PYTHON = frozenset({"python", "py", "python3"})


@attrs.frozen
class Block:
    """One fenced Python block.

    Attributes:
        page: the Markdown file.
        line: the file's line number of the block's first code line (1-based).
        code: the code, with the fence's indentation removed.
        skipped: the block was marked ``<!-- no-test -->``.
    """

    page: Path
    line: int
    code: str
    skipped: bool = False

    @property
    def where(self) -> str:
        """``page.md:line``, relative to the docs folder when possible."""
        try:
            name = self.page.relative_to(DOCS).as_posix()
        except ValueError:
            name = self.page.name
        return f"{name}:{self.line}"

    def padded(self) -> str:
        """The code preceded by blank lines, so compiled line numbers are the file's."""
        return "\n" * (self.line - 1) + self.code


def _closes(line: str, fence: str) -> bool:
    stripped = line.strip()
    return (
        len(stripped) >= len(fence)
        and set(stripped) == {fence[0]}
        and stripped.startswith(fence[0] * len(fence))
    )


def _dedent(line: str, indent: str) -> str:
    return line[len(indent) :] if line.startswith(indent) else line.lstrip(" \t")


def extract_blocks(text: str, page: Path) -> list[Block]:
    """Every Python block of a Markdown text, in order."""
    lines = text.splitlines()
    blocks: list[Block] = []
    skip_next = False
    index = 0
    while index < len(lines):
        line = lines[index]
        opening = _OPENING.match(line)
        if opening is None or "`" in opening.group("info"):
            stripped = line.strip()
            if stripped == NO_TEST:
                skip_next = True
            elif stripped:
                skip_next = False  # the marker only applies to the very next block
            index += 1
            continue
        fence, indent = opening.group("fence"), opening.group("indent")
        words = opening.group("info").strip().split()
        language = words[0].lower() if words else ""
        end = index + 1
        while end < len(lines) and not _closes(lines[end], fence):
            end += 1
        if language in _PYTHON:
            body = [_dedent(raw, indent) for raw in lines[index + 1 : end]]
            blocks.append(Block(page, index + 2, "\n".join(body) + "\n", skip_next))
        skip_next = False
        index = end + 1
    return blocks


def pages(root: Path = DOCS) -> list[Path]:
    """The documentation's Markdown pages, sorted."""
    return sorted(root.rglob("*.md"))


def page_blocks(page: Path) -> list[Block]:
    """The Python blocks of one page."""
    return extract_blocks(page.read_text(encoding="utf-8"), page)


def defined_tests(block: Block) -> list[str]:
    """Names of the ``test_*`` functions a block defines at its top level (pytest examples)."""
    tree = ast.parse(block.code)
    return [
        node.name
        for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and node.name.startswith("test_")
    ]
