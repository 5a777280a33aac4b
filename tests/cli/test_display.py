"""Progress lines, the console's secret redaction, and finding files in chat lines."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from nemovideo import Progress, Stage
from nemovideo.cli.output import REDACTED, Console
from nemovideo.cli.progress import ProgressDisplay, format_bytes, format_elapsed
from nemovideo.cli.repl import split_files


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _reports() -> list[Progress]:
    return [
        Progress(Stage.STARTING, message="Creating a session"),
        *(Progress(Stage.UPLOADING, n, 1000) for n in range(0, 1001, 100)),
        Progress(Stage.GENERATING, 0),
        *(Progress(Stage.RENDERING, p, 100) for p in range(0, 101, 10)),
        *(Progress(Stage.DOWNLOADING, n, 2_000_000) for n in range(0, 2_000_001, 250_000)),
        Progress(Stage.DONE, 2_000_000, 2_000_000, "Done"),
    ]


def test_plain_mode_writes_few_whole_lines() -> None:
    stream = io.StringIO()
    display = ProgressDisplay(stream, tty=False, clock=Clock())
    for report in _reports():
        display(report)
    display.close()
    text = stream.getvalue()
    assert "\r" not in text
    lines = text.splitlines()
    assert lines[0] == "Creating a session"
    assert lines[-1] == "Done"
    # A line when a stage starts, then one per quarter: 5 for each bar, not one per report.
    assert sum(line.startswith("Uploading") for line in lines) == 5
    assert sum(line.startswith("Rendering") for line in lines) == 5
    assert sum(line.startswith("Downloading") for line in lines) == 5
    assert "Rendering [########################] 100%" in lines
    assert "Downloading [########################] 100%  2.0 MB / 2.0 MB" in lines


def test_tty_mode_redraws_one_line_per_stage() -> None:
    stream = io.StringIO()
    clock = Clock()
    display = ProgressDisplay(stream, tty=True, clock=clock)
    for report in _reports():
        clock.now += 1.0
        display(report)
    display.close()
    text = stream.getvalue()
    assert text.count("\r") > 20
    finished_lines = text.split("\n")
    # One finished line per stage (starting, upload, generate, render, download, done).
    assert len([line for line in finished_lines if line]) == 6
    assert finished_lines[3].rsplit("\r", 1)[-1].startswith("Rendering [#######")


def test_generation_shows_elapsed_time_while_silent() -> None:
    stream = io.StringIO()
    clock = Clock()
    display = ProgressDisplay(stream, tty=False, clock=clock)
    display(Progress(Stage.GENERATING, 0))
    for _ in range(10):
        clock.now += 15
        display.refresh()
    lines = stream.getvalue().splitlines()
    assert lines[0] == "Generating: the agent is working, 0s elapsed"
    assert lines[1:] == [
        "Generating: the agent is working, 30s elapsed",
        "Generating: the agent is working, 1m00s elapsed",
        "Generating: the agent is working, 1m30s elapsed",
        "Generating: the agent is working, 2m00s elapsed",
        "Generating: the agent is working, 2m30s elapsed",
    ]


def test_disabled_display_writes_nothing() -> None:
    stream = io.StringIO()
    display = ProgressDisplay(stream, enabled=False, tty=True)
    for report in _reports():
        display(report)
    display.refresh()
    display.close()
    assert stream.getvalue() == ""


async def test_ticking_refreshes_and_closes_the_line() -> None:
    stream = io.StringIO()
    display = ProgressDisplay(stream, tty=True)
    async with display.ticking(every=0.001):
        display(Progress(Stage.GENERATING, 0))
        import asyncio

        await asyncio.sleep(0.02)
    assert stream.getvalue().count("\r") >= 2
    assert stream.getvalue().endswith("\n")


@pytest.mark.parametrize(
    ("count", "text"), [(0, "0 B"), (999, "999 B"), (1536, "1.5 KB"), (2_500_000, "2.5 MB")]
)
def test_format_bytes(count: int, text: str) -> None:
    assert format_bytes(count) == text


def test_format_elapsed() -> None:
    assert format_elapsed(7) == "7s"
    assert format_elapsed(65) == "1m05s"


def test_console_redacts_secrets_everywhere() -> None:
    out, err = io.StringIO(), io.StringIO()
    console = Console(out, err, secrets=["nmv_usr_topsecret", None, "abc"])
    console.result("token nmv_usr_topsecret here")
    console.error("error: Bearer nmv_usr_topsecret refused")
    console.notice("abc is too short to be a secret")
    assert "nmv_usr_topsecret" not in out.getvalue() + err.getvalue()
    assert out.getvalue() == f"token {REDACTED} here\n"
    assert "abc is too short" in err.getvalue()


def test_console_json_mode_keeps_stdout_json() -> None:
    out, err = io.StringIO(), io.StringIO()
    console = Console(out, err, json_mode=True, quiet=True)
    console.say("for people")
    console.notice("for people too")
    console.result("text", {"a": 1})
    console.result("text only")
    assert out.getvalue() == '{"a": 1}\n'
    assert err.getvalue() == ""


def test_split_files_takes_existing_paths_out(tmp_path: Path) -> None:
    photo = tmp_path / "my photo.jpg"
    photo.write_bytes(b"x")
    song = tmp_path / "song.mp3"
    song.write_bytes(b"x")
    words, files = split_files(f'upload "{photo}" and {song}')
    assert files == [photo, song]
    assert words == "upload and"
    assert split_files("add the title 'Hello World'") == ("add the title 'Hello World'", [])
    assert split_files("don't add music to nothing.jpg") == ("don't add music to nothing.jpg", [])


def _status_run(tty: bool) -> str:
    from nemovideo.cli.progress import BatchStatus

    stream, clock = io.StringIO(), Clock()
    status = BatchStatus(stream, total=4, concurrency=2, tty=tty, clock=clock)
    status.draw()
    for ok, credits in ((True, 900), (False, 900), (True, 800), (True, 700)):
        clock.now += 10
        status.clear()
        stream.write("RESULT\n")  # what a result line on the same terminal looks like
        status.item_finished(ok=ok, credits=credits)
    status.clear()
    return stream.getvalue()


def test_batch_status_is_one_redrawn_line_on_a_terminal() -> None:
    text = _status_run(tty=True)
    lines = text.split("\n")
    # Only the result lines end lines: the status is redrawn with \r and erased before each.
    assert lines[:-1] == [line for line in lines[:-1] if line.rsplit("\r", 1)[-1] == "RESULT"]
    assert "\rBatch: 0/4 done, 2 running, 0 failed, 0s elapsed" in text
    assert "\rBatch: 1/4 done, 2 running, 0 failed, 900 credits left, about 20s left" in text
    assert "\rBatch: 3/4 done, 0 running, 1 failed, 700 credits left, took 40s" in text


def test_batch_status_is_plain_lines_elsewhere() -> None:
    text = _status_run(tty=False)
    assert "\r" not in text
    assert text.splitlines() == [
        "RESULT",
        "Batch: 1/4 done, 2 running, 0 failed, 900 credits left, about 20s left",
        "RESULT",
        "Batch: 1/4 done, 2 running, 1 failed, 900 credits left, about 20s left",
        "RESULT",
        "Batch: 2/4 done, 1 running, 1 failed, 800 credits left, about 15s left",
        "RESULT",
        "Batch: 3/4 done, 0 running, 1 failed, 700 credits left, took 40s",
    ]


def test_a_notice_never_glues_to_a_progress_line() -> None:
    stream = io.StringIO()
    display = ProgressDisplay(stream, tty=True, clock=Clock())
    display(Progress(Stage.GENERATING, 0))
    display.notice("still working... (2m00s so far)")
    text = stream.getvalue()
    assert "\nstill working... (2m00s so far)\n" in text
    assert text.endswith("Generating: the agent is working, 0s elapsed")  # drawn again below


async def test_still_working_counts_real_time_on_its_own_line() -> None:
    import asyncio

    from nemovideo.cli.repl import _still_working

    err = io.StringIO()
    display = ProgressDisplay(err, tty=True)
    display(Progress(Stage.GENERATING, 0))
    async with _still_working(Console(io.StringIO(), err), display, 0.05):
        await asyncio.sleep(0.13)
    lines = [line.rsplit("\r", 1)[-1] for line in err.getvalue().split("\n")]
    assert lines.count("still working... (0s so far)") == 2


def test_chat_history_lives_in_the_state_folder(tmp_path: Path) -> None:
    from nemovideo.cli.repl import _line_editing, history_path

    assert history_path({"XDG_STATE_HOME": str(tmp_path)}) == (
        tmp_path / "nemovideo" / "chat_history"
    )
    readline = pytest.importorskip("readline")
    path = tmp_path / "nemovideo" / "chat_history"
    with _line_editing(path):
        readline.add_history("animate it")
    assert "animate it" in path.read_text()
    readline.clear_history()
    with _line_editing(path):
        assert readline.get_history_item(readline.get_current_history_length()) == "animate it"
    readline.clear_history()
