"""The one converter and the models: realistic answers, older variants, and bad ones."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nemovideo.protocol.converter import structure, structure_render_job
from nemovideo.protocol.draft import Draft
from nemovideo.protocol.errors import InvalidResponseError
from nemovideo.protocol.models import (
    AnonymousToken,
    ClaimLink,
    Credits,
    RenderJob,
    RenderStatus,
    Session,
    SessionState,
    UploadedFile,
    UploadResult,
)

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TOKEN = "nmv_usr_s3cr3t-value"


def test_anonymous_token_current_and_older_shapes() -> None:
    current = structure({"token": TOKEN, "credits": 100}, AnonymousToken)
    assert current == AnonymousToken(token=TOKEN, credits=100)
    older = structure(
        {"token": TOKEN, "credits": "100", "user_id": "anon_42", "expires_at": 1_790_000_000},
        AnonymousToken,
    )
    assert (older.user_id, older.expires_at, older.credits) == ("anon_42", 1_790_000_000, 100)
    dated = structure({"token": TOKEN, "expires_at": "2026-12-01T00:00:00Z"}, AnonymousToken)
    assert dated.expires_at == "2026-12-01T00:00:00Z"


def test_tokens_never_in_reprs() -> None:
    token = structure({"token": TOKEN, "credits": 100, "user_id": "anon_1"}, AnonymousToken)
    assert TOKEN not in repr(token)
    assert TOKEN not in str(token)
    link = ClaimLink(url="https://nemovideo.com/workspace/claim?ct=clm_x", claim_token="clm_x")
    assert "clm_x" not in repr(link)
    assert str(link).endswith("ct=clm_x")


def test_session_with_and_without_user_id() -> None:
    answer = {"task_id": "task_1", "session_id": "1780000000000000001", "user_id": "anon_1"}
    assert structure(answer, Session) == Session("1780000000000000001", "task_1", "anon_1")
    assert structure({"task_id": "t", "session_id": "s"}, Session).user_id is None


def test_numeric_ids_as_json_numbers_stay_exact() -> None:
    raw = b'{"task_id": 98765, "session_id": 178000000000000000123456789}'
    session = structure(json.loads(raw), Session)
    assert session.session_id == "178000000000000000123456789"
    assert session.task_id == "98765"


def test_unknown_fields_ignored_and_nulls_are_missing() -> None:
    session = structure(
        {"task_id": "t", "session_id": "s", "user_id": None, "shiny": {"new": 1}}, Session
    )
    assert session == Session("s", "t")
    credits = structure({"available": 40, "frozen": None, "total": 140, "currency": "c"}, Credits)
    assert credits == Credits(available=40, frozen=0, total=140)


def test_credits_numbers_as_strings() -> None:
    assert structure({"available": "90", "frozen": "10.0", "total": 100}, Credits) == Credits(
        90, 10, 100
    )


@pytest.mark.parametrize(
    ("answer", "cls"),
    [
        ({"task_id": "t"}, Session),  # session_id missing
        ({"task_id": "t", "session_id": ["s"]}, Session),
        ({"task_id": "t", "session_id": True}, Session),
        ({"available": "lots"}, Credits),
        ({"available": True}, Credits),
        ({"available": {"n": 1}}, Credits),
        ({"token": []}, AnonymousToken),
        ({"files": [{"filename": None, "file_type": "image"}]}, UploadResult),
        ({"files": [{"filename": "a.png", "file_type": "image", "width": "wide"}]}, UploadResult),
        ({"files": [], "session_state_applied": "perhaps"}, UploadResult),
        ({"session_id": "s", "draft": "not a draft"}, SessionState),
    ],
)
def test_wrong_types_are_invalid_response_errors(answer: dict[str, Any], cls: type) -> None:
    with pytest.raises(InvalidResponseError) as info:
        structure(answer, cls)
    assert cls.__name__ in info.value.message


@pytest.mark.parametrize("value", [None, [], "text", 5])
def test_non_objects_are_invalid_response_errors(value: object) -> None:
    with pytest.raises(InvalidResponseError, match="Session"):
        structure(value, Session)


def test_upload_result() -> None:
    answer = {
        "files": [
            {
                "filename": "sunset.jpg",
                "file_type": "image",
                "cdn_url": "https://cdn.example/sunset.jpg",
                "duration": None,
                "width": 1280,
                "height": "720",
                "md5": "ignored",
            },
            {"filename": "song.mp3", "file_type": "audio", "duration": "31.5"},
        ],
        "session_state_applied": True,
    }
    result = structure(answer, UploadResult)
    assert result.session_state_applied is True
    assert result.files[0] == UploadedFile(
        "sunset.jpg", "image", "https://cdn.example/sunset.jpg", None, 1280, 720
    )
    assert result.files[1].duration == 31.5
    assert structure({}, UploadResult) == UploadResult()


@pytest.mark.parametrize(
    ("raw", "expected"), [(True, True), (False, False), ("false", False), ("1", True), (0, False)]
)
def test_booleans_are_not_truthiness(raw: object, expected: bool) -> None:
    answer = {"files": [], "session_state_applied": raw}
    assert structure(answer, UploadResult).session_state_applied is expected


def test_session_state() -> None:
    draft = {"t": [{"tt": 0, "sg": [{"st": 0, "d": 5000, "src": "https://cdn/x.jpg"}]}], "v": 3}
    state = structure(
        {
            "session_id": "s",
            "task_id": "t",
            "task_name": "project",
            "draft": draft,
            "video_infos": [{"url": "https://cdn/x.jpg"}, "junk"],
            "canvas_config": {"ratio": "16:9", "size": [1920, 1080]},
            "generated_media": [{"url": "u"}],
            "video_analyses": None,
        },
        SessionState,
    )
    assert state.draft.to_wire() == draft
    assert state.draft.is_exportable
    assert state.video_infos == ({"url": "https://cdn/x.jpg"},)
    assert state.canvas_config["ratio"] == "16:9"
    assert state.generated_media == ({"url": "u"},)
    assert state.video_analyses == ()
    # The first document shows video_analyses as an object: it is kept, not dropped.
    analyses = {"m_1": {"summary": "a beach at dusk", "objects": ["sea", "sun"]}}
    shaped = structure(
        {"session_id": "s", "video_analyses": analyses, "generated_media": {"n": 1}}, SessionState
    )
    assert shaped.video_analyses == analyses
    assert shaped.generated_media == {"n": 1}
    listed = structure({"session_id": "s", "video_analyses": [{"a": 1}]}, SessionState)
    assert listed.video_analyses == ({"a": 1},)
    empty = structure({"session_id": "s", "draft": None, "canvas_config": []}, SessionState)
    assert empty.draft == Draft.from_wire({})
    assert empty.canvas_config == {}


# -- render jobs --------------------------------------------------------------------------------


def test_render_job_current_shape() -> None:
    job = structure_render_job(
        {
            "taskId": "task_9",
            "status": "completed",
            "progress": 100,
            "output": {"url": "https://cdn/r.mp4", "duration": 5.0, "size": "123456"},
        },
        job_id="render_1",
    )
    assert job == RenderJob(
        id="render_1",
        status=RenderStatus.COMPLETED,
        progress=100.0,
        url="https://cdn/r.mp4",
        duration=5.0,
        size=123456,
        task_id="task_9",
    )
    assert job.is_finished


def test_render_job_retracted_shape() -> None:
    job = structure_render_job(
        {"success": True, "data": {"status": "success", "outputUrl": "https://cdn/o.mp4"}},
        job_id="render_2",
    )
    assert (job.status, job.url, job.id) == (
        RenderStatus.COMPLETED,
        "https://cdn/o.mp4",
        "render_2",
    )
    assert job.progress == 100.0
    # Status at the top, URL under data.
    mixed = structure_render_job(
        {"status": "completed", "data": {"outputUrl": "https://cdn/m.mp4"}}, job_id="r"
    )
    assert mixed.url == "https://cdn/m.mp4"


def test_render_job_first_shape_with_task_id() -> None:
    job = structure_render_job(
        {"id": "render_3", "taskId": 777, "status": "pending", "progress": 0}, job_id="ignored"
    )
    assert (job.id, job.task_id, job.status, job.url) == (
        "render_3",
        "777",
        RenderStatus.PENDING,
        None,
    )


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("queued", RenderStatus.PENDING),
        ("Submitted", RenderStatus.PENDING),
        ("RUNNING", RenderStatus.PROCESSING),
        ("rendering", RenderStatus.PROCESSING),
        (" in_progress ", RenderStatus.PROCESSING),
        ("done", RenderStatus.COMPLETED),
        ("succeeded", RenderStatus.COMPLETED),
        ("error", RenderStatus.FAILED),
        ("cancelled", RenderStatus.FAILED),
        ("processing", RenderStatus.PROCESSING),
    ],
)
def test_render_status_aliases(raw: str, status: RenderStatus) -> None:
    assert structure_render_job({"status": raw}, job_id="r").status is status


def test_render_job_failed_keeps_the_reason_and_odd_values_are_tolerated() -> None:
    job = structure_render_job(
        {"status": "failed", "error": "encoder crashed", "progress": "55%"}, job_id="r"
    )
    assert (job.error, job.progress) == ("encoder crashed", 55.0)
    running = structure_render_job(
        {"status": "processing", "error": "x", "progress": 250}, job_id="r"
    )
    assert running.error is None
    assert running.progress == 100.0
    assert (
        structure_render_job({"status": "processing", "progress": "NaN"}, job_id="r").progress == 0
    )
    assert structure_render_job({}, job_id="r").status is RenderStatus.PENDING


@pytest.mark.parametrize("bad", [[], "completed", None])
def test_render_job_bad_answers(bad: object) -> None:
    with pytest.raises(InvalidResponseError):
        structure_render_job(bad, job_id="r")


@pytest.mark.parametrize("status", ["exploded", "transcoding", 3])
def test_an_unknown_render_status_is_taken_as_still_running(status: object) -> None:
    # A new spelling right after the job started must not end the flow: the poll budget does.
    job = structure_render_job({"status": status, "progress": 12}, job_id="r")
    assert job.status is RenderStatus.PROCESSING
    assert job.unknown_status == str(status)
    assert job.progress == 12
    assert structure_render_job({"status": "done"}, job_id="r").unknown_status is None


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=6), c, max_size=3),
    max_leaves=10,
)


@FAST
@given(
    st.dictionaries(
        st.sampled_from(
            ["status", "progress", "output", "data", "taskId", "id", "outputUrl", "error", "size"]
        ),
        JSON,
    )
)
def test_render_job_never_raises_anything_but_invalid_response(value: dict[str, Any]) -> None:
    try:
        job = structure_render_job(value, job_id="r")
    except InvalidResponseError:
        return
    assert 0.0 <= job.progress <= 100.0


@FAST
@given(
    st.sampled_from([AnonymousToken, Session, Credits, UploadResult, SessionState]),
    st.dictionaries(
        st.sampled_from(
            [
                "token",
                "credits",
                "user_id",
                "expires_at",
                "session_id",
                "task_id",
                "available",
                "frozen",
                "total",
                "files",
                "session_state_applied",
                "draft",
                "video_infos",
                "canvas_config",
            ]
        ),
        JSON,
    ),
)
def test_structure_never_raises_anything_but_invalid_response(
    cls: type, value: dict[str, Any]
) -> None:
    with contextlib.suppress(InvalidResponseError):
        structure(value, cls)
