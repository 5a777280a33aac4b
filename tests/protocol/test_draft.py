"""The draft: typed views, the summary for people, changes, and the verbatim round trip."""

from __future__ import annotations

import copy
import pickle
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nemovideo.protocol.draft import Draft, describe_changes
from nemovideo.protocol.errors import InvalidResponseError
from nemovideo.protocol.tracks import Segment, Track, TrackType
from nemovideo.protocol.wire import format_seconds

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def sample() -> dict[str, Any]:
    """A draft as the state endpoint gives it, with keys the SDK does not know."""
    return {
        "v": 2,
        "t": [
            {
                "id": "trk_v",
                "tt": 0,
                "m": {"name": "Video"},
                "sg": [
                    {
                        "id": "seg_1",
                        "st": 0,
                        "d": 10000,
                        "src": "https://cdn.example/city.mp4",
                        "m": {"name": "city timelapse"},
                        "fx": [{"k": "zoom", "p": {"from": 1.0, "to": 1.2}}],
                    }
                ],
            },
            {
                "id": "trk_a",
                "tt": 1,
                "m": {"name": "BGM"},
                "sg": [{"st": 0, "d": 10000, "m": {"name": "Lo-fi", "volume": 0.35}}],
            },
            {
                "id": "trk_t",
                "tt": 7,
                "m": {"name": "Title"},
                "sg": [{"st": 0, "d": 3000, "m": {"name": "Title", "text": "Urban Dreams"}}],
            },
        ],
        "d": 10000,
        "m": {"ratio": "16:9"},
        "canvas": {"w": 1920, "h": 1080},
    }


DOCUMENTED = (
    "Timeline (3 tracks): 1. Video: city timelapse (0-10s) 2. BGM: Lo-fi (0-10s, 35%) "
    '3. Title: "Urban Dreams" (0-3s)'
)


def test_documented_summary_exactly() -> None:
    draft = Draft.from_wire(sample())
    assert draft.summary() == DOCUMENTED
    assert str(draft) == DOCUMENTED


def test_typed_views() -> None:
    draft = Draft.from_wire(sample())
    video, bgm, title = draft.tracks
    assert (video.type, bgm.type, title.type) == (TrackType.VIDEO, TrackType.AUDIO, TrackType.TEXT)
    assert video.id == "trk_v"
    assert video.segments[0] == Segment(
        start_ms=0,
        duration_ms=10000,
        name="city timelapse",
        source="https://cdn.example/city.mp4",
        id="seg_1",
    )
    assert video.segments[0].raw["fx"][0]["k"] == "zoom"
    assert bgm.segments[0].volume == 0.35
    assert title.segments[0].text == "Urban Dreams"
    assert title.segments[0].end_ms == 3000
    assert draft.duration_ms == 10000
    assert draft.ratio == "16:9"


def test_labels_fall_back_sensibly() -> None:
    draft = Draft.from_wire(
        {
            "t": [
                {"tt": 0, "sg": [{"st": 0, "d": 5000, "src": "https://cdn/a/sunset.jpg?x=1"}]},
                {"tt": 9, "sg": []},
                {"sg": [{"d": 2500}]},
            ]
        }
    )
    assert draft.summary() == (
        "Timeline (3 tracks): 1. Video: sunset.jpg (0-5s) 2. Track 9: empty "
        "3. Track: untitled (0-2.5s)"
    )
    assert draft.duration_ms == 5000  # no top-level d: the last segment's end


def test_several_segments_summary() -> None:
    track = Track.from_wire(
        {
            "tt": 0,
            "m": {"name": "Video"},
            "sg": [
                {"st": 0, "d": 4000, "m": {"name": "a"}},
                {"st": 4000, "d": 4000, "m": {"name": "b"}},
            ],
        }
    )
    assert track.summary() == "Video: a (+1 more) (0-8s)"


def test_empty_drafts() -> None:
    wires: list[dict[str, Any] | None] = [None, {}, {"t": []}, {"t": None}, {"t": "junk"}]
    for wire in wires:
        draft = Draft.from_wire(wire)
        assert draft.summary() == "Timeline (0 tracks): empty"
        assert not draft.is_exportable
        assert draft.duration_ms == 0
    assert Draft.from_wire({"t": [{"tt": 0, "sg": []}]}).summary() == (
        "Timeline (1 track): 1. Video: empty"
    )


