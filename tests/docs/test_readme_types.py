"""The README's Python blocks pass ``mypy --strict`` as a user's project would check them."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from .markdown_blocks import Block, extract_blocks

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"

#: A fragment (top-level ``await``/``async with``, a ``client`` from the text around it) is
#: checked as the body of a coroutine that is given that client.
_PRELUDE = "from nemovideo import NemoClient\n\n\nasync def snippet(client: NemoClient) -> None:\n"


def _module(block: Block) -> str:
    try:
        compile(block.code, block.where, "exec", dont_inherit=True)
    except SyntaxError:  # 'async with' or 'await' outside a function: a fragment
        return _PRELUDE + textwrap.indent(block.code, "    ")
    tree = ast.parse(block.code)
    defined = {
        n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
    }
    if "client" not in defined and any(
        isinstance(n, ast.Name) and n.id == "client" for n in ast.walk(tree)
    ):
        return _PRELUDE + textwrap.indent(block.code, "    ")
    return block.code


def test_readme_blocks_are_found() -> None:
    blocks = extract_blocks(README.read_text(encoding="utf-8"), README)
    assert len(blocks) >= 4


@pytest.mark.slow
def test_readme_python_blocks_pass_mypy_strict(tmp_path: Path) -> None:
    blocks = extract_blocks(README.read_text(encoding="utf-8"), README)
    files = []
    for index, block in enumerate(blocks):
        path = tmp_path / f"readme_block_{index}_line_{block.line}.py"
        path.write_text(_module(block), encoding="utf-8")
        files.append(str(path))
    config = tmp_path / "mypy.ini"
    config.write_text("[mypy]\nstrict = True\n", encoding="utf-8")
    env = {**os.environ, "MYPYPATH": str(ROOT)}
    done = subprocess.run(  # noqa: S603 - our own interpreter and mypy
        [sys.executable, "-m", "mypy", "--strict", "--python-version", "3.10",
         "--cache-dir", str(tmp_path / ".mypy_cache"), "--config-file", str(config),
         "--ignore-missing-imports", *files],
        capture_output=True, text=True, timeout=300, check=False, cwd=tmp_path, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
