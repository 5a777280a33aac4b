"""Commands run in-process with ``--sandbox``: animate, batch, chat, credits."""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import av
import pytest

from nemovideo.cli.exitcodes import ExitCode

from .conftest import ASSETS, FAST, Result

Cli = Callable[[list[str]], Result]


def _probe(path: Path) -> tuple[str, float, int]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return (
            stream.codec_context.name,
            float(container.duration or 0) / 1e6,
            stream.codec_context.height,
        )


def test_animate_json(cli: Cli, image: Path, tmp_path: Path) -> None:
    out = tmp_path / "clip.mp4"
    result = cli(["animate", str(image), "waves", "-o", str(out), "--sandbox", "--json", *FAST])
    assert result.code == 0, result.err
    lines = result.out.strip().splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["ok"] is True
    assert record["path"] == str(out)
    assert record["size"] == out.stat().st_size
    assert record["duration"] == pytest.approx(5.0, abs=0.3)
    assert record["session_id"] and record["task_id"] and record["job_id"].startswith("render_")
    assert record["claim_url"] is None  # a sandbox link would die with the sandbox
    assert _probe(out)[0] == "h264"
    assert "Traceback" not in result.err


def test_animate_text_and_progress(cli: Cli, image: Path, tmp_path: Path) -> None:
    result = cli(
        ["animate", str(image), "-o", str(tmp_path), "--duration", "3", "--sandbox", *FAST]
    )
    assert result.code == 0, result.err
    saved = list(tmp_path.glob("*.mp4"))
    assert len(saved) == 1
    assert result.out.startswith(f"Saved {saved[0]} (3 s, ")
    assert "Timeline (3 tracks)" in result.out
    assert "Sandbox running at http://127.0.0.1:" in result.err
    for stage in ("Uploading [", "Generating", "Rendering [", "Downloading [", "Done"):
        assert stage in result.err
    assert _probe(saved[0])[1] == pytest.approx(3.0, abs=0.3)


def test_quiet_hides_progress(cli: Cli, image: Path, tmp_path: Path) -> None:
    result = cli(["-q", "animate", str(image), "-o", str(tmp_path / "q.mp4"), "--sandbox", *FAST])
    assert result.code == 0
    assert result.err == ""
    assert result.out.startswith("Saved ")


