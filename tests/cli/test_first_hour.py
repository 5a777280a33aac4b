"""A newcomer's first hour: demos that just work, errors in CLI terms, files named for people."""

from __future__ import annotations

import argparse
import errno
import io
import json
import shutil
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nemovideo import (
    AgentError,
    ConfigurationError,
    ExportBlockedError,
    GenerationFailedError,
    InsufficientCreditsError,
    SessionNotFoundError,
    StreamDisconnectedError,
)
from nemovideo.cli import commands
from nemovideo.cli.exitcodes import ExitCode, cli_message
from nemovideo.protocol import errors as error_module

from .conftest import ASSETS, FAST, Result

Cli = Callable[[list[str]], Result]


def _chat(cli: Cli, monkeypatch: pytest.MonkeyPatch, lines: str, *argv: str) -> Result:
    monkeypatch.setattr("sys.stdin", io.StringIO(lines))
    return cli(["chat", "--sandbox", *FAST, *argv])


# ---- 3. offline demos just work ---------------------------------------------------------------


def test_sandbox_batch_of_four_images_all_succeed(cli: Cli, tmp_path: Path) -> None:
    photos = tmp_path / "imgs"
    photos.mkdir()
    for name in ("a", "b", "c", "d"):
        shutil.copy(ASSETS / "sunset.jpg", photos / f"{name}.jpg")
    result = cli(["batch", str(photos), "-o", str(tmp_path / "out"), "--sandbox", *FAST])
    assert result.code == 0, result.both
    assert "Out of credits" not in result.both
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "a.mp4",
        "b.mp4",
        "c.mp4",
        "d.mp4",
    ]


def test_sandbox_chat_takes_several_edits(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, image: Path
) -> None:
    script = f"upload {image}\nanimate it\nadd a title 'Hello'\nmake it warmer\nexit\n"
    result = _chat(cli, monkeypatch, script)
    assert result.code == 0, result.both
    assert "error:" not in result.err
    assert "Out of credits" not in result.both


def test_out_of_credits_says_what_to_do_in_cli_terms(cli: Cli, image: Path, tmp_path: Path) -> None:
    result = cli(
        ["animate", str(image), "-o", str(tmp_path / "x.mp4"), "--sandbox", *FAST,
         "--sandbox-option", "initial_credits=0"]
    )  # fmt: skip
    assert result.code == ExitCode.CREDITS
    error = next(line for line in result.err.splitlines() if line.startswith("error:"))
    assert "nemovideo credits" in error
    assert "--sandbox-option initial_credits" in error
    assert "client." not in error


# ---- 4. `nemovideo sandbox` -----------------------------------------------------------------


def _option_strings(parser: argparse.ArgumentParser) -> set[str]:
    return {name for action in parser._actions for name in action.option_strings}


def _sandbox_parser() -> argparse.ArgumentParser:
    from nemovideo.cli.parser import build_parser

    parser = build_parser()
    args = parser.parse_args(["sandbox"])
    sub: argparse.ArgumentParser = args.command_parser
    return sub


def test_sandbox_command_has_every_option_of_python_m_nemovideo_sandbox() -> None:
    from nemovideo.sandbox.runner import build_parser as runner_parser

    missing = _option_strings(runner_parser()) - _option_strings(_sandbox_parser())
    assert missing == set()


def test_sandbox_help_lists_no_client_options(cli: Cli) -> None:
    result = cli(["sandbox", "--help"])
    assert result.code == 0
    listed = {line.split()[0].rstrip(",") for line in result.out.splitlines()
              if line.startswith("  -")}  # fmt: skip
    assert not listed & {"--api-url", "--poll-interval", "--allow-insecure"}
    assert "bearer token" not in result.out
    assert {"--credits", "--time-scale", "--token", "--render-height", "-v"} <= listed


def test_sandbox_command_has_demo_defaults() -> None:
    from nemovideo.cli.serve import sandbox_options

    options = sandbox_options(_sandbox_parser().parse_args([]))
    assert options["time_scale"] == 0.01
    assert options["initial_credits"] >= 10_000


def test_sandbox_on_a_port_in_use_exits_2(cli: Cli) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cli(["sandbox", "--port", str(port)])
    assert result.code == ExitCode.USAGE
    assert result.err.strip() == (
        f"error: Port {port} on 127.0.0.1 is already in use (another sandbox?). Choose another "
        "with --port, or --port 0 for any free port."
    )


