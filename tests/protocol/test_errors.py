"""The exception tree and the mapping from API answers to it."""

from __future__ import annotations

import json
import pickle

import pytest

from nemovideo.protocol import errors
from nemovideo.protocol.envelope import (
    error_from_code,
    error_from_envelope,
    error_from_response,
    parse_retry_after,
    request_id_of,
)
from nemovideo.protocol.errors import (
    AgentError,
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    ConfigurationError,
    ExportBlockedError,
    FileTooLargeError,
    InsufficientCreditsError,
    InvalidResponseError,
    MissingClientIdError,
    NemoError,
    PermissionDeniedError,
    RateLimitedError,
    RenderFailedError,
    ServerError,
    SessionNotFoundError,
    StreamDisconnectedError,
    UnsupportedFileTypeError,
)


def body(obj: object) -> bytes:
    return json.dumps(obj).encode()


@pytest.mark.parametrize(
    ("code", "cls", "advice"),
    [
        (1001, AuthenticationError, "NEMO_TOKEN"),
        (1002, SessionNotFoundError, "client.session.create()"),
        (2001, InsufficientCreditsError, "register"),
        (4001, UnsupportedFileTypeError, "Accepted: mp4"),
        (4002, FileTooLargeError, "200 MB"),
    ],
)
def test_every_documented_code(code: int, cls: type[APIStatusError], advice: str) -> None:
    for status in (200, 400):
        err = error_from_response(status, body({"code": code, "message": "server words"}))
        assert type(err) is cls
        assert err.code == code
        assert err.http_status == status
        assert advice in err.message
        assert "server words" in err.message  # what the server said is kept
    assert type(error_from_code(code)) is cls
    assert error_from_code(code).message == cls.default_hint


@pytest.mark.parametrize(
    ("status", "cls", "advice"),
    [
        (401, AuthenticationError, "token"),
        (402, ExportBlockedError, "register to unlock export"),
        (403, PermissionDeniedError, "scope"),
        (429, RateLimitedError, "wait"),
        (500, ServerError, "try again later"),
        (502, ServerError, "try again later"),
        (503, ServerError, "try again later"),
        (504, ServerError, "try again later"),
    ],
)
def test_every_documented_status(status: int, cls: type[APIStatusError], advice: str) -> None:
    err = error_from_response(status, b"")
    assert type(err) is cls
    assert err.http_status == status
    assert err.code is None  # no JSON code came: the status is not dressed up as one
    assert advice in err.message


def test_400_is_a_missing_client_id_only_when_it_says_so() -> None:
    assert type(error_from_response(400, b"")) is MissingClientIdError
    err = error_from_response(400, body({"detail": "X-Client-Id header required"}))
    assert type(err) is MissingClientIdError
    other = error_from_response(400, body({"message": "task_name must be a string"}))
    assert type(other) is APIStatusError
    assert "task_name must be a string" in other.message
    assert "X-Client-Id" not in other.message


def test_404_about_a_session_and_404_about_a_url() -> None:
    err = error_from_response(404, body({"detail": "Session not found: 123"}))
    assert type(err) is SessionNotFoundError
    assert "Session not found: 123" in str(err)
    wrong = error_from_response(404, b"<html><title>404 Not Found</title></html>")
    assert type(wrong) is APIStatusError
    assert "NEMO_API_URL" in wrong.message
    assert type(error_from_response(404, body({"code": 1002}))) is SessionNotFoundError


def test_429_retry_after() -> None:
    err = error_from_response(429, b"", {"Retry-After": "12"})
    assert isinstance(err, RateLimitedError)
    assert err.retry_after == 12.0
    assert "12 s" in err.message
    assert error_from_response(429, b"", {"retry-after": "0.5"}).retry_after == 0.5  # type: ignore[attr-defined]
    assert error_from_response(429, b"").retry_after is None  # type: ignore[attr-defined]
    # A 429 sent as a JSON code still carries the header's wait.
    coded = error_from_response(200, body({"code": 429}), {"Retry-After": "3"})
    assert isinstance(coded, RateLimitedError)
    assert coded.retry_after == 3.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("30", 30.0),
        (" 1.5 ", 1.5),
        ("0", 0.0),
        ("-1", None),
        ("nan", None),
        ("inf", None),
        ("1e400", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # an HTTP date in the past: no wait
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value) == expected


def test_html_502_from_a_proxy() -> None:
    page = (
        b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
        b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
        + b"<!-- padding -->" * 500
        + b"</body>\r\n</html>"
    )
    err = error_from_response(502, page, {"Content-Type": "text/html"})
    assert type(err) is ServerError
    assert "502 Bad Gateway" in err.message
    assert "<" not in err.message
    assert len(err.message) < 400


def test_empty_body_and_unknown_status() -> None:
    err = error_from_response(418, b"")
    assert type(err) is APIStatusError
    assert "HTTP 418" in err.message
    assert err.message != "APIStatusError"