def test_is_exportable() -> None:
    assert Draft.from_wire(sample()).is_exportable
    assert not Draft.from_wire({"t": [{"tt": 0, "sg": []}, {"tt": 1}]}).is_exportable
    assert Draft.from_wire({"t": [{"tt": 1, "sg": [{"st": 0, "d": 1}]}]}).is_exportable


def test_not_an_object_is_refused_with_a_hint() -> None:
    with pytest.raises(InvalidResponseError, match=r"client\.state\.get"):
        Draft.from_wire('{"t": []}')
    with pytest.raises(InvalidResponseError):
        Draft.from_wire([1, 2])


def test_malformed_values_become_defaults() -> None:
    draft = Draft.from_wire(
        {
            "t": [
                "junk",
                {"tt": "1", "sg": [5, {"st": "x", "d": -5, "m": {"volume": "loud"}}]},
                {"tt": True, "sg": [{"st": 1.6, "d": "2000"}]},
            ],
            "d": "abc",
        }
    )
    assert len(draft.tracks) == 2
    audio, unknown = draft.tracks
    assert audio.type is TrackType.AUDIO
    assert audio.segments[0].start_ms == 0
    assert audio.segments[0].duration_ms == 0
    assert audio.segments[0].volume is None
    assert unknown.type == -1
    assert (unknown.segments[0].start_ms, unknown.segments[0].duration_ms) == (2, 2000)


@pytest.mark.parametrize(
    ("ms", "text"), [(0, "0"), (5000, "5"), (2500, "2.5"), (1234, "1.23"), (10, "0.01"), (4, "0")]
)
def test_format_seconds(ms: int, text: str) -> None:
    assert format_seconds(ms) == text


def test_mutating_the_input_or_the_output_changes_nothing() -> None:
    wire = sample()
    draft = Draft.from_wire(wire)
    wire["t"][0]["sg"][0]["d"] = 1
    wire["canvas"]["w"] = 1
    assert draft.summary() == DOCUMENTED
    assert draft.to_wire() == sample()
    out = draft.to_wire()
    out["t"].clear()
    assert draft.to_wire() == sample()
    draft.tracks[0].segments[0].raw["d"] = 7
    assert draft.to_wire() == sample()


def test_equality_hash_and_pickle() -> None:
    a, b = Draft.from_wire(sample()), Draft.from_wire(sample())
    assert a == b
    assert hash(a) == hash(b)
    changed = sample()
    changed["canvas"]["w"] = 1280
    assert a != Draft.from_wire(changed)
    assert pickle.loads(pickle.dumps(a)) == a  # noqa: S301 - our own bytes


# -- describe_changes ---------------------------------------------------------------------------


def test_no_changes() -> None:
    assert describe_changes(Draft.from_wire(sample()), Draft.from_wire(sample())) == []


def test_added_and_removed_tracks() -> None:
    before = Draft.from_wire({"t": sample()["t"][:1], "d": 10000})
    after = Draft.from_wire(sample())
    assert describe_changes(before, after) == [
        "Added track: BGM: Lo-fi (0-10s, 35%)",
        'Added track: Title: "Urban Dreams" (0-3s)',
    ]
    assert describe_changes(after, before) == [
        "Removed track: BGM: Lo-fi (0-10s, 35%)",
        'Removed track: Title: "Urban Dreams" (0-3s)',
    ]


def test_changed_text_volume_timing_duration_ratio() -> None:
    after = sample()
    after["t"][2]["sg"][0]["m"]["text"] = "Night Lights"
    after["t"][1]["sg"][0]["m"]["volume"] = 0.5
    after["t"][0]["sg"][0]["d"] = 8000
    after["d"] = 8000
    after["m"]["ratio"] = "9:16"
    lines = describe_changes(Draft.from_wire(sample()), Draft.from_wire(after))
    assert lines == [
        "Video timing: 0-10s -> 0-8s",
        "BGM volume: 35% -> 50%",
        'Title text: "Urban Dreams" -> "Night Lights"',
        "Duration: 10s -> 8s",
        "Aspect ratio: 16:9 -> 9:16",
    ]