def test_request_log_writes_one_line_per_answered_request() -> None:
    from nemovideo.cli.output import Console
    from nemovideo.cli.serve import RequestLog
    from nemovideo.sandbox import RequestRecord

    err = io.StringIO()
    api: list[Any] = []
    log = RequestLog(Console(io.StringIO(), err), [("api", api)])
    first = RequestRecord("POST", "/run_sse", "run_sse", 0, (), True, True)
    api.append(first)
    log.poll()
    assert err.getvalue() == ""  # not answered yet
    api.append(RequestRecord("GET", "/api/credits/balance/simple", "credits", 200, (), True, True))
    first.status = 200
    log.poll()
    log.poll()
    lines = [line.split(" ", 1)[1] for line in err.getvalue().splitlines()]
    assert lines == ["api POST /run_sse 200", "api GET /api/credits/balance/simple 200"]


# ---- 6. advice in CLI terms -------------------------------------------------------------------


def _every_error() -> list[BaseException]:
    made: list[BaseException] = []
    for name in error_module.__all__:
        cls = getattr(error_module, name)
        if isinstance(cls, type) and issubclass(cls, error_module.NemoError):
            made.append(cls())
    made += [
        StreamDisconnectedError(delivered=True),
        StreamDisconnectedError(),
        AgentError("boom", session_id="42"),
        GenerationFailedError(session_id="42"),
        InsufficientCreditsError(link="https://nemovideo.com/register?bind=anon_1"),
        ConfigurationError(
            "base_url http://example.com is plain HTTP: the token would cross the network "
            "unencrypted. Use https://, or pass allow_insecure=True if you really mean it."
        ),
        ConfigurationError(
            "The draft has no track with a segment, so there is nothing to export yet: generate "
            "or edit first (client.chat.send), then check client.state.get(...).draft."
        ),
        ConfigurationError("out.mp4 already exists; pass overwrite=True (CLI: --force) to "),
        InsufficientCreditsError(
            "Out of credits. The paid work is kept (flow f1, session_id 42): client.resume() "
            "or `nemovideo resume` finishes it without paying again."
        ),
        InsufficientCreditsError(
            "Out of credits. The paid work is on the service (flow f1, session_id 42, task_id "
            "t1), but no journal records it: finish it with client.render / client.state by hand."
        ),
    ]
    return made


@pytest.mark.parametrize("error", _every_error(), ids=lambda e: type(e).__name__)
def test_no_python_advice_reaches_the_command_line(error: BaseException) -> None:
    message = cli_message(error)
    for python in ("client.", "=True", "()", "_id)", "journal="):
        assert python not in message, message


def test_cli_advice_examples() -> None:
    assert "Run `nemovideo chat` to start a new session" in cli_message(SessionNotFoundError())
    assert "`nemovideo status 42`" in cli_message(GenerationFailedError(session_id="42"))
    assert "register" in cli_message(ExportBlockedError())
    insecure = next(e for e in _every_error() if "allow_insecure" in str(e))
    kept, lost = _every_error()[-2:]
    assert "`nemovideo resume` finishes it" in cli_message(kept)
    assert "`nemovideo resume` or" not in cli_message(kept)
    assert "`nemovideo export 42`" in cli_message(lost)
    assert "pass --allow-insecure" in cli_message(insecure)
    assert cli_message(insecure).startswith("The API address (--api-url or NEMO_API_URL)")


def test_allow_insecure_reaches_the_client(cli: Cli) -> None:
    from nemovideo.cli.runtime import _settings

    args = argparse.Namespace(allow_insecure=True, journal=None, poll_interval=None)
    assert _settings(args, sandbox_scale=None)["allow_insecure"] is True
    refused = cli(["credits", "--api-url", "http://example.com"])
    assert refused.code == ExitCode.USAGE
    assert "--allow-insecure" in refused.err and "allow_insecure=True" not in refused.err


