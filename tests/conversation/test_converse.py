"""converse() against the sandbox over loopback: routing, uploads, chat turns, exports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import av
import pytest

from nemovideo import Intent, NemoClient, Progress, Stage, StreamDisconnectedError
from nemovideo.sandbox import FaultRule
from nemovideo.workflows.conversation import Turn, converse


async def _session(client: NemoClient) -> str:
    return (await client.session.create()).session_id


async def _generated(client: NemoClient, image: Path) -> str:
    """A session with an uploaded image and a generated clip."""
    sid = await _session(client)
    turn = await converse(client, sid, "animate it into a 5-second clip", files=[image])
    assert turn.state is not None and turn.state.draft.is_exportable
    return sid


async def test_credits_are_answered_without_the_stream(
    nemo_sandbox: Any, client: NemoClient
) -> None:
    sid = await _session(client)
    for words in ("credits", "还剩多少积分？", "what's my balance"):
        turn = await converse(client, sid, words)
        assert turn.intent is Intent.CREDITS
        assert turn.credits is not None and turn.credits.available == 100
        assert "100 credits available" in turn.text
    assert nemo_sandbox.chat_deliveries == []


async def test_status_of_an_empty_session(nemo_sandbox: Any, client: NemoClient) -> None:
    sid = await _session(client)
    turn = await converse(client, sid, "状态")
    assert turn.intent is Intent.STATE
    assert turn.text == "Timeline (0 tracks): empty"
    assert turn.state is not None and turn.state.session_id == sid
    assert nemo_sandbox.chat_deliveries == []


async def test_upload_without_a_file_asks_for_one(client: NemoClient) -> None:
    sid = await _session(client)
    turn = await converse(client, sid, "upload")
    assert turn.intent is Intent.UPLOAD
    assert turn.needs_file
    assert "Which file" in turn.text
    assert turn.upload is None


async def test_upload_with_files(nemo_sandbox: Any, client: NemoClient, image: Path) -> None:
    sid = await _session(client)
    seen: list[Progress] = []
    turn = await converse(client, sid, "上传", files=[image], on_progress=seen.append)
    assert turn.intent is Intent.UPLOAD
    assert turn.upload is not None
    assert [f.filename for f in turn.upload.files] == ["sunset.jpg"]
    assert turn.text == "Uploaded sunset.jpg (image)."
    assert seen and seen[-1].stage is Stage.UPLOADING and seen[-1].fraction == 1.0
    assert nemo_sandbox.chat_deliveries == []


async def test_generation_turn_sends_once_and_strips_gui_talk(
    nemo_sandbox: Any, client: NemoClient, image: Path
) -> None:
    sid = await _session(client)
    events: list[object] = []
    turn = await converse(
        client, sid, "animate it into a 5-second clip", files=[image], on_event=events.append
    )
    assert turn.intent is Intent.CHAT
    assert turn.upload is not None
    assert turn.text.startswith("Uploaded sunset.jpg (image).")
    assert turn.reply is not None and "5-second" in turn.reply.text
    assert "click" not in turn.text.lower() and "panel" not in turn.text.lower()
    assert turn.state is not None and turn.state.draft.is_exportable
    assert events, "on_event saw the stream"
    assert [d.text for d in nemo_sandbox.chat_deliveries] == ["animate it into a 5-second clip"]


@pytest.mark.nemo_sandbox(silent_edit_ratio=1.0, initial_credits=1000)
async def test_silent_edit_is_described_from_the_state(
    nemo_sandbox: Any, client: NemoClient, image: Path
) -> None:
    sid = await _generated(client, image)
    turn = await converse(client, sid, 'add the title "Open Road"')
    assert turn.intent is Intent.CHAT
    assert turn.reply is not None and turn.reply.silent
    assert turn.changes, "a silent edit is described from the state"
    assert any("Open Road" in line for line in turn.changes)
    assert turn.text.startswith("Done")
    assert "Open Road" in turn.text


async def test_export_downloads_a_real_mp4(
    nemo_sandbox: Any, client: NemoClient, image: Path, tmp_path: Path
) -> None:
    sid = await _generated(client, image)
    stages: list[Stage] = []
    turn = await converse(
        client, sid, "导出", output=tmp_path, on_progress=lambda p: stages.append(p.stage)
    )
    assert turn.intent is Intent.EXPORT
    assert turn.job is not None and turn.video_path is not None
    assert turn.video_path.parent == tmp_path
    with av.open(str(turn.video_path)) as container:
        assert container.streams.video[0].codec_context.name == "h264"
        assert abs(float(container.duration or 0) / 1e6 - 5.0) < 0.3
    assert str(turn.video_path) in turn.text
    assert Stage.RENDERING in stages and stages[-1] is Stage.DONE
    assert len(nemo_sandbox.chat_deliveries) == 1  # the export did not go through the chat


async def test_export_without_output_returns_the_job(client: NemoClient, image: Path) -> None:
    sid = await _generated(client, image)
    turn = await converse(client, sid, "send me the video")
    assert turn.intent is Intent.EXPORT
    assert turn.video_path is None
    assert turn.job is not None and turn.job.url
    assert turn.job.url in turn.text


async def test_export_of_an_empty_timeline_starts_no_render(
    nemo_sandbox: Any, client: NemoClient
) -> None:
    sid = await _session(client)
    turn = await converse(client, sid, "export")
    assert turn.intent is Intent.EXPORT
    assert turn.job is None
    assert "nothing to export" in turn.text
    assert len(nemo_sandbox.core.render_jobs) == 0


async def test_chat_question_goes_to_the_agent(nemo_sandbox: Any, client: NemoClient) -> None:
    sid = await _session(client)
    turn = await converse(client, sid, "what can you do?")
    assert turn.intent is Intent.CHAT
    assert turn.reply is not None and not turn.reply.silent
    assert "images" in turn.text
    assert len(nemo_sandbox.chat_deliveries) == 1


async def test_broken_stream_is_recovered_from_the_state_without_resending(
    nemo_sandbox: Any, client: NemoClient, image: Path
) -> None:
    sid = await _session(client)
    await converse(client, sid, "upload", files=[image])
    nemo_sandbox.faults.add(FaultRule(route="run_sse", kind="drop_mid_stream", after_events=1))
    # The documented recovery polls every minute, five times: scaled like the sandbox's clock.
    patient = client.with_options(poll_interval=0.05)
    turn = await converse(patient, sid, "animate it into a 5-second clip")
    assert isinstance(turn, Turn)
    assert turn.text.startswith("The connection broke, but the work went on.")
    assert turn.state is not None and turn.state.draft.is_exportable
    assert turn.changes
    assert len(nemo_sandbox.chat_deliveries) == 1
    assert nemo_sandbox.duplicate_deliveries() == []


async def test_broken_stream_with_no_change_raises(nemo_sandbox: Any, client: NemoClient) -> None:
    sid = await _session(client)
    nemo_sandbox.faults.add(FaultRule(route="run_sse", kind="drop_mid_stream", after_events=0))
    with pytest.raises(StreamDisconnectedError):
        await converse(client, sid, "what can you do?")
    assert len(nemo_sandbox.chat_deliveries) == 1


async def test_client_method_delegates(client: NemoClient) -> None:
    sid = await _session(client)
    turn = await client.converse(sid, "credits")
    assert turn.intent is Intent.CREDITS
