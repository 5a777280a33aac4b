"""Progress reports: a handler that raises is logged, never allowed to break the work."""

from __future__ import annotations

import logging

import pytest

from nemovideo.workflows.results import Progress, Stage, report_progress


def test_a_raising_progress_handler_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    seen: list[Progress] = []
    report_progress(seen.append, Progress(Stage.UPLOADING, 1, 2))
    assert seen == [Progress(Stage.UPLOADING, 1, 2)]

    def broken(_: Progress) -> None:
        raise ValueError("bar")

    with caplog.at_level(logging.ERROR, logger="nemovideo.progress"):
        report_progress(broken, Progress(Stage.DONE))
        report_progress(None, Progress(Stage.DONE))
    assert [r.getMessage() for r in caplog.records] == ["the progress callback raised; ignored"]