def test_chat_in_the_sandbox_does_not_suggest_coming_back(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = _chat(cli, monkeypatch, "credits\n")
    assert result.code == 0
    assert "New session " in result.err
    assert "--session" not in result.err


def test_a_bad_session_does_not_end_the_chat(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    result = _chat(cli, monkeypatch, "status\nnew\nstatus\nexit\n", "--session", "404404")
    assert result.code == 0, result.both
    assert "Session 404404 was not found" in result.err
    assert 'Type "new" to start a new session' in result.err
    assert "New session " in result.err
    assert "Timeline (0 tracks): empty" in result.out


# ---- 8. misleading errors ---------------------------------------------------------------------


def test_a_folder_as_the_image_suggests_batch(cli: Cli, tmp_path: Path) -> None:
    result = cli(["animate", str(tmp_path), "--sandbox"])
    assert result.code == ExitCode.USAGE
    assert result.err.strip() == (
        f"error: {tmp_path} is a folder, not an image. To animate every image in it: "
        f"nemovideo batch {tmp_path} -o videos/"
    )


@pytest.mark.parametrize("count", [2, 3])
def test_an_unquoted_glob_is_refused_with_a_hint(cli: Cli, tmp_path: Path, count: int) -> None:
    images = [str(tmp_path / f"{n}.jpg") for n in range(count)]
    result = cli(["animate", *images, "--sandbox"])
    assert result.code == ExitCode.USAGE
    assert "quote the glob or use batch" in result.err
    assert "usage: nemovideo animate" in result.err


def test_an_unquoted_prompt_of_several_words_is_one_prompt() -> None:
    from nemovideo.cli.parser import build_parser, check_args

    args = build_parser().parse_args(["animate", "a.jpg", "waves", "roll", "in"])
    check_args(args)
    assert args.prompt == "waves roll in"


def test_an_unwritable_output_folder_exits_2(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(ASSETS / "sunset.jpg", tmp_path / "a.jpg")
    on_proc = cli(["batch", str(tmp_path), "-o", "/proc/nemovideo-out/x", "--sandbox"])
    assert on_proc.code == ExitCode.USAGE
    assert on_proc.err.startswith("error: Cannot create the output folder /proc/nemovideo-out/x")
    assert "Choose another with -o." in on_proc.err

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(Path, "mkdir", refuse)
    denied = cli(["batch", str(tmp_path), "-o", str(tmp_path / "new"), "--sandbox"])
    assert denied.code == ExitCode.USAGE
    assert "Permission denied. Choose another with -o." in denied.err
    assert "unexpected" not in denied.err


def test_chat_upload_of_a_missing_file_says_so(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    result = _chat(cli, monkeypatch, "upload /nope.jpg\nexit\n")
    assert result.code == 0
    assert "error: No such file: /nope.jpg." in result.err
    assert "Which file should I upload?" not in result.out


# ---- smaller ----------------------------------------------------------------------------------


def test_the_default_output_is_named_after_the_image(
    cli: Cli, image: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    first = cli(["-q", "animate", str(image), "--sandbox", *FAST])
    second = cli(["-q", "animate", str(image), "--sandbox", *FAST])
    assert first.code == second.code == 0, first.both + second.both
    assert sorted(p.name for p in tmp_path.glob("*.mp4")) == ["sunset-1.mp4", "sunset.mp4"]
    assert first.out.startswith(f"Saved {tmp_path / 'sunset.mp4'} (5 s, ")


def test_an_existing_output_is_replaced_only_with_force(
    cli: Cli, image: Path, tmp_path: Path
) -> None:
    out = tmp_path / "clip.mp4"
    out.write_bytes(b"precious")
    refused = cli(["animate", str(image), "-o", str(out), "--sandbox", *FAST])
    assert refused.code == ExitCode.USAGE
    assert "already exists: pass --force" in refused.err
    assert out.read_bytes() == b"precious"
    forced = cli(["-q", "animate", str(image), "-o", str(out), "--force", "--sandbox", *FAST])
    assert forced.code == 0, forced.both
    assert out.read_bytes()[4:8] == b"ftyp"


def test_force_passes_overwrite_only_where_the_sdk_takes_it() -> None:
    def old(image: str, *, output: str) -> None: ...

    def new(image: str, *, output: str, overwrite: bool = False) -> None: ...

    assert commands.overwrite_option(old, True) == {}
    assert commands.overwrite_option(new, True) == {"overwrite": True}
    assert commands.overwrite_option(new, False) == {}


def test_batch_json_items_carry_no_per_item_credits_and_the_summary_is_said_once(
    cli: Cli, tmp_path: Path
) -> None:
    shutil.copy(ASSETS / "sunset.jpg", tmp_path / "a.jpg")
    shutil.copy(ASSETS / "portrait.png", tmp_path / "b.png")
    as_json = cli(["batch", str(tmp_path), "-o", str(tmp_path / "o"), "--json", "--sandbox", *FAST])
    assert as_json.code == 0, as_json.both
    records = [json.loads(line) for line in as_json.out.splitlines()]
    assert all("credits_spent" not in r for r in records[:-1])
    assert records[-1]["summary"] is True and records[-1]["credits"] == 200
    text = cli(["batch", str(tmp_path), "-o", str(tmp_path / "t"), "--sandbox", *FAST])
    assert text.code == 0
    assert text.out.splitlines()[-1] == "2 done, 0 failed, 200 credits"
    assert "2 done, 0 failed, 200 credits" not in text.err


def test_export_sizes_use_the_cli_formatter() -> None:
    from nemovideo.protocol.models import RenderJob
    from nemovideo.workflows.conversation import describe_export

    job = RenderJob(id="render_1", duration=5.0, size=14_200)
    assert describe_export(job, None).startswith("The video is rendered (5 s, 14.2 KB)")
