"""Decoding an answer: status, headers and body bytes in, the payload or a `NemoError` out."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from nemovideo.protocol.errors import (
    InvalidResponseError,
    error_from_envelope,
    error_from_response,
)

__all__ = ["decode_answer"]


def _excerpt(body: bytes) -> str:
    text = body[:120].decode("utf-8", "replace")
    return " ".join(text.split())


def decode_answer(
    http_status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    enveloped: bool = True,
) -> Any:
    """The payload of an answer, or raise the mapped error.

    Enveloped endpoints answer ``{"code": 0, "data": {...}}`` and give ``data``; the render
    endpoints are not enveloped and give the whole object. A non-zero ``code`` raises even on
    HTTP 200, since the gateway reports most API errors that way.
    """
    request_id = headers.get("X-Request-Id") or headers.get("x-request-id")
    if not 200 <= http_status < 300:
        raise error_from_response(http_status, body, headers)
    if not body.strip():
        if enveloped:
            raise InvalidResponseError(
                "The API answered with an empty body where JSON was expected.",
                http_status=http_status,
                request_id=request_id,
            )
        return {}
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise InvalidResponseError(
            f"The API answered non-JSON ({_excerpt(body)!r}); is NEMO_API_URL the API's address?",
            http_status=http_status,
            request_id=request_id,
        ) from None
    if not isinstance(payload, dict):
        raise InvalidResponseError(
            f"The API answered a JSON {type(payload).__name__} where an object was expected.",
            http_status=http_status,
            request_id=request_id,
        )
    code = payload.get("code")
    failed = code not in (None, 0, "0") and not (isinstance(code, bool) and not code)
    if failed and (enveloped or "status" not in payload):
        raise error_from_envelope(payload, http_status=http_status, request_id=request_id)
    if not enveloped:
        return payload
    if "data" in payload:
        data = payload["data"]
        return {} if data is None else data
    # Tolerance: an answer without the envelope is taken as the data itself.
    return payload
