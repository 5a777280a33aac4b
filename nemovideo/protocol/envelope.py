"""Decoding an answer: status, headers and body bytes in, the payload or a `NemoError` out."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from nemovideo.protocol.errors import (
    InvalidResponseError,
    error_from_envelope,
    error_from_response,
    request_id_of,
)

__all__ = ["decode_answer"]


def _excerpt(body: bytes) -> str:
    text = body[:120].decode("utf-8", "replace")
    return " ".join(text.split())


def _failed(payload: Mapping[str, Any]) -> bool:
    """Whether an answer reports a failure: a non-zero ``code`` or ``"success": false``."""
    if payload.get("success") is False:
        return True
    code = payload.get("code")
    if code is None or code is False:
        return False
    if isinstance(code, (int, float)):
        return code != 0
    if isinstance(code, str):
        return code.strip() not in ("", "0")
    return True


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
    if not 200 <= http_status < 300:
        raise error_from_response(http_status, body, headers)
    # The request id only matters to an error: it is looked up at each raise, not on success.
    if not body.strip():
        if enveloped:
            raise InvalidResponseError(
                "The API answered with an empty body where JSON was expected.",
                http_status=http_status,
                request_id=request_id_of(headers),
            )
        return {}
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        raise InvalidResponseError(
            f"The API answered non-JSON ({_excerpt(body)!r}); is NEMO_API_URL the API's address?",
            http_status=http_status,
            request_id=request_id_of(headers),
        ) from None
    if not isinstance(payload, dict):
        raise InvalidResponseError(
            f"The API answered a JSON {type(payload).__name__} where an object was expected.",
            http_status=http_status,
            request_id=request_id_of(headers),
        )
    if _failed(payload) and (enveloped or "status" not in payload):
        raise error_from_envelope(
            payload, http_status=http_status, request_id=request_id_of(headers)
        )
    if not enveloped:
        return payload
    if "data" in payload:
        data = payload["data"]
        return {} if data is None else data
    # Tolerance: an answer without the envelope is taken as the data itself.
    return payload
