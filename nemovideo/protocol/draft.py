"""The draft: the backend's timeline JSON, kept verbatim, with typed read-only views.

The export endpoint wants the draft back exactly as the state endpoint gave it, unknown keys
included, so :class:`Draft` keeps a private copy of the wire dict and only *derives* tracks and
segments from it. Short wire keys: ``t`` tracks; per track ``tt`` type and ``sg`` segments; per
segment ``st`` start and ``d`` duration (ms), ``src`` source; ``m`` metadata at every level.

Example:
    >>> draft = Draft.from_wire({"t": [{"tt": 7, "m": {"name": "Title"},
    ...     "sg": [{"st": 0, "d": 3000, "m": {"text": "Urban Dreams"}}]}], "d": 3000})
    >>> draft.summary()
    'Timeline (1 track): 1. Title: "Urban Dreams" (0-3s)'
"""

from __future__ import annotations

import copy
import enum
import functools
import math
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import attrs

from nemovideo.protocol.errors import InvalidResponseError

__all__ = ["Draft", "Segment", "Track", "TrackType", "describe_changes", "format_seconds"]

#: Track type used when a track has no usable ``tt``.
_MISSING_TYPE = -1


class TrackType(enum.IntEnum):
    """The documented track types (``tt``). Other numbers are kept as plain ``int``."""

    VIDEO = 0
    AUDIO = 1
    TEXT = 7


_TYPE_LABELS = {TrackType.VIDEO: "Video", TrackType.AUDIO: "Audio", TrackType.TEXT: "Text"}


def format_seconds(ms: int) -> str:
    """Milliseconds as seconds without needless decimals: ``5000 -> "5"``, ``2500 -> "2.5"``."""
    text = f"{ms / 1000:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _copy_json(value: Any) -> Any:
    """A deep copy of decoded JSON (dicts, lists, scalars), several times faster than deepcopy.

    Other mappings are copied as dicts; anything else falls back to ``copy.deepcopy``.
    """
    kind = type(value)
    if kind is dict:
        return {key: _copy_json(item) for key, item in value.items()}
    if kind is list:
        return [_copy_json(item) for item in value]
    if value is None or kind in _SCALARS:
        return value
    if isinstance(value, Mapping):
        return {key: _copy_json(item) for key, item in value.items()}
    return copy.deepcopy(value)


_SCALARS = frozenset({str, int, float, bool})