def test_tracks_without_ids_match_by_type_and_order() -> None:
    def strip_ids(wire: dict[str, Any]) -> dict[str, Any]:
        for track in wire["t"]:
            track.pop("id", None)
        return wire

    after = strip_ids(sample())
    after["t"][1]["sg"][0]["m"]["name"] = "Jazz"
    lines = describe_changes(Draft.from_wire(strip_ids(sample())), Draft.from_wire(after))
    assert lines == ["BGM: Lo-fi -> Jazz"]


def test_a_repeated_track_id_pairs_tracks_in_order() -> None:
    wire = {"t": [{"tt": 0, "id": 0, "sg": []}, {"tt": 0, "id": 0, "sg": []}]}
    assert describe_changes(Draft.from_wire(wire), Draft.from_wire(wire)) == []
    grown: dict[str, Any] = {"t": [*wire["t"], {"tt": 0, "id": 0, "sg": []}]}
    assert describe_changes(Draft.from_wire(wire), Draft.from_wire(grown)) == [
        "Added track: Video: empty"
    ]


def test_changes_outside_the_summary_are_still_reported() -> None:
    after = sample()
    after["t"][0]["sg"][0]["fx"] = []
    lines = describe_changes(Draft.from_wire(sample()), Draft.from_wire(after))
    assert lines == [f"The timeline changed. {DOCUMENTED}"]


def test_segment_count_change() -> None:
    after = sample()
    after["t"][0]["sg"].append({"st": 10000, "d": 2000, "m": {"name": "outro"}})
    lines = describe_changes(Draft.from_wire(sample()), Draft.from_wire(after))
    assert lines[0] == "Video: 1 segment -> 2 segments"


# -- the verbatim round trip --------------------------------------------------------------------

KEYS = st.sampled_from(["t", "tt", "sg", "st", "d", "m", "src", "id", "v", "fx", "x"]) | st.text(
    max_size=6
)
LEAF = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
)
JSON = st.recursive(
    LEAF,
    lambda c: st.lists(c, max_size=3) | st.dictionaries(KEYS, c, max_size=4),
    max_leaves=15,
)
SEGMENT = st.fixed_dictionaries(
    {"st": st.integers(0, 60_000) | JSON, "d": st.integers(0, 60_000) | JSON},
    optional={
        "m": st.dictionaries(st.sampled_from(["name", "text", "volume", "q"]), JSON),
        "x": JSON,
    },
)
TRACK = st.fixed_dictionaries(
    {"tt": st.sampled_from([0, 1, 7, 3]) | JSON, "sg": st.lists(SEGMENT | JSON, max_size=3)},
    optional={"m": st.dictionaries(st.sampled_from(["name", "zz"]), JSON), "id": JSON, "q": JSON},
)
DRAFT = st.fixed_dictionaries(
    {"t": st.lists(TRACK | JSON, max_size=4)},
    optional={"d": JSON, "m": JSON, "v": JSON, "canvas": JSON, "fx": JSON},
)


@FAST
@given(DRAFT)
def test_round_trip_is_exact_and_isolated(wire: dict[str, Any]) -> None:
    original = copy.deepcopy(wire)
    draft = Draft.from_wire(wire)
    assert draft.to_wire() == original
    assert list(draft.to_wire()) == list(original)  # key order kept too
    summary = draft.summary()
    assert summary.startswith("Timeline (")
    # Mutate every nested container of the input: the draft must not see it.
    _scramble(wire)
    assert draft.to_wire() == original
    assert draft.summary() == summary
    assert describe_changes(draft, Draft.from_wire(original)) == []


def _scramble(value: Any) -> None:
    if isinstance(value, dict):
        for item in list(value.values()):
            _scramble(item)
        value["__mutated__"] = True
    elif isinstance(value, list):
        for item in value:
            _scramble(item)
        value.append("__mutated__")


def test_views_raw_is_a_fresh_copy_and_never_changes_the_draft() -> None:
    wire = {"t": [{"tt": 0, "sg": [{"st": 0, "d": 1000, "x": {"k": [1]}}], "y": 1}], "d": 1000}
    draft = Draft.from_wire(wire)
    track_raw = draft.tracks[0].raw
    track_raw["y"] = 2
    segment_raw = draft.tracks[0].segments[0].raw
    segment_raw["x"]["k"].append(2)
    assert draft.to_wire() == wire
    assert draft.tracks[0].raw == wire["t"][0]
    assert draft.tracks[0].segments[0].raw == wire["t"][0]["sg"][0]
