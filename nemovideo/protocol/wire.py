"""Reading the backend's timeline JSON leniently: numbers, ids and texts as the wire gives them.

The draft comes from an agent's tools, so a number may be a string, an id an integer, a list
missing. These readers take what makes sense and give ``None`` for the rest, never raising;
the formatters turn the results into the short texts the summaries use.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from typing import Any

__all__ = [
    "as_float",
    "as_id",
    "as_int",
    "as_str",
    "copy_json",
    "first",
    "format_seconds",
    "meta_of",
    "percent",
    "span",
]


def format_seconds(ms: int) -> str:
    """Milliseconds as seconds without needless decimals: ``5000 -> "5"``, ``2500 -> "2.5"``."""
    text = f"{ms / 1000:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def copy_json(value: Any) -> Any:
    """A deep copy of decoded JSON (dicts, lists, scalars), several times faster than deepcopy.

    Other mappings are copied as dicts; anything else falls back to ``copy.deepcopy``.
    """
    kind = type(value)
    if kind is dict:
        return {key: copy_json(item) for key, item in value.items()}
    if kind is list:
        return [copy_json(item) for item in value]
    if value is None or kind in _SCALARS:
        return value
    if isinstance(value, Mapping):
        return {key: copy_json(item) for key, item in value.items()}
    return copy.deepcopy(value)


_SCALARS = frozenset({str, int, float, bool})


def as_int(value: object) -> int | None:
    """A wire number as ``int``: floats rounded, numeric strings parsed, anything else ``None``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    number = as_float(value)
    return None if number is None else round(number)


def as_float(value: object) -> float | None:
    """A wire number as a finite ``float``: numeric strings parsed, anything else ``None``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def as_str(value: object) -> str | None:
    """A wire string, or ``None`` for anything else."""
    return value if isinstance(value, str) else None


def as_id(value: object) -> str | None:
    """A wire id (a string or an integer) as text, or ``None``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (str, int)):
        return str(value)
    return None


def first(mapping: Mapping[str, Any], *keys: str) -> Any:
    """The first present, non-``None`` value among ``keys`` (short wire keys first)."""
    for key in keys:
        value = mapping.get(key)
        if value is not None:
            return value
    return None


def meta_of(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    """The ``m`` (metadata) object of a wire track or segment; empty when absent or malformed."""
    meta = mapping.get("m")
    return meta if isinstance(meta, Mapping) else {}


def percent(volume: float) -> str:
    """A volume as a percentage for people: ``0.35 -> "35%"``."""
    # The documented scale is a gain (0.35 = 35%); values above 2 can only be percentages already.
    return f"{round(volume * 100 if volume <= 2 else volume)}%"


def span(start_ms: int, end_ms: int) -> str:
    """A time range for people: ``span(0, 2500) -> "0-2.5s"``."""
    return f"{format_seconds(start_ms)}-{format_seconds(end_ms)}s"
