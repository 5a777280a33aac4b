"""Commands against a running service (the ``nemo_sandbox`` fixture) via ``--api-url``.

The command runs in a worker thread with its own event loop while the sandbox keeps serving
on the test's loop. The token of every run is looked for in every output: it never appears.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import av
import pytest

from nemovideo import NemoClient
from nemovideo.cli.exitcodes import ExitCode
from nemovideo.workflows.conversation import converse
from nemovideo.workflows.journal import Journal

from .conftest import Result

ACli = Callable[[list[str]], Awaitable[Result]]
TOKEN = "nmv_usr_cli_tests_top_secret_0001"
#: The documented 30 s between polls, in the fixture sandbox's time (time_scale 0.001).
FAST_POLLS = ["--poll-interval", "0.03"]

pytestmark = pytest.mark.nemo_sandbox(tokens={TOKEN: "*"})


@pytest.fixture
def token_env(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("NEMO_TOKEN", TOKEN)
    return TOKEN


@pytest.fixture
async def client(nemo_sandbox: Any, tmp_path: Path) -> AsyncIterator[NemoClient]:
    async with NemoClient(
        base_url=nemo_sandbox.url,
        token=TOKEN,
        client_id_path=tmp_path / "cid",
        journal_path=None,
        poll_interval=0.01,
        max_polls=3000,
        time_scale=nemo_sandbox.options.time_scale,
    ) as made:
        yield made


async def _generated_session(client: NemoClient, image: Path) -> str:
    sid = (await client.session.create()).session_id
    await converse(client, sid, "animate it into a 5-second clip", files=[image])
    return sid


def _no_secret(result: Result, sandbox: Any) -> None:
    issued = list(sandbox.core.tokens)
    assert issued, "the sandbox knows the tokens it accepted"
    for token in issued:
        assert token not in result.both


async def test_status(
    acli: ACli, nemo_sandbox: Any, client: NemoClient, image: Path, token_env: str
) -> None:
    sid = await _generated_session(client, image)
    result = await acli(["status", sid, "--api-url", nemo_sandbox.url])
    assert result.code == 0, result.err
    assert result.out.startswith("Timeline (3 tracks): 1. Video: sunset.jpg (0-5s)")
    as_json = await acli(["status", sid, "--api-url", nemo_sandbox.url, "--json"])
    record = json.loads(as_json.out)
    assert record["tracks"] == 3 and record["exportable"] is True
    assert record["duration"] == 5.0
    _no_secret(result, nemo_sandbox)
    _no_secret(as_json, nemo_sandbox)


async def test_status_of_an_unknown_session(acli: ACli, nemo_sandbox: Any, token_env: str) -> None:
    result = await acli(["status", "123456789", "--api-url", nemo_sandbox.url])
    assert result.code == ExitCode.USAGE
    assert result.err.startswith("error: ") and "session" in result.err.lower()
    assert len(result.err.strip().splitlines()) == 1


async def test_export(
    acli: ACli, nemo_sandbox: Any, client: NemoClient, image: Path, tmp_path: Path, token_env: str
) -> None:
    sid = await _generated_session(client, image)
    out = tmp_path / "export.mp4"
    result = await acli(
        [
            "export",
            sid,
            "-o",
            str(out),
            "--api-url",
            nemo_sandbox.url,
            "--json",
            "--debug",
            *FAST_POLLS,
        ]
    )
    assert result.code == 0, result.err
    record = json.loads(result.out)
    assert record["path"] == str(out) and record["size"] == out.stat().st_size
    assert record["job_id"].startswith("render_")
    with av.open(str(out)) as container:
        assert container.streams.video[0].codec_context.name == "h264"
    assert len(nemo_sandbox.chat_deliveries) == 1  # the export sent no chat message
    assert "DEBUG nemovideo.http: POST" in result.err  # --debug shows the requests...
    _no_secret(result, nemo_sandbox)  # ...and no token, not even there


async def test_export_of_an_empty_session(
    acli: ACli, nemo_sandbox: Any, client: NemoClient, token_env: str
) -> None:
    sid = (await client.session.create()).session_id
    result = await acli(["export", sid, "--api-url", nemo_sandbox.url])
    assert result.code == ExitCode.USAGE
    assert result.err.startswith("error: There is nothing to export yet")


async def test_token_option_is_warned_about_and_never_shown(
    acli: ACli, nemo_sandbox: Any, client: NemoClient, image: Path
) -> None:
    sid = await _generated_session(client, image)
    result = await acli(["status", sid, "--api-url", nemo_sandbox.url, "--token", TOKEN, "--debug"])
    assert result.code == 0
    assert "prefer the NEMO_TOKEN environment variable" in result.err
    assert TOKEN not in result.both
    refused = await acli(
        ["credits", "--api-url", nemo_sandbox.url, "--token", TOKEN + "x", "--debug", "--json"]
    )
    assert refused.code == ExitCode.AUTH
    assert TOKEN not in refused.both


async def test_anonymous_token_is_never_shown(
    acli: ACli, nemo_sandbox: Any, image: Path, tmp_path: Path
) -> None:
    result = await acli(
        ["animate", str(image), "-o", str(tmp_path / "a.mp4"), "--api-url", nemo_sandbox.url,
         "--json", "--debug", *FAST_POLLS]
    )  # fmt: skip
    assert result.code == 0, result.err
    record = json.loads(result.out.strip().splitlines()[-1])
    assert "/workspace/claim?ct=clm_" in record["claim_url"]  # a claim token, not the bearer
    anonymous = [t for t in nemo_sandbox.core.tokens if t != TOKEN]
    assert anonymous
    _no_secret(result, nemo_sandbox)


async def test_resume_finishes_an_interrupted_flow(
    acli: ACli, nemo_sandbox: Any, image: Path, tmp_path: Path, token_env: str
) -> None:
    journal = Journal(tmp_path / "journal.jsonl")
    out = tmp_path / "resumed.mp4"
    # A run that stopped before its chat message: resume starts it over (nothing was paid).
    journal.record("flow1", "started", image=str(image), prompt="waves", output=str(out))
    result = await acli(
        [
            "resume",
            "--journal",
            str(journal.path),
            "--api-url",
            nemo_sandbox.url,
            "--json",
            *FAST_POLLS,
        ]
    )
    assert result.code == 0, result.err
    records = [json.loads(line) for line in result.out.strip().splitlines()]
    assert records[0]["ok"] is True and records[0]["path"] == str(out)
    assert records[-1] == {"summary": True, "done": 1, "failed": 0}
    assert out.stat().st_size > 1000
    assert journal.pending() == []
    again = await acli(["resume", "--journal", str(journal.path), "--api-url", nemo_sandbox.url])
    assert again.code == 0
    assert again.out.strip() == "Nothing to resume."
