"""``Retry-After`` as seconds or as an HTTP date, and ``retry-after-ms``: a 429 waits what the
server asked, whichever way it said it."""

from __future__ import annotations

import time
from email.utils import formatdate

import pytest

from nemovideo import RateLimitedError
from nemovideo.protocol.envelope import error_from_response, parse_retry_after

NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("3", 3.0),
        (" 2.5 ", 2.5),
        ("Tue, 14 Nov 2023 22:13:40 GMT", 20.0),  # IMF-fixdate, 20 s after NOW
        ("Tuesday, 14-Nov-23 22:13:40 GMT", 20.0),  # RFC 850
        ("Tue Nov 14 22:13:40 2023", 20.0),  # asctime, no zone: GMT
        ("Tue, 14 Nov 2023 22:12:00 GMT", 0.0),  # already past: go now
        ("soon", None),
        ("-1", None),
        ("", None),
        (None, None),
    ],
)
def test_seconds_and_http_dates(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value, now=NOW) == seconds


def test_a_date_is_read_against_the_clock_by_default() -> None:
    wait = parse_retry_after(formatdate(time.time() + 60, usegmt=True))
    assert wait is not None and 55 <= wait <= 60


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "7"}, 7.0),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"Retry-After-Ms": "250", "Retry-After": "9"}, 0.25),  # the finer one wins
        ({"retry-after-ms": "later", "Retry-After": "9"}, 9.0),  # unusable: the other one
        ({"Retry-After": "in 30 s"}, 30.0),  # an HTTP date 30 s ahead, made when the test runs
        ({}, None),
    ],
)
def test_a_429_carries_the_wait_however_it_was_said(
    headers: dict[str, str], expected: float | None
) -> None:
    if headers.get("Retry-After") == "in 30 s":
        headers = {"Retry-After": formatdate(time.time() + 30, usegmt=True)}
    error = error_from_response(429, b"", headers)
    assert isinstance(error, RateLimitedError)
    if expected is None:
        assert error.retry_after is None
    else:
        assert error.retry_after is not None
        assert abs(error.retry_after - expected) < 2
