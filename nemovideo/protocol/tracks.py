"""The draft's typed, read-only views: tracks and their segments, derived from the wire dict.

Short wire keys: ``t`` tracks; per track ``tt`` type and ``sg`` segments; per segment ``st``
start and ``d`` duration (ms), ``src`` source; ``m`` metadata at every level. Each view keeps
the wire object it was read from (``raw``), so nothing the backend sent is lost.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import attrs

from nemovideo.protocol.wire import (
    as_float,
    as_id,
    as_int,
    as_str,
    copy_json,
    first,
    meta_of,
    percent,
    span,
)

__all__ = ["Segment", "Track", "TrackType"]


#: Track type used when a track has no usable ``tt``.
_MISSING_TYPE = -1


class TrackType(enum.IntEnum):
    """The documented track types (``tt``). Other numbers are kept as plain ``int``."""

    VIDEO = 0
    AUDIO = 1
    TEXT = 7


_TYPE_LABELS = {TrackType.VIDEO: "Video", TrackType.AUDIO: "Audio", TrackType.TEXT: "Text"}


@attrs.frozen
class Segment:
    """One piece of a track: a clip, an audio part or a text overlay (read-only view).

    Attributes:
        start_ms: where it starts on the timeline (``st``).
        duration_ms: how long it lasts (``d``).
        name: ``m.name``, or the text of a text segment.
        text: ``m.text`` for text segments, else ``None``.
        source: the media address (``src``), when there is one.
        volume: the gain from ``m.volume`` (0.35 = 35%), when set.
        id: the segment's ``id``, when present.
        raw: the segment's wire dict (a fresh copy on each access; changing it changes nothing).
    """

    start_ms: int
    duration_ms: int
    name: str | None = None
    text: str | None = None
    source: str | None = None
    volume: float | None = None
    id: str | None = None
    _raw: dict[str, Any] = attrs.field(factory=dict, eq=False, repr=False, alias="raw")

    @property
    def raw(self) -> dict[str, Any]:
        """The segment's wire dict, copied (changing it changes nothing)."""
        copied: dict[str, Any] = copy_json(self._raw)
        return copied

    @property
    def end_ms(self) -> int:
        """Where the segment ends: ``start_ms + duration_ms``."""
        return self.start_ms + self.duration_ms

    @property
    def label(self) -> str:
        """What people call it: the quoted text, the name, the file name of the source."""
        if self.text is not None:
            return f'"{self.text}"'
        if self.name:
            return self.name
        if self.source:
            tail = urlsplit(self.source).path.rstrip("/").rsplit("/", 1)[-1]
            if tail:
                return tail
        return "untitled"

    @classmethod
    def from_wire(cls, obj: Mapping[str, Any], *, copy: bool = True) -> Segment:
        """A view of one wire segment; missing or malformed values become defaults.

        ``copy=False`` keeps ``obj`` itself: only for a dict nobody else will change (the
        draft passes parts of its own private copy, so one copy serves every view).
        """
        if copy:
            obj = copy_json(obj)
        meta = meta_of(obj)
        text = as_str(first(meta, "text")) or as_str(obj.get("text"))
        name = as_str(first(meta, "name")) or as_str(obj.get("name")) or text
        return cls(
            start_ms=max(0, as_int(first(obj, "st", "start")) or 0),
            duration_ms=max(0, as_int(first(obj, "d", "duration")) or 0),
            name=name,
            text=text,
            source=as_str(first(obj, "src", "source", "url")),
            volume=as_float(first(meta, "volume")) if "volume" in meta else None,
            id=as_id(obj.get("id")),
            raw=obj,  # type: ignore[arg-type]
        )


@attrs.frozen
class Track:
    """One timeline track (read-only view).

    Attributes:
        type: a :class:`TrackType`, or the plain number for types this SDK does not know
            (``-1`` when the track had no usable ``tt``).
        segments: the track's segments in wire order; malformed entries are skipped.
        name: ``m.name`` ("Video", "BGM", "Title", ...), when set.
        id: the track's ``id``, when present.
        raw: the track's wire dict (a fresh copy on each access; changing it changes nothing).
    """

    type: TrackType | int
    segments: tuple[Segment, ...] = ()
    name: str | None = None
    id: str | None = None
    _raw: dict[str, Any] = attrs.field(factory=dict, eq=False, repr=False, alias="raw")

    @property
    def raw(self) -> dict[str, Any]:
        """The track's wire dict, copied (changing it changes nothing)."""
        copied: dict[str, Any] = copy_json(self._raw)
        return copied

    @property
    def label(self) -> str:
        """The track's name, else its type ("Video", "Audio", "Text", "Track 9")."""
        if self.name:
            return self.name
        if isinstance(self.type, TrackType):
            return _TYPE_LABELS[self.type]
        return "Track" if self.type == _MISSING_TYPE else f"Track {self.type}"

    def summary(self) -> str:
        """One line for people, e.g. ``BGM: Lo-fi (0-5s, 35%)``.

        Several segments give the first one's label, ``(+N more)`` and the overall span.
        """
        if not self.segments:
            return f"{self.label}: empty"
        first = self.segments[0]
        start = min(s.start_ms for s in self.segments)
        end = max(s.end_ms for s in self.segments)
        details = [span(start, end)]
        volumes = {s.volume for s in self.segments}
        if len(volumes) == 1 and first.volume is not None:
            details.append(percent(first.volume))
        more = f" (+{len(self.segments) - 1} more)" if len(self.segments) > 1 else ""
        return f"{self.label}: {first.label}{more} ({', '.join(details)})"

    @classmethod
    def from_wire(cls, obj: Mapping[str, Any], *, copy: bool = True) -> Track:
        """A view of one wire track; malformed segments are skipped.

        ``copy=False`` keeps ``obj`` itself (see :meth:`Segment.from_wire`).
        """
        if copy:
            obj = copy_json(obj)
        raw_type = as_int(first(obj, "tt", "type"))
        track_type: TrackType | int
        if raw_type is None:
            track_type = _MISSING_TYPE
        elif raw_type in TrackType._value2member_map_:
            track_type = TrackType(raw_type)
        else:
            track_type = raw_type
        items = first(obj, "sg", "segments")
        segments = items if isinstance(items, list) else []
        return cls(
            type=track_type,
            segments=tuple(
                Segment.from_wire(s, copy=False) for s in segments if isinstance(s, Mapping)
            ),
            name=as_str(meta_of(obj).get("name")),
            id=as_id(obj.get("id")),
            raw=obj,  # type: ignore[arg-type]
        )
