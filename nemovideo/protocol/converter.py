"""The one cattrs converter: the only place where wire names meet Python names.

Answers are tolerant by contract (API.md): unknown fields are ignored, optional fields may be
missing, numbers may come as strings. Anything that still does not fit becomes an
`InvalidResponseError`, never a ``KeyError`` or ``TypeError``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import cattrs
from cattrs.gen import make_dict_structure_fn

from nemovideo.protocol.draft import Draft
from nemovideo.protocol.errors import InvalidResponseError
from nemovideo.protocol.models import (
    AnonymousToken,
    Credits,
    RenderJob,
    RenderStatus,
    Session,
    SessionState,
    UploadedFile,
    UploadResult,
)

__all__ = ["converter", "structure", "structure_render_job"]

T = TypeVar("T")

converter = cattrs.Converter(forbid_extra_keys=False, prefer_attrib_converters=False)


def _str(value: Any, _: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        # Session ids "may be a long numeric string": a JSON number must not lose digits.
        return str(value)
    raise TypeError(f"expected a string, got {type(value).__name__}")


def _int(value: Any, _: Any) -> int:
    if isinstance(value, bool):
        raise TypeError("expected a number, got a boolean")
    if isinstance(value, (int, float)):
        return int(value)
    if isinstance(value, str):
        return int(float(value))
    raise TypeError(f"expected a number, got {type(value).__name__}")


def _float(value: Any, _: Any) -> float:
    if isinstance(value, bool):
        raise TypeError("expected a number, got a boolean")
    if isinstance(value, (int, float, str)):
        return float(value)
    raise TypeError(f"expected a number, got {type(value).__name__}")


converter.register_structure_hook(str, _str)
converter.register_structure_hook(int, _int)
converter.register_structure_hook(float, _float)


def _draft(value: Any, _: Any) -> Draft:
    # A Draft already built (by a caller that owns the wire dict and skipped the copy) passes.
    return value if isinstance(value, Draft) else Draft.from_wire(value)


converter.register_structure_hook(Draft, _draft)
converter.register_unstructure_hook(Draft, lambda draft: draft.to_wire())


def _tuple_of_dicts(value: Any, _: Any) -> tuple[dict[str, Any], ...]:
    if not isinstance(value, (list, tuple)):
        return ()
    return tuple(item for item in value if isinstance(item, dict))


def _tuple_any(value: Any, _: Any) -> tuple[Any, ...]:
    return tuple(value) if isinstance(value, (list, tuple)) else ()


def _raw_json(value: Any, _: Any) -> Any:
    # A field of no settled shape keeps what came: a list (as a tuple), an object, a scalar.
    if isinstance(value, list):
        return tuple(value)
    return () if value is None else value


def _dict(value: Any, _: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


def _scalar(value: Any, _: Any) -> str | int | float | None:
    if value is None or (isinstance(value, (str, int, float)) and not isinstance(value, bool)):
        return value
    raise TypeError(f"expected a string or a number, got {type(value).__name__}")


def _bool(value: Any, _: Any) -> bool:
    # bool("false") is True: spell out what the wire may send instead of calling bool().
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
        return value.strip().lower() in ("true", "1")
    raise TypeError(f"expected a boolean, got {type(value).__name__}")


def _is(hint: Any) -> Callable[[Any], bool]:
    def matches(candidate: Any) -> bool:
        return bool(candidate == hint)

    return matches


converter.register_structure_hook(bool, _bool)
# Parameterised generics and unions are not classes: functools.singledispatch (behind
# register_structure_hook) refuses them, so these hooks match by equality instead.
_GENERIC_HOOKS: tuple[tuple[Any, Callable[[Any, Any], Any]], ...] = (
    (tuple[dict[str, Any], ...], _tuple_of_dicts),
    (tuple[Any, ...], _tuple_any),
    (dict[str, Any], _dict),
    (str | int | float, _scalar),
    (str | int | float | None, _scalar),
)
for _hint, _hook in _GENERIC_HOOKS:
    converter.register_structure_hook_func(_is(_hint), _hook)
converter.register_structure_hook_func(lambda hint: hint is Any, _raw_json)

for _cls in (AnonymousToken, Session, Credits, UploadedFile, UploadResult, SessionState):
    converter.register_structure_hook(_cls, make_dict_structure_fn(_cls, converter))


def _drop_nulls(value: Mapping[str, Any]) -> dict[str, Any]:
    # A JSON null for an optional field means "not given": let the attrs default apply.
    return {k: v for k, v in value.items() if v is not None}


def structure(value: Any, cls: type[T]) -> T:
    """Build ``cls`` from a decoded JSON value, or raise `InvalidResponseError`."""
    if not isinstance(value, Mapping):
        raise InvalidResponseError(
            f"The API answered {type(value).__name__} where a {cls.__name__} object was expected."
        )
    try:
        return converter.structure(_drop_nulls(value), cls)
    except (cattrs.BaseValidationError, ValueError, TypeError, KeyError, AttributeError) as exc:
        detail = _describe(exc)
        raise InvalidResponseError(
            f"The API's {cls.__name__} answer does not match the documented shape: {detail}"
        ) from None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, cattrs.BaseValidationError):
        notes = cattrs.transform_error(exc)
        return "; ".join(notes)[:300]
    return f"{type(exc).__name__}: {exc}"[:300]


def structure_render_job(value: Any, *, job_id: str) -> RenderJob:
    """Read an export answer in any of its documented shapes.

    Current: top-level ``status``, ``progress``, ``output.url``. Retracted: ``{"success": true,
    "data": {"status": ..., "outputUrl": ...}}``. The first version added ``taskId``.
    """
    if not isinstance(value, Mapping):
        raise InvalidResponseError(
            f"The render status answer was {type(value).__name__}, not an object."
        )
    body: Mapping[str, Any] = value
    inner = value.get("data")
    inner = inner if isinstance(inner, Mapping) else {}
    if "status" not in value and inner:
        body = inner
    raw_status = body.get("status")
    unknown: str | None = None
    try:
        status = RenderStatus(raw_status) if raw_status is not None else RenderStatus.PENDING
    except ValueError:
        # A spelling this SDK does not know yet (the service has used several): the job is
        # taken as still running, so the poll budget, not a new word, ends the wait.
        status = RenderStatus.PROCESSING
        unknown = str(raw_status)[:40]
    # The URL, duration and size may sit in `output` or flat, at the top level or under `data`.
    places = [p for p in (body, value, inner) if p]
    outputs = [o for o in (p.get("output") for p in places) if isinstance(o, Mapping)]
    url = _find(outputs, "url", "outputUrl") or _find(places, "outputUrl", "output_url", "url")
    if url is None and isinstance(body.get("output"), str):
        url = body["output"]
    error = _find(places, "error", "message", "errorMessage", "msg")
    return RenderJob(
        id=_opt_str(body.get("id")) or job_id,
        status=status,
        progress=_clamp_progress(body.get("progress"), status),
        url=url if isinstance(url, str) and url else None,
        duration=_opt_float(_find(outputs, "duration") or _find(places, "duration")),
        size=_opt_int(_find(outputs, "size") or _find(places, "size")),
        task_id=_opt_str(_find(places, "taskId", "task_id")),
        error=str(error)[:300] if error and status is RenderStatus.FAILED else None,
        unknown_status=unknown,
    )


def _find(places: list[Mapping[str, Any]], *keys: str) -> Any:
    """The first present, non-empty value of any of ``keys`` in the first place that has one."""
    for place in places:
        for key in keys:
            value = place.get(key)
            if value is not None and value != "":
                return value
    return None


def _opt_str(value: Any) -> str | None:
    try:
        return _str(value, str) if value is not None else None
    except TypeError:
        return None


def _opt_float(value: Any) -> float | None:
    try:
        return _float(value, float) if value is not None else None
    except (TypeError, ValueError):
        return None


def _opt_int(value: Any) -> int | None:
    try:
        return _int(value, int) if value is not None else None
    except (TypeError, ValueError, OverflowError):
        return None


def _clamp_progress(value: Any, status: RenderStatus) -> float:
    if isinstance(value, str):
        value = value.strip().rstrip("%")
    progress = _opt_float(value)
    if progress is None or progress != progress:
        return 100.0 if status is RenderStatus.COMPLETED else 0.0
    return min(100.0, max(0.0, progress))
