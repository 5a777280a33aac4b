"""The draft: the backend's timeline JSON, kept verbatim, and what changed between two drafts.

The export endpoint wants the draft back exactly as the state endpoint gave it, unknown keys
included, so :class:`Draft` keeps a private copy of the wire dict and only *derives* the typed
tracks and segments (:mod:`nemovideo.protocol.tracks`) from it. :func:`describe_changes` says
what an edit changed, for replies that said nothing.

Example:
    >>> draft = Draft.from_wire({"t": [{"tt": 7, "m": {"name": "Title"},
    ...     "sg": [{"st": 0, "d": 3000, "m": {"text": "Urban Dreams"}}]}], "d": 3000})
    >>> draft.summary()
    'Timeline (1 track): 1. Title: "Urban Dreams" (0-3s)'
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from nemovideo.protocol.errors import InvalidResponseError
from nemovideo.protocol.wire import (
    as_int,
    as_str,
    copy_json,
    first,
    format_seconds,
    meta_of,
    percent,
    span,
)

if TYPE_CHECKING:  # loaded on the first read of `Draft.tracks`: a state poll never builds them
    from nemovideo.protocol.tracks import Track

__all__ = ["Draft", "describe_changes"]


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
        return cls(wire=copy_json(obj) if copy or type(obj) is not dict else obj)

    @functools.cached_property
    def tracks(self) -> tuple[Track, ...]:
        """The tracks in wire order; malformed entries are skipped."""
        from nemovideo.protocol.tracks import Track

        items = first(self._wire, "t", "tracks")
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
        copied: dict[str, Any] = copy_json(self._wire)
        return copied

    @property
    def duration_ms(self) -> int:
        """The top-level ``d`` when usable, else where the last segment ends (0 when empty)."""
        declared = as_int(first(self._wire, "d", "duration"))
        if declared is not None and declared > 0:
            return declared
        return max((s.end_ms for t in self.tracks for s in t.segments), default=0)

    @property
    def ratio(self) -> str | None:
        """The aspect ratio from ``m.ratio`` ("16:9", "9:16", ...), when set."""
        return as_str(meta_of(self._wire).get("ratio"))

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
    return "default" if volume is None else percent(volume)


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
                f"{where} timing: {span(a.start_ms, a.end_ms)} -> {span(b.start_ms, b.end_ms)}"
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
