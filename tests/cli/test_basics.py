"""The command line's surface: --version, --help, usage errors, exit codes, error lines."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nemovideo import (
    APITimeoutError,
    AuthenticationError,
    ConfigurationError,
    ExportBlockedError,
    FileTooLargeError,
    GenerationFailedError,
    InsufficientCreditsError,
    PermissionDeniedError,
    RateLimitedError,
    RenderFailedError,
    ServerError,
    SessionNotFoundError,
    StreamDisconnectedError,
    UnsupportedFileTypeError,
    __version__,
)
from nemovideo.cli import commands
from nemovideo.cli.exitcodes import ExitCode, exit_code_for
from nemovideo.protocol.errors import AgentError, APIStatusError

from .conftest import Result

Cli = Callable[[list[str]], Result]


def test_version(cli: Cli) -> None:
    result = cli(["--version"])
    assert result.code == 0
    assert result.out.strip() == f"nemovideo {__version__}"


def test_help_documents_every_exit_code(cli: Cli) -> None:
    result = cli(["--help"])
    assert result.code == 0
    assert "exit codes:" in result.out
    for code in ExitCode:
        assert f"  {code.value:<4} {code.meaning}\n" in result.out
    assert "  5    the file type is not accepted, or the file is too large" in result.out
    for command in ("animate", "batch", "chat", "status", "credits", "export", "resume"):
        assert command in result.out


def test_sub_command_help_has_the_epilog(cli: Cli) -> None:
    result = cli(["animate", "--help"])
    assert result.code == 0
    assert "--sandbox" in result.out and "exit codes:" in result.out


@pytest.mark.parametrize(
    "argv",
    [[], ["nonsense"], ["animate"], ["batch", "x", "--concurrency", "0"], ["animate", "a.jpg",
     "--resolution", "4k"]],
)  # fmt: skip
def test_usage_errors_exit_2(cli: Cli, argv: list[str]) -> None:
    result = cli(argv)
    assert result.code == ExitCode.USAGE
    assert "usage:" in result.err
    assert "Traceback" not in result.err


def test_missing_image_is_one_line_without_traceback(cli: Cli, tmp_path: Path) -> None:
    result = cli(["animate", str(tmp_path / "nope.jpg"), "--api-url", "http://127.0.0.1:9"])
    assert result.code == ExitCode.USAGE
    assert result.out == ""
    lines = result.err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: No such image file:") and "nope.jpg" in lines[0]


def test_unsupported_file_is_rejected_before_any_request(cli: Cli, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not an image")
    # Port 9 (discard) is never contacted: the check happens before any session is created.
    result = cli(["animate", str(notes), "--api-url", "http://127.0.0.1:9", "--json"])
    assert result.code == ExitCode.FILE_REJECTED
    assert result.err.startswith("error: 'notes.txt' has extension .txt")
    assert len(result.err.strip().splitlines()) == 1
    record = json.loads(result.out)
    assert record == {
        "ok": False,
        "error": "UnsupportedFileTypeError",
        "message": record["message"],
        "exit_code": 5,
    }


@pytest.mark.parametrize("url", ["ftp://example.com", "not a url", "http://example.com"])
def test_bad_api_url_is_a_configuration_error(cli: Cli, url: str) -> None:
    result = cli(["credits", "--api-url", url])
    assert result.code == ExitCode.USAGE
    assert result.err.startswith("error: ")
    assert len(result.err.strip().splitlines()) == 1
    assert "Traceback" not in result.err


def test_unreachable_service_is_a_network_error(
    cli: Cli, unused_tcp_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "nmv_usr_unreachable_secret_42"
    monkeypatch.setenv("NEMO_TOKEN", secret)  # skips the token request and its retries
    url = f"http://127.0.0.1:{unused_tcp_port}"
    # One run (the retries take a few seconds): --debug adds the traceback before the line.
    result = cli(["credits", "--api-url", url, "--debug", "--json"])
    assert result.code == ExitCode.SERVICE
    assert "Traceback" in result.err
    errors = [line for line in result.err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and errors[0].startswith("error: Could not connect")
    assert json.loads(result.out)["error"] == "APIConnectionError"
    assert secret not in result.both


def test_sandbox_with_api_url_is_refused(cli: Cli) -> None:
    result = cli(["credits", "--sandbox", "--api-url", "http://127.0.0.1:9"])
    assert result.code == ExitCode.USAGE
    assert "--sandbox" in result.err


def test_common_options_work_before_and_after_the_command(cli: Cli, tmp_path: Path) -> None:
    missing = str(tmp_path / "x.jpg")
    before = cli(["--json", "animate", missing])
    after = cli(["animate", missing, "--json"])
    assert before.code == after.code == ExitCode.USAGE
    assert '"ok": false' in before.out and '"ok": false' in after.out


def _raising(exc: BaseException) -> Any:
    async def command(args: Any, console: Any) -> int:
        raise exc

    return command


def test_interrupt_exits_130(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(commands.COMMANDS, "credits", _raising(KeyboardInterrupt()))
    result = cli(["credits"])
    assert result.code == ExitCode.INTERRUPTED == 130
    assert "Interrupted" in result.err and "Traceback" not in result.err


def test_unexpected_error_exits_1_and_debug_shows_the_traceback(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(commands.COMMANDS, "credits", _raising(RuntimeError("boom")))
    plain = cli(["credits"])
    assert plain.code == ExitCode.UNEXPECTED
    assert plain.err.strip() == (
        "error: unexpected RuntimeError: boom. Run again with --debug for details."
    )
    debug = cli(["credits", "--debug"])
    assert debug.code == ExitCode.UNEXPECTED
    assert "Traceback" in debug.err and "RuntimeError: boom" in debug.err


def test_sandbox_command_options(monkeypatch: pytest.MonkeyPatch) -> None:
    from nemovideo.cli.parser import build_parser
    from nemovideo.cli.serve import sandbox_options

    args = build_parser().parse_args(
        ["sandbox", "--port", "8123", "--time-scale", "0.05", "--seed", "3", "--credits", "7",
         "--token", "nmv_usr_mine_0001", "--sandbox-option", "silent_edit_ratio=0"]
    )  # fmt: skip
    assert (args.host, args.port) == ("127.0.0.1", 8123)
    assert sandbox_options(args) == {
        "time_scale": 0.05,
        "render_height": 1080,
        "initial_credits": 7,
        "registered_credits": 7,
        "seed": 3,
        "tokens": {"nmv_usr_mine_0001": "*"},
        "silent_edit_ratio": 0,
    }


def test_missing_sandbox_extra_is_a_friendly_error(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, image: Path
) -> None:
    monkeypatch.setitem(sys.modules, "nemovideo.sandbox", None)  # import now fails
    result = cli(["animate", str(image), "--sandbox"])
    assert result.code == ExitCode.USAGE
    assert 'pip install "nemovideo[sandbox]"' in result.err
    assert len(result.err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (ConfigurationError("x"), ExitCode.USAGE),
        (SessionNotFoundError(), ExitCode.USAGE),
        (APIStatusError("no route", http_status=404), ExitCode.USAGE),
        (AuthenticationError(), ExitCode.AUTH),
        (PermissionDeniedError(), ExitCode.AUTH),
        (InsufficientCreditsError(), ExitCode.CREDITS),
        (ExportBlockedError(), ExitCode.CREDITS),
        (UnsupportedFileTypeError(), ExitCode.FILE_REJECTED),
        (FileTooLargeError(), ExitCode.FILE_REJECTED),
        (RateLimitedError(), ExitCode.RATE_LIMITED),
        (ServerError(), ExitCode.SERVICE),
        (APITimeoutError(), ExitCode.SERVICE),
        (StreamDisconnectedError(delivered=True), ExitCode.SERVICE),
        (RenderFailedError(), ExitCode.FAILED),
        (GenerationFailedError(), ExitCode.FAILED),
        (AgentError("x"), ExitCode.FAILED),
        (KeyboardInterrupt(), ExitCode.INTERRUPTED),
        (ValueError("bug"), ExitCode.UNEXPECTED),
    ],
)
def test_exit_code_table(error: BaseException, code: ExitCode) -> None:
    assert exit_code_for(error) is code


def test_no_keep_editing_hint_for_a_session_that_dies_with_the_sandbox() -> None:
    from nemovideo import Video
    from nemovideo.cli.output import describe_video

    video = Video(size=10, session_id="42", task_id="t", job_id="render_1", summary="x")
    assert "nemovideo chat --session 42" in describe_video(video)
    assert "chat --session" not in describe_video(video, lasting_session=False)
