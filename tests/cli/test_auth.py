"""The saved anonymous token across processes, and `nemovideo auth status|token`."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import sys
from pathlib import Path
from typing import Any

import pytest


async def _run(home: Path, *argv: str) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEMO_", "XDG_"))}
    env["HOME"] = str(home)
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "nemovideo", *argv, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(child.communicate(), 120)
    assert child.returncode is not None
    return child.returncode, out.decode(), err.decode()


@pytest.mark.nemo_sandbox(repeat_token="refuse")
async def test_two_cli_processes_share_one_token_and_auth_shows_it_on_purpose(
    nemo_sandbox: Any, tmp_path: Path
) -> None:
    url = nemo_sandbox.url
    for _ in range(2):  # a second token request would be refused (429) by this sandbox
        code, out, err = await _run(tmp_path, "credits", "--api-url", url)
        assert code == 0, err
    token_requests = [r for r in nemo_sandbox.requests if r.route == "token"]
    assert len(token_requests) == 1
    token_file = tmp_path / ".config" / "nemovideo" / "anonymous_token.json"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600

    code, out, err = await _run(tmp_path, "auth", "token", "--api-url", url)
    assert code == 0, err
    token = out.strip()
    assert token and token in token_file.read_text()

    code, out, err = await _run(tmp_path, "auth", "status", "--api-url", url, "--json")
    assert code == 0, err
    status = json.loads(out)
    assert status["source"] == "saved" and status["credits"] >= 0
    assert token not in out + err and status["token"] != token
    code, out, err = await _run(tmp_path, "auth", "--api-url", url)
    assert code == 0 and "saved by this SDK" in out and token not in out + err
    assert len([r for r in nemo_sandbox.requests if r.route == "token"]) == 1
