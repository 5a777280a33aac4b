"""Running the command line in-process, with settings isolated from the machine's."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs
import pytest

from nemovideo.cli import main

ASSETS = Path(__file__).resolve().parents[2] / "examples" / "assets"
#: Sandbox options for in-process ``--sandbox`` runs: fast clock, small renders.
FAST = ["--sandbox-option", "time_scale=0.001", "--sandbox-option", "render_height=144",
        "--sandbox-option", "seed=0"]  # fmt: skip


@attrs.frozen
class Result:
    code: int
    out: str
    err: str

    @property
    def both(self) -> str:
        return self.out + self.err


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No real token, client id or journal of the machine is read or written."""
    for name in ("NEMO_API_URL", "NEMO_TOKEN", "NEMO_WEB_URL", "NEMO_CLIENT_ID", "SKILL_SOURCE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))


@pytest.fixture
def image() -> Path:
    path = ASSETS / "sunset.jpg"
    assert path.is_file(), "examples/assets/sunset.jpg is missing"
    return path


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[[Sequence[str]], Result]:
    """``cli([...])`` runs ``main`` in this thread (for commands that bring their own loop)."""

    def run(argv: Sequence[str]) -> Result:
        code = main(list(argv))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@pytest.fixture
def acli(capsys: pytest.CaptureFixture[str]) -> Callable[[Sequence[str]], Any]:
    """``await acli([...])`` runs ``main`` in a worker thread, so that a sandbox started by
    the test's own event loop keeps serving while the command runs."""

    async def run(argv: Sequence[str]) -> Result:
        code = await asyncio.to_thread(main, list(argv))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run