def test_out_of_credits(cli: Cli, image: Path, tmp_path: Path) -> None:
    result = cli(
        ["animate", str(image), "-o", str(tmp_path / "x.mp4"), "--sandbox", *FAST,
         "--sandbox-option", "initial_credits=0"]
    )  # fmt: skip
    assert result.code == ExitCode.CREDITS
    errors = [line for line in result.err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "credits" in errors[0].lower()
    assert "Traceback" not in result.err
    assert not (tmp_path / "x.mp4").exists()


def test_bad_sandbox_option(cli: Cli, image: Path) -> None:
    result = cli(["credits", "--sandbox", "--sandbox-option", "no_such_thing=1"])
    assert result.code == ExitCode.USAGE
    assert result.err.startswith("error: Bad --sandbox-option")


def test_credits_in_the_sandbox(cli: Cli) -> None:
    # A demo sandbox: plenty of credits (the real anonymous token has 100).
    result = cli(["credits", "--sandbox", "--json", *FAST])
    assert result.code == 0
    assert json.loads(result.out) == {"available": 100_000, "frozen": 0, "total": 100_000}


def test_batch_folder(cli: Cli, tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy(ASSETS / "sunset.jpg", photos / "a.jpg")
    shutil.copy(ASSETS / "portrait.png", photos / "b.png")
    (photos / "notes.txt").write_text("ignored")
    out = tmp_path / "out"
    result = cli(
        ["batch", str(photos), "-o", str(out), "--concurrency", "2", "--sandbox", "--json", *FAST,
         "--sandbox-option", "initial_credits=1000"]
    )  # fmt: skip
    assert result.code == 0, result.err
    records = [json.loads(line) for line in result.out.strip().splitlines()]
    items, summary = records[:-1], records[-1]
    assert sorted(Path(r["image"]).name for r in items) == ["a.jpg", "b.png"]
    assert all(r["ok"] and Path(r["path"]).parent == out for r in items)
    # Credits are left out: with concurrent flows on one account, each flow's balance drop
    # includes the other's charge (the batch summary adds them up).
    assert {k: summary[k] for k in ("summary", "done", "failed")} == {
        "summary": True,
        "done": 2,
        "failed": 0,
    }
    assert len(list(out.glob("*.mp4"))) == 2


def test_batch_reports_failures_with_their_exit_code(cli: Cli, tmp_path: Path) -> None:
    shutil.copy(ASSETS / "sunset.jpg", tmp_path / "a.jpg")
    shutil.copy(ASSETS / "sunset.jpg", tmp_path / "b.jpg")
    result = cli(
        ["batch", str(tmp_path / "*.jpg"), "-o", str(tmp_path / "out"), "--concurrency", "1",
         "--sandbox", *FAST, "--sandbox-option", "initial_credits=100"]
    )  # fmt: skip
    # 100 credits pay for one generation only: the second item fails, and says why.
    assert result.code == ExitCode.CREDITS
    lines = result.out.strip().splitlines()
    assert sum(" ok " in line for line in lines) == 1
    assert sum(" failed " in line for line in lines) == 1
    assert lines[-1] == "1 done, 1 failed, 100 credits"


def test_batch_with_nothing_to_do(cli: Cli, tmp_path: Path) -> None:
    result = cli(["batch", str(tmp_path / "*.jpg"), "--sandbox"])
    assert result.code == ExitCode.USAGE
    assert result.err.startswith("error: Nothing matches")


def _chat(cli: Cli, monkeypatch: pytest.MonkeyPatch, lines: str, *argv: str) -> Result:
    monkeypatch.setattr("sys.stdin", io.StringIO(lines))
    return cli(["chat", "--sandbox", *FAST, *argv])


def test_chat_session(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, image: Path, tmp_path: Path
) -> None:
    exports = tmp_path / "exports"
    script = "\n".join(
        [
            "credits",
            "status",
            "upload",
            f"upload {image}",
            "",
            "animate it into a 4-second clip",
            "status",
            "export",
            "quit",
            "this line is never read",
        ]
    )
    result = _chat(cli, monkeypatch, script, "-o", str(exports), "--still-working-every", "0.02")
    assert result.code == 0, result.err
    out = result.out
    assert "You have 100000 credits available." in out
    assert "Timeline (0 tracks): empty" in out
    assert "Which file should I upload?" in out
    assert "Uploaded sunset.jpg (image)." in out
    assert "4-second" in out
    assert "Timeline (3 tracks)" in out
    saved = list(exports.glob("*.mp4"))
    assert len(saved) == 1 and f"Exported the video to {saved[0]}" in out
    assert _probe(saved[0])[1] == pytest.approx(4.0, abs=0.3)
    assert "New session " in result.err
    assert "still working..." in result.err


def test_chat_ends_at_end_of_input_and_prints_json(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = _chat(cli, monkeypatch, "积分\nwhat can you do?\n", "--json")
    assert result.code == 0
    records = [json.loads(line) for line in result.out.strip().splitlines()]
    assert [r["intent"] for r in records] == ["credits", "chat"]
    assert records[0]["credits"] == {"available": 100_000, "frozen": 0}
    assert "images" in records[1]["text"]


def test_chat_errors_do_not_end_the_conversation(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_text("x")
    result = _chat(cli, monkeypatch, f"upload {bad}\ncredits\nexit\n")
    assert result.code == 0
    assert "error: 'notes.txt' has extension .txt" in result.err
    assert "You have 100000 credits available." in result.out


def test_chat_with_an_unknown_session_goes_on(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    # Told at once, the conversation goes on; left while still unknown: exit code 2.
    result = _chat(cli, monkeypatch, "status\ncredits\n", "--session", "404404")
    assert result.code == ExitCode.USAGE
    assert "error: Session 404404 was not found" in result.err
    assert 'Type "new" to start a new session' in result.err
    assert "You have 100000 credits available." in result.out
    assert "client." not in result.err