def test_fastapi_detail_string_and_list() -> None:
    err = error_from_response(422, body({"detail": [{"loc": ["body"], "msg": "field required"}]}))
    assert "field required" in err.message
    assert "HTTP 422" in str(err)
    err = error_from_response(409, body({"detail": "busy"}))
    assert "busy" in err.message


def test_message_fields_and_nested_error_object() -> None:
    for key in ("message", "msg", "detail", "error", "errorMessage"):
        assert "boom" in error_from_response(500, body({key: "boom"})).message
    nested = error_from_response(500, body({"error": {"message": "inner boom"}}))
    assert "inner boom" in nested.message


def test_plain_text_body_is_clipped() -> None:
    err = error_from_response(500, b"x" * 100_000)
    assert len(err.message) < 500
    assert err.message.endswith("…)")
    huge = error_from_response(200, body({"code": 2001, "message": "y " * 50_000}))
    assert len(huge.message) < 700


def test_request_id_propagation() -> None:
    for headers in ({"X-Request-Id": "r-1"}, {"x-request-id": "r-1"}, {"X-REQUEST-ID": "r-1"}):
        err = error_from_response(500, b"", headers)
        assert err.request_id == "r-1"
        assert "request id r-1" in str(err)
    from_body = error_from_response(500, body({"message": "x", "request_id": "r-2"}))
    assert from_body.request_id == "r-2"
    assert request_id_of({}, {"requestId": "r-3"}) == "r-3"
    assert request_id_of({}) is None


def test_codes_as_strings_and_odd_values() -> None:
    assert type(error_from_response(200, body({"code": "1002"}))) is SessionNotFoundError
    assert type(error_from_envelope({"code": " 2001 "})) is InsufficientCreditsError
    assert type(error_from_envelope({"code": 4001.0})) is UnsupportedFileTypeError
    odd = error_from_envelope({"code": "E_WEIRD", "msg": "strange"})
    assert type(odd) is APIStatusError
    assert "strange" in odd.message
    assert type(error_from_response(500, body({"code": True}))) is ServerError
    # Digits int() refuses (a superscript two) are not a code; decimal digits of any script are.
    superscript = error_from_envelope({"code": "\u00b2", "msg": "odd"})
    assert type(superscript) is APIStatusError and superscript.code is None
    assert type(error_from_envelope({"code": "\u0661\u0660\u0660\u0662"})) is SessionNotFoundError


def test_str_and_repr() -> None:
    err = SessionNotFoundError("gone", code=1002, http_status=200, request_id="abc")
    assert str(err) == "gone [code 1002, HTTP 200, request id abc]"
    assert repr(err) == (
        "SessionNotFoundError('gone', code=1002, http_status=200, request_id='abc')"
    )
    assert str(NemoError()) == "NemoError"
    assert type(err).__module__ == "nemovideo.protocol.errors"


@pytest.mark.parametrize(
    "err",
    [
        SessionNotFoundError("gone", code=1002, http_status=200, request_id="abc"),
        RateLimitedError(retry_after=2.5, http_status=429),
        FileTooLargeError("big", limit=10, code=4002),
        InsufficientCreditsError(link="https://nemovideo.com/register?bind=anon_1", code=2001),
        StreamDisconnectedError(delivered=True, session_id="s1"),
        APIConnectionError(request_sent=False),
        APITimeoutError(request_sent=True),
        RenderFailedError(job_id="render_1"),
        AgentError("RuntimeError: boom", error_code="RuntimeError", session_id="s1"),
        ConfigurationError("bad"),
        InvalidResponseError("odd"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_errors_pickle(err: NemoError) -> None:
    clone = pickle.loads(pickle.dumps(err))  # noqa: S301 - our own bytes
    assert type(clone) is type(err)
    assert str(clone) == str(err)
    assert clone.__dict__ == err.__dict__
    assert clone.args == err.args


def test_subclass_relations() -> None:
    assert issubclass(UnsupportedFileTypeError, ValueError)
    assert issubclass(ConfigurationError, ValueError)
    assert issubclass(StreamDisconnectedError, APIConnectionError)
    assert issubclass(APITimeoutError, APIConnectionError)
    for name in errors.__all__:
        obj = getattr(errors, name)
        if isinstance(obj, type):
            assert issubclass(obj, NemoError), name
            assert obj.__doc__, name


def test_stream_disconnected_messages_say_what_to_do() -> None:
    assert "Do not send it again" in StreamDisconnectedError(delivered=True).message
    assert "safe to send it again" in StreamDisconnectedError(delivered=False).message
    assert "Check client.state.get" in StreamDisconnectedError().message


def test_insufficient_credits_link() -> None:
    link = "https://nemovideo.com/register?bind=anon_1"
    err = InsufficientCreditsError(link=link)
    assert err.link == link
    assert link in err.message


def test_agent_error_message_and_hint() -> None:
    err = AgentError("RuntimeError: model overloaded", error_code="RuntimeError")
    assert "model overloaded" in err.message
    assert "new message" in err.message
    assert "client.state.get" in err.message
    assert err.error_code == "RuntimeError"
    assert "new message" in AgentError().message
    assert AgentError(AgentError.default_hint).message == AgentError.default_hint
