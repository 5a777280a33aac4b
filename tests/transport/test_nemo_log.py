"""``NEMO_LOG=debug|info`` shows the SDK's logs on stderr with no code, and never the token."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from nemovideo.sandbox import Sandbox
from nemovideo.transport import logconfig

SECRET = "nmv_usr_nemolog_secret_value_123"

SCRIPT = """
import asyncio, sys
from nemovideo import NemoClient

async def main():
    async with NemoClient(sys.argv[1], token=sys.argv[2], journal_path=None) as client:
        await client.credits.get()

asyncio.run(main())
"""


@pytest.fixture
def fresh_nemo_log() -> Iterator[None]:
    """NEMO_LOG not applied yet in this process, and undone afterwards."""
    logconfig.reset()
    try:
        yield
    finally:
        logconfig.reset()


async def test_nemo_log_debug_prints_requests_on_stderr_without_the_token(
    nemo_sandbox: Sandbox, tmp_path: Path
) -> None:
    nemo_sandbox.register_token(SECRET)
    env = {
        **os.environ,
        "NEMO_LOG": "debug",
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        SCRIPT,
        nemo_sandbox.url,
        SECRET,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    text = err.decode()
    assert process.returncode == 0, text
    assert out == b""
    lines = [line for line in text.splitlines() if "nemovideo.http" in line]
    assert any(
        "DEBUG nemovideo.http: GET" in line and "/api/credits" in line and "-> 200" in line
        for line in lines
    ), text
    assert SECRET not in text


def test_without_nemo_log_nothing_is_configured(
    fresh_nemo_log: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NEMO_LOG", raising=False)
    sdk_logger = logging.getLogger("nemovideo")
    handlers, level = list(sdk_logger.handlers), sdk_logger.level
    assert logconfig.configure_from_environment() is None
    assert (sdk_logger.handlers, sdk_logger.level) == (handlers, level)


def test_nemo_log_applies_once_on_the_first_client(
    fresh_nemo_log: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from nemovideo import NemoClient

    monkeypatch.setenv("NEMO_LOG", "INFO")
    NemoClient("http://127.0.0.1:9", client_id_path=tmp_path / "id", journal_path=None)
    NemoClient("http://127.0.0.1:9", client_id_path=tmp_path / "id", journal_path=None)
    sdk_logger = logging.getLogger("nemovideo")
    ours = [h for h in sdk_logger.handlers if h.get_name() == logconfig.HANDLER_NAME]
    assert len(ours) == 1
    assert sdk_logger.level == logging.INFO


def test_an_unknown_level_is_reported_and_ignored(
    fresh_nemo_log: None, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="nemovideo"):
        assert logconfig.configure_from_environment({"NEMO_LOG": "loud"}) is None
    assert "NEMO_LOG='loud' is not one of debug, info" in caplog.text


@pytest.mark.parametrize(
    ("message", "args"),
    [
        ("headers: Authorization: Bearer %s", (SECRET,)),
        ("failed with token %s in it", (SECRET,)),
        ("authorization='bearer abc.def-ghi'", ()),
    ],
)
def test_the_handler_blanks_tokens_in_any_message(message: str, args: tuple[str, ...]) -> None:
    record = logging.LogRecord("nemovideo.x", logging.INFO, __file__, 1, message, args, None)
    assert logconfig.TokenFilter().filter(record)
    shown = record.getMessage()
    assert SECRET not in shown and "abc.def-ghi" not in shown
    assert "[redacted]" in shown