def _as_int(value: object) -> int | None:
    """A wire number as ``int``: floats rounded, numeric strings parsed, anything else ``None``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    number = _as_float(value)
    return None if number is None else round(number)


def _as_float(value: object) -> float | None:
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


def _as_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _as_id(value: object) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (str, int)):
        return str(value)
    return None


def _first(mapping: Mapping[str, Any], *keys: str) -> Any:
    """The first present, non-``None`` value among ``keys`` (short wire keys first)."""
    for key in keys:
        value = mapping.get(key)
        if value is not None:
            return value
    return None


def _meta(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = mapping.get("m")
    return meta if isinstance(meta, Mapping) else {}


def _percent(volume: float) -> str:
    # The documented scale is a gain (0.35 = 35%); values above 2 can only be percentages already.
    return f"{round(volume * 100 if volume <= 2 else volume)}%"


def _span(start_ms: int, end_ms: int) -> str:
    return f"{format_seconds(start_ms)}-{format_seconds(end_ms)}s"


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
        copied: dict[str, Any] = _copy_json(self._raw)
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
            obj = _copy_json(obj)
        meta = _meta(obj)
        text = _as_str(_first(meta, "text")) or _as_str(obj.get("text"))
        name = _as_str(_first(meta, "name")) or _as_str(obj.get("name")) or text
        return cls(
            start_ms=max(0, _as_int(_first(obj, "st", "start")) or 0),
            duration_ms=max(0, _as_int(_first(obj, "d", "duration")) or 0),
            name=name,
            text=text,
            source=_as_str(_first(obj, "src", "source", "url")),
            volume=_as_float(_first(meta, "volume")) if "volume" in meta else None,
            id=_as_id(obj.get("id")),
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
        copied: dict[str, Any] = _copy_json(self._raw)
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
        details = [_span(start, end)]
        volumes = {s.volume for s in self.segments}
        if len(volumes) == 1 and first.volume is not None:
            details.append(_percent(first.volume))
        more = f" (+{len(self.segments) - 1} more)" if len(self.segments) > 1 else ""
        return f"{self.label}: {first.label}{more} ({', '.join(details)})"

    @classmethod
    def from_wire(cls, obj: Mapping[str, Any], *, copy: bool = True) -> Track:
        """A view of one wire track; malformed segments are skipped.

        ``copy=False`` keeps ``obj`` itself (see :meth:`Segment.from_wire`).
        """
        if copy:
            obj = _copy_json(obj)
        raw_type = _as_int(_first(obj, "tt", "type"))
        track_type: TrackType | int
        if raw_type is None:
            track_type = _MISSING_TYPE
        elif raw_type in TrackType._value2member_map_:
            track_type = TrackType(raw_type)
        else:
            track_type = raw_type
        items = _first(obj, "sg", "segments")
        segments = items if isinstance(items, list) else []
        return cls(
            type=track_type,
            segments=tuple(
                Segment.from_wire(s, copy=False) for s in segments if isinstance(s, Mapping)
            ),
            name=_as_str(_meta(obj).get("name")),
            id=_as_id(obj.get("id")),
            raw=obj,  # type: ignore[arg-type]
        )


@attrs.frozen(eq=False)
class Draft:
    """The timeline, verbatim on the wire and typed for reading.

    Build it with :meth:`from_wire`; send it back with :meth:`to_wire`, which returns the input
    unchanged (every key, known or not, in the same order). The typed :attr:`tracks` are
    derived from the wire on first read and kept, so a state poll that never looks at them
    does not pay for them.
    """

    _wire: dict[str, Any] = attrs.field(alias="wire")

    @classmethod
    def from_wire(cls, obj: object, *, copy: bool = True) -> Draft:
        """Read a draft as the state endpoint gives it (``None`` or ``{}``: an empty draft).

        ``copy=False`` keeps ``obj`` itself instead of a private copy: only for a dict nobody
        else holds or will change (such as one just decoded from an answer).

        Raises:
            InvalidResponseError: ``obj`` is not a JSON object.
        """
        if obj is None:
            obj = {}
        if not isinstance(obj, Mapping):
            raise InvalidResponseError(
                f"Expected the draft as a JSON object, got {type(obj).__name__}. Pass the "
                "`draft` field of the session state (client.state.get(...)), not its text."
            )
        # One copy, private to the draft; the track and segment views read parts of it.
        return cls(wire=_copy_json(obj) if copy or type(obj) is not dict else obj)

    @functools.cached_property
    def tracks(self) -> tuple[Track, ...]:
        """The tracks in wire order; malformed entries are skipped."""
        items = _first(self._wire, "t", "tracks")
        tracks = items if isinstance(items, list) else []
        return tuple(Track.from_wire(t, copy=False) for t in tracks if isinstance(t, Mapping))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Draft):
            return NotImplemented
        return self._wire == other._wire

    def __hash__(self) -> int:
        # Equal wires give equal tracks, so hashing the (hashable) tracks agrees with ``==``.
        return hash(self.tracks)

    def __repr__(self) -> str:
        return f"Draft(tracks={self.tracks!r})"

    def to_wire(self) -> dict[str, Any]:
        """A deep copy of the draft exactly as it was read, for the export endpoint."""
        copied: dict[str, Any] = _copy_json(self._wire)
        return copied

    @property
    def duration_ms(self) -> int:
        """The top-level ``d`` when usable, else where the last segment ends (0 when empty)."""
        declared = _as_int(_first(self._wire, "d", "duration"))
        if declared is not None and declared > 0:
            return declared
        return max((s.end_ms for t in self.tracks for s in t.segments), default=0)

    @property
    def ratio(self) -> str | None:
        """The aspect ratio from ``m.ratio`` ("16:9", "9:16", ...), when set."""
        return _as_str(_meta(self._wire).get("ratio"))

    @property
    def is_exportable(self) -> bool:
        """Whether at least one track has a segment: the export endpoint refuses empty drafts."""
        return any(t.segments for t in self.tracks)

    def summary(self) -> str:
        """The timeline in one line for people.

        Example: ``Timeline (2 tracks): 1. Video: sunset.jpg (0-5s) 2. BGM: Lo-fi (0-5s, 35%)``
        """
        count = len(self.tracks)
        head = f"Timeline ({count} track{'' if count == 1 else 's'}):"
        if not count:
            return f"{head} empty"
        return " ".join([head, *(f"{i}. {t.summary()}" for i, t in enumerate(self.tracks, 1))])

    def __str__(self) -> str:
        return self.summary()


def _match_tracks(
    before: tuple[Track, ...], after: tuple[Track, ...]
) -> tuple[list[tuple[Track, Track]], list[Track], list[Track]]:
    """Pairs (before, after), added and removed tracks: by ``id``, else by type and order."""
    # Ids should be unique, but a draft may repeat one: such tracks pair up in order.
    before_ids: dict[str, list[Track]] = {}
    for track in before:
        if track.id is not None:
            before_ids.setdefault(track.id, []).append(track)
    pairs: list[tuple[Track, Track]] = []
    added: list[Track] = []
    matched: set[int] = set()
    # Tracks without an id pair up as "the k-th id-less track of this type" on both sides.
    anonymous: dict[tuple[int, int], Track] = {}
    counts: dict[int, int] = {}
    for track in before:
        if track.id is None:
            nth = counts.get(track.type, 0)
            counts[track.type] = nth + 1
            anonymous[(int(track.type), nth)] = track
    counts.clear()
    for track in after:
        if track.id is not None:
            same_id = before_ids.get(track.id)
            old = same_id.pop(0) if same_id else None
        else:
            nth = counts.get(track.type, 0)
            counts[track.type] = nth + 1
            old = anonymous.get((int(track.type), nth))
        if old is None:
            added.append(track)
        else:
            pairs.append((old, track))
            matched.add(id(old))
    removed = [t for t in before if id(t) not in matched]
    return pairs, added, removed


def _plural(count: int) -> str:
    return f"{count} segment{'' if count == 1 else 's'}"


def _volume(volume: float | None) -> str:
    return "default" if volume is None else _percent(volume)


def _track_changes(old: Track, new: Track) -> list[str]:
    label = new.label
    lines: list[str] = []
    if old.label != new.label:
        lines.append(f"Track renamed: {old.label} -> {new.label}")
    if len(old.segments) != len(new.segments):
        lines.append(f"{label}: {_plural(len(old.segments))} -> {_plural(len(new.segments))}")
        return lines
    several = len(new.segments) > 1
    for index, (a, b) in enumerate(zip(old.segments, new.segments, strict=True), 1):
        where = f"{label} (segment {index})" if several else label
        if a.text != b.text and a.text is not None and b.text is not None:
            lines.append(f'{where} text: "{a.text}" -> "{b.text}"')
        elif a.label != b.label:
            lines.append(f"{where}: {a.label} -> {b.label}")
        if a.volume != b.volume:
            lines.append(f"{where} volume: {_volume(a.volume)} -> {_volume(b.volume)}")
        if (a.start_ms, a.end_ms) != (b.start_ms, b.end_ms):
            lines.append(
                f"{where} timing: {_span(a.start_ms, a.end_ms)} -> {_span(b.start_ms, b.end_ms)}"
            )
    return lines


def describe_changes(before: Draft, after: Draft) -> list[str]:
    """Plain-language lines saying how the timeline changed; empty when nothing did.

    Used to answer an edit that came back with no text. Tracks are matched by ``id`` when they
    have one, else by type and order.

    Example:
        >>> a = Draft.from_wire({"t": [], "d": 5000})
        >>> b = Draft.from_wire({"t": [{"tt": 1, "m": {"name": "BGM"},
        ...     "sg": [{"st": 0, "d": 5000, "m": {"name": "Lo-fi", "volume": 0.35}}]}], "d": 5000})
        >>> describe_changes(a, b)
        ['Added track: BGM: Lo-fi (0-5s, 35%)']
    """
    pairs, added, removed = _match_tracks(before.tracks, after.tracks)
    lines = [f"Removed track: {t.summary()}" for t in removed]
    lines += [f"Added track: {t.summary()}" for t in added]
    for old, new in pairs:
        lines += _track_changes(old, new)
    if before.duration_ms != after.duration_ms:
        lines.append(
            f"Duration: {format_seconds(before.duration_ms)}s -> "
            f"{format_seconds(after.duration_ms)}s"
        )
    if before.ratio != after.ratio and before.ratio and after.ratio:
        lines.append(f"Aspect ratio: {before.ratio} -> {after.ratio}")
    if not lines and before != after:
        # Something outside the summarised fields changed (effects, motion, ...): say so.
        lines.append(f"The timeline changed. {after.summary()}")
    return lines
