"""Decoding answers: envelopes, non-enveloped render answers, and every way they go wrong."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nemovideo.protocol.envelope import decode_answer
from nemovideo.protocol.errors import (
    APIStatusError,
    InsufficientCreditsError,
    InvalidResponseError,
    NemoError,
    ServerError,
    SessionNotFoundError,
)

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def answer(
    obj: object,
    status: int = 200,
    *,
    enveloped: bool = True,
    headers: dict[str, str] | None = None,
) -> Any:
    return decode_answer(status, headers or {}, json.dumps(obj).encode(), enveloped=enveloped)


@pytest.mark.parametrize("code", [0, "0", None, False, 0.0, " 0 "])
def test_success_codes_give_data(code: object) -> None:
    assert answer({"code": code, "data": {"token": "t"}}) == {"token": "t"}


def test_missing_envelope_is_taken_as_data() -> None:
    assert answer({"token": "t"}) == {"token": "t"}
    assert answer({"code": 0, "data": None}) == {}
    assert answer({"code": 0, "data": [1, 2]}) == [1, 2]


@pytest.mark.parametrize(
    ("code", "cls"),
    [(1002, SessionNotFoundError), ("2001", InsufficientCreditsError), (7777, APIStatusError)],
)
def test_non_zero_code_on_http_200_raises(code: object, cls: type[NemoError]) -> None:
    with pytest.raises(cls) as info:
        answer({"code": code, "message": "nope", "data": None}, headers={"X-Request-Id": "rq"})
    assert info.value.http_status == 200
    assert info.value.request_id == "rq"
    assert "nope" in info.value.message


def test_success_false_raises() -> None:
    with pytest.raises(APIStatusError, match="render queue full"):
        answer({"success": False, "message": "render queue full"}, enveloped=False)


def test_non_enveloped_render_answers() -> None:
    job = {"id": "render_1", "taskId": "t", "status": "pending", "progress": 0}
    assert answer(job, enveloped=False) == job
    retracted = {"success": True, "data": {"status": "completed", "outputUrl": "https://cdn/x"}}
    assert answer(retracted, enveloped=False) == retracted
    # A render answer that happens to carry a non-zero code next to its status is still read.
    assert answer({"status": "failed", "code": 500}, enveloped=False)["status"] == "failed"
    assert decode_answer(200, {}, b"", enveloped=False) == {}
    assert decode_answer(200, {}, b"  \n", enveloped=False) == {}


def test_empty_body_where_json_was_expected() -> None:
    with pytest.raises(InvalidResponseError, match="empty body"):
        decode_answer(200, {"x-request-id": "r9"}, b"")


def test_non_json_and_non_object_bodies() -> None:
    with pytest.raises(InvalidResponseError, match="NEMO_API_URL") as info:
        decode_answer(200, {"X-Request-Id": "r"}, b"<html>welcome to nginx</html>")
    assert info.value.request_id == "r"
    with pytest.raises(InvalidResponseError, match="list"):
        decode_answer(200, {}, b"[1, 2]")
    with pytest.raises(InvalidResponseError):
        decode_answer(200, {}, b"\xff\xfe")
    with pytest.raises(InvalidResponseError):
        decode_answer(200, {}, b"[" * 100_000)  # nesting deeper than the JSON parser goes


def test_error_statuses_map_through_error_from_response() -> None:
    with pytest.raises(ServerError, match="502 Bad Gateway"):
        decode_answer(502, {}, b"<html><title>502 Bad Gateway</title></html>")
    with pytest.raises(SessionNotFoundError):
        decode_answer(404, {}, b'{"detail": "Session not found: 1"}', enveloped=False)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
ENVELOPE_LIKE = st.fixed_dictionaries(
    {},
    optional={
        "code": JSON | st.sampled_from([0, 1001, 1002, 2001, 4001, 4002, "0", "1002"]),
        "data": JSON,
        "message": JSON,
        "msg": JSON,
        "detail": JSON,
        "error": JSON,
        "success": JSON,
        "status": JSON,
        "request_id": JSON,
    },
)


@FAST
@given(
    st.one_of(JSON, ENVELOPE_LIKE),
    st.sampled_from([200, 201, 400, 401, 402, 403, 404, 418, 422, 429, 500, 502]),
    st.booleans(),
    st.dictionaries(
        st.sampled_from(["Retry-After", "X-Request-Id", "retry-after"]), st.text(max_size=12)
    ),
)
def test_arbitrary_json_gives_a_payload_or_a_nemo_error(
    obj: object, status: int, enveloped: bool, headers: dict[str, str]
) -> None:
    raw = json.dumps(obj).encode()
    error: NemoError | None = None
    try:
        decode_answer(status, headers, raw, enveloped=enveloped)
    except NemoError as exc:
        error = exc
    if error is None:
        assert 200 <= status < 300
    else:
        assert error.message
        assert str(error).startswith(error.message)
        assert type(error).__name__ in repr(error)


@FAST
@given(st.binary(max_size=200), st.sampled_from([200, 404, 500]))
def test_arbitrary_bytes_give_a_payload_or_a_nemo_error(raw: bytes, status: int) -> None:
    with contextlib.suppress(NemoError):
        decode_answer(status, {}, raw)
