"""The simulated agent's brain: what a message asks for, and how each tool changes the draft.

Pure: no I/O, no clock. :func:`plan_turn` reads a message and the session, and returns the
tool steps with their simulated durations and the words to say; :func:`apply_step` performs one
step on a draft dict. ``chat.py`` runs the plan on the clock and streams it as ADK events.

What the agent takes from the words, so that the video shows what was asked:

- The title: quoted text ("titled 'Sea Breeze'"); else, for a generation, the first words of
  the description ("... video clip: waves roll in" -> "Waves Roll In"), else the uploaded
  file's name ("sunset.jpg" -> "Sunset"), else "My Video". Never a random one.
- An edit that names no new title text keeps the current title; a colour word ("make the
  title red") or ``#rrggbb`` changes only its colour.
- A resolution ("480p", "720p", as the SDK appends " (480p)") is kept in the draft's
  ``m.resolution`` and sizes the canvas; renders are that many lines high.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from typing import Any, Literal

import attrs

from nemovideo.sandbox.store import MediaRecord

__all__ = ["Step", "TurnPlan", "apply_step", "plan_turn"]

_GENERATE = re.compile(
    r"\b(?:animat\w*|generat\w*)\b|\bbring\b.*\bto life\b"
    r"|\b(?:create|make|produce|render)\s+(?:me\s+)?(?:a|an|one|some)\b[^.]*?"
    r"\b(?:video|clip|movie|animation)|\bturn\b.*\binto\b.*\b(?:video|clip|movie|animation)",
    re.I,
)
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*-?\s*(?:s|sec|secs|second|seconds)\b", re.I)
_RESIZE = re.compile(
    r"\b(?:make|set|change|trim|cut|extend|shorten|lengthen)\b.*\b(?:it|video|clip|duration|"
    r"length|to)\b|\b(?:long|longer|shorter)\b",
    re.I,
)
_MUSIC = re.compile(r"\b(?:bgm|music|soundtrack|song|melody|audio)\b", re.I)
_TITLE = re.compile(r"\b(?:title|caption|headline|heading)\b", re.I)
_REMOVE = re.compile(r"\b(?:remove|delete|drop|without|no more|take out|get rid of)\b", re.I)
_QUOTED = re.compile(r"\"([^\"]+)\"|“([^”]+)”|‘([^’]+)’|「([^」]+)」|(?<!\w)'([^']+)'(?!\w)")
_RATIOS = {
    "9:16": (1080, 1920),
    "16:9": (1920, 1080),
    "1:1": (1080, 1080),
    "4:3": (1440, 1080),
    "3:4": (1080, 1440),
}
_RATIO_WORDS = (
    (re.compile(r"\b(?:vertical|portrait|tiktok|reels?|shorts)\b", re.I), "9:16"),
    (re.compile(r"\b(?:square)\b", re.I), "1:1"),
    (re.compile(r"\b(?:landscape|horizontal|widescreen)\b", re.I), "16:9"),
)
_BGM_LIBRARY = ("Lo-fi Chill", "Warm Horizon", "Upbeat Pop", "Cinematic Rise", "Acoustic Morning")
_RESOLUTION = re.compile(r"\b(360|480|540|720|1080|1440|2160)p\b", re.I)
_RESOLUTION_MARK = re.compile(r"\(\s*\d{3,4}p\s*\)", re.I)
#: The instruction part of a generation request ("animate this image into a clip"), removed to
#: find the description the title is made from.
_INSTRUCTION = re.compile(
    r"^\W*(?:(?:please|can|could|would|you|kindly)\s+)*"
    r"(?:animate|turn|make|create|generate|produce|render|bring)\b"
    r"(?:\W+(?:me|this|that|the|my|it|its|a|an|one|some|into|to|in|image|photo|picture|pic|"
    r"still|video|clip|movie|animation|life|animated|short|long|little|new|second|seconds|"
    r"sec|secs|s)\b)*",
    re.I,
)
_FILLER = re.compile(r"^(?:[\W_]+|(?:of|about|showing|with|where|that|which|shows?)\b)+", re.I)
_SMALL_WORDS = frozenset(
    {"a", "an", "and", "as", "at", "by", "for", "in", "of", "on", "or", "over", "the", "to"}
)
_ARTICLES = frozenset({"a", "an", "the"})
_TITLE_MAX_WORDS = 5
_DEFAULT_TITLE = "My Video"
_COLORS = {
    "white": "#FFFFFF",
    "black": "#000000",
    "red": "#FF0000",
    "green": "#00A000",
    "blue": "#0050FF",
    "yellow": "#FFD400",
    "orange": "#FF8C00",
    "purple": "#8E44AD",
    "pink": "#FF69B4",
    "gold": "#FFD700",
    "golden": "#FFD700",
    "grey": "#808080",
    "gray": "#808080",
}
_COLOR = re.compile(r"#[0-9a-f]{6}\b|\b(?:" + "|".join(_COLORS) + r")\b", re.I)
_GUI_HINTS = (
    " You can preview it in the timeline and click the Export button when you are happy.",
    " Open the timeline panel to see the tracks.",
    "",
    "",
)

TurnKind = Literal["generate", "edit", "text"]


@attrs.frozen
class Step:
    """One tool call: its name, its arguments, and the simulated seconds it works."""

    name: str
    args: dict[str, Any]
    seconds: float


@attrs.frozen
class TurnPlan:
    """What the agent does with one message.

    Attributes:
        kind: ``generate`` (two-stage), ``edit`` (draft changes) or ``text`` (words only).
        intro: the text streamed before the tools (``None``: nothing).
        steps: the tool calls, in order.
        outro: the text streamed after the tools (``None``: a silent turn).
        text_seconds: simulated seconds the words take to stream.
    """

    kind: TurnKind
    intro: str | None
    steps: tuple[Step, ...]
    outro: str | None
    text_seconds: float


def _quoted(message: str) -> str | None:
    match = _QUOTED.search(message)
    if match is None:
        return None
    return next(g for g in match.groups() if g is not None).strip() or None


def _title_case(words: list[str]) -> str:
    out = []
    for index, word in enumerate(words):
        lower = word.lower()
        if 0 < index < len(words) - 1 and lower in _SMALL_WORDS:
            out.append(lower)
        elif word[:1].islower():
            out.append(word[:1].upper() + word[1:])
        else:
            out.append(word)
    return " ".join(out)


def _title_from(message: str, source: MediaRecord | None = None) -> str:
    """A title from the request's own words, else from the uploaded file's name (never random).

    Example::

        >>> _title_from("Animate this image into a 5-second video clip: waves roll in (480p)")
        'Waves Roll In'
    """
    text = " ".join(_DURATION.sub(" ", _RESOLUTION_MARK.sub(" ", message)).split())
    head, colon, tail = text.partition(":")
    if colon and not _INSTRUCTION.sub("", head, count=1).strip(" ,.-"):
        text = tail  # "Animate this image into a clip: <the description>"
    else:
        text = _INSTRUCTION.sub("", text, count=1)
    clause = re.split(r"[,.;:!?()\[\]\n]", _FILLER.sub("", text.strip()), maxsplit=1)[0]
    words = clause.split()
    while words and words[0].lower() in _ARTICLES:
        words.pop(0)
    if len(words) > _TITLE_MAX_WORDS:
        words = words[:_TITLE_MAX_WORDS]
        while len(words) > 1 and words[-1].lower() in _SMALL_WORDS:
            words.pop()  # "My Dog Running on the" reads cut off
    if words:
        return _title_case(words)[:60]
    if source is not None:
        stem = source.filename.rsplit(".", 1)[0]
        name = re.sub(r"[\W_]+", " ", stem).strip()
        if re.search(r"[^\W\d_]{3,}", name):
            return _title_case(name.split()[:_TITLE_MAX_WORDS])[:60]
    return _DEFAULT_TITLE


def _resolution(message: str) -> str | None:
    match = _RESOLUTION.search(message)
    return f"{match.group(1)}p" if match is not None else None


def _color(message: str, quoted: str | None) -> tuple[str, str] | None:
    """(name as said, ``#RRGGBB``) of a colour named outside the quoted title text."""
    outside = message.replace(quoted, " ") if quoted else message
    match = _COLOR.search(outside)
    if match is None:
        return None
    word = match.group(0)
    return word.lower(), _COLORS.get(word.lower(), word.upper())


def _current_title(draft: dict[str, Any]) -> str | None:
    for track in draft.get("t") or []:
        if isinstance(track, dict) and track.get("tt") == 7:
            for segment in track.get("sg") or []:
                meta = segment.get("m") if isinstance(segment, dict) else None
                text = meta.get("text") if isinstance(meta, dict) else None
                if isinstance(text, str) and text.strip():
                    return text
    return None


def _video_prompt(draft: dict[str, Any]) -> str | None:
    for track in draft.get("t") or []:
        if isinstance(track, dict) and track.get("tt") == 0:
            for segment in track.get("sg") or []:
                meta = segment.get("m") if isinstance(segment, dict) else None
                prompt = meta.get("prompt") if isinstance(meta, dict) else None
                if isinstance(prompt, str) and prompt.strip():
                    return prompt
    return None


def _seconds(message: str) -> float | None:
    match = _DURATION.search(message)
    if match is None:
        return None
    return min(max(float(match.group(1)), 1.0), 60.0)


def _ratio(message: str) -> str | None:
    for ratio in _RATIOS:
        if ratio in message:
            return ratio
    for pattern, ratio in _RATIO_WORDS:
        if pattern.search(message):
            return ratio
    return None


def _latest(media: list[MediaRecord], kind: str) -> MediaRecord | None:
    return next((m for m in reversed(media) if m.file_type == kind), None)


def _nice(seconds: float) -> str:
    return f"{seconds:g}"


def _a(number: str) -> str:
    """The article for a number said aloud: "an 8-second clip", "a 5-second clip"."""
    return "an" if number.startswith(("8", "11", "18")) else "a"


@attrs.frozen
class _Asked:
    """What a message asks for, read once."""

    seconds: float | None
    title: str | None
    music: bool
    wants_title: bool
    removing: bool
    ratio: str | None
    resolution: str | None
    generate: bool

    @classmethod
    def read(cls, message: str) -> _Asked:
        title = _quoted(message)
        return cls(
            seconds=_seconds(message),
            title=title,
            music=bool(_MUSIC.search(message)),
            wants_title=bool(_TITLE.search(message)) or title is not None,
            removing=bool(_REMOVE.search(message)),
            ratio=_ratio(message),
            resolution=_resolution(message),
            generate=bool(_GENERATE.search(message)),
        )


def plan_turn(
    message: str, media: list[MediaRecord], draft: dict[str, Any], rng: random.Random
) -> TurnPlan:
    """Decide what the agent does with ``message`` (choices drawn from ``rng``)."""
    asked = _Asked.read(message)
    hint = rng.choice(_GUI_HINTS)
    if asked.generate and not asked.removing:
        return _plan_generation(asked, message, media, rng, hint)
    steps: list[Step] = []
    said: list[str] = []
    _music_steps(asked, media, rng, steps, said)
    _title_steps(asked, message, media, draft, steps, said)
    _shape_steps(asked, message, steps, said)
    if not steps:
        return TurnPlan("text", None, (), _answer(message, media, draft), rng.uniform(5, 15))
    total = rng.uniform(10, 30)
    timed = tuple(attrs.evolve(step, seconds=total / len(steps)) for step in steps)
    outro = "Done: I " + ", ".join(said) + "." + hint
    return TurnPlan("edit", None, timed, outro, rng.uniform(1, 3))


def _plan_generation(
    asked: _Asked, message: str, media: list[MediaRecord], rng: random.Random, hint: str
) -> TurnPlan:
    """A first video from the latest upload (or the words alone), with music and a title."""
    duration = asked.seconds or 5.0
    source = _latest(media, "image") or _latest(media, "video")
    total = rng.uniform(100, 300)
    bgm = rng.choice(_BGM_LIBRARY)
    title = asked.title or _title_from(message, source)
    what = f"your {source.file_type} {source.filename}" if source else "your description"
    generation = {
        "duration_s": duration,
        "prompt": message[:500],
        "source_url": source.cdn_url if source else None,
        "ratio": asked.ratio or _source_ratio(source),
        "resolution": asked.resolution,
    }
    steps = (
        Step("generate_video", generation, total * 0.85),
        Step("add_bgm", {"track": bgm, "volume": 0.35}, total * 0.08),
        Step("add_title", {"text": title}, total * 0.07),
    )
    return TurnPlan(
        "generate",
        f"I'll animate {what} into {_a(_nice(duration))} {_nice(duration)}-second clip, "
        "then add music and a title.",
        steps,
        f"Your {_nice(duration)}-second video is ready, with background music ({bgm}) and "
        f'the title "{title}".{hint}',
        rng.uniform(2, 5),
    )


def _music_steps(
    asked: _Asked, media: list[MediaRecord], rng: random.Random, steps: list[Step], said: list[str]
) -> None:
    if asked.music and asked.removing:
        steps.append(Step("remove_track", {"track_type": 1}, 0))
        said.append("removed the background music")
    elif asked.music:
        audio = _latest(media, "audio")
        bgm = audio.filename if audio else rng.choice(_BGM_LIBRARY)
        source = audio.cdn_url if audio else None
        steps.append(Step("add_bgm", {"track": bgm, "volume": 0.35, "source_url": source}, 0))
        said.append(f"added background music ({bgm}) at 35% volume")


def _title_steps(
    asked: _Asked,
    message: str,
    media: list[MediaRecord],
    draft: dict[str, Any],
    steps: list[Step],
    said: list[str],
) -> None:
    if asked.wants_title and asked.removing:
        steps.append(Step("remove_track", {"track_type": 7}, 0))
        said.append("removed the title")
        return
    if not asked.wants_title:
        return
    current = _current_title(draft)
    color = _color(message, asked.title)
    prompt = _video_prompt(draft)
    text = asked.title or current or _title_from(prompt or "", _latest(media, "image"))
    args: dict[str, Any] = {"text": text}
    if color is not None:
        args["color"] = color[1]
    steps.append(Step("add_title", args, 0))
    if text == current and color is not None:
        said.append(f'made the title "{text}" {color[0]}')
    elif text == current:
        said.append(f'kept the title "{text}"')
    else:
        said.append(f'added the title "{text}"')


def _shape_steps(asked: _Asked, message: str, steps: list[Step], said: list[str]) -> None:
    """Duration, aspect ratio and resolution changes."""
    if asked.seconds is not None and (_RESIZE.search(message) or not steps):
        steps.append(Step("set_duration", {"duration_s": asked.seconds}, 0))
        said.append(f"made the video {_nice(asked.seconds)} seconds long")
    if asked.ratio is not None:
        steps.append(Step("set_ratio", {"ratio": asked.ratio}, 0))
        said.append(f"changed the aspect ratio to {asked.ratio}")
    if asked.resolution is not None:
        steps.append(Step("set_resolution", {"resolution": asked.resolution}, 0))
        said.append(f"set the resolution to {asked.resolution}")


def _answer(message: str, media: list[MediaRecord], draft: dict[str, Any]) -> str:
    tracks = draft.get("t") or []
    if not media and not tracks:
        return (
            "I can turn your images into short videos, add background music and titles, and "
            "change the length or the aspect ratio. Upload an image and tell me what to make."
        )
    return (
        f"Your project has {len(media)} uploaded file(s) and {len(tracks)} track(s) on the "
        "timeline. Ask me to animate an image, add music or a title, or change the duration."
    )


def _source_ratio(source: MediaRecord | None) -> str:
    if source is None or not source.width or not source.height:
        return "16:9"
    aspect = source.width / source.height
    return min(_RATIOS, key=lambda r: abs(_RATIOS[r][0] / _RATIOS[r][1] - aspect))


# ---- draft edits ---------------------------------------------------------------------------
def _duration(draft: dict[str, Any]) -> int:
    value = draft.get("d")
    return value if isinstance(value, int) and value > 0 else 5000


def _put_track(draft: dict[str, Any], track: dict[str, Any]) -> None:
    """Replace the track of the same type, keeping tracks ordered video, audio, text."""
    tracks = [t for t in draft.get("t") or [] if t.get("tt") != track["tt"]]
    tracks.append(track)
    tracks.sort(key=lambda t: t.get("tt", 99) if isinstance(t.get("tt"), int) else 99)
    draft["t"] = tracks


def apply_step(draft: dict[str, Any], step: Step, *, ids: random.Random, cdn_url: str) -> None:
    """Perform ``step`` on ``draft`` in place (``ids`` draws segment ids)."""
    seg_id = f"seg_{ids.getrandbits(48):012x}"
    _STEP_ACTIONS[step.name](draft, step.args, seg_id, cdn_url)
    draft["v"] = int(draft.get("v", 0) or 0) + 1


def _one_segment_track(
    draft: dict[str, Any], track_id: str, kind: int, name: str, segment: dict[str, Any]
) -> None:
    _put_track(draft, {"id": track_id, "tt": kind, "m": {"name": name}, "sg": [segment]})


def _generate_video(draft: dict[str, Any], args: dict[str, Any], seg_id: str, _: str) -> None:
    length = round(float(args["duration_s"]) * 1000)
    meta = draft.setdefault("m", {})
    if args.get("resolution"):
        meta["resolution"] = args["resolution"]
    else:  # a new generation at the default size
        meta.pop("resolution", None)
    _set_ratio(draft, args.get("ratio") or "16:9")
    name = (args.get("source_url") or "").rsplit("/", 1)[-1] or "Generated clip"
    segment = {
        "id": seg_id,
        "st": 0,
        "d": length,
        "src": args.get("source_url"),
        "m": {"name": name, "prompt": args.get("prompt", "")[:120]},
        "fx": {"motion": "ken_burns", "zoom": [1.0, 1.12]},
    }
    _one_segment_track(draft, "trk_video", 0, "Video", segment)
    draft["d"] = length


def _add_bgm(draft: dict[str, Any], args: dict[str, Any], seg_id: str, cdn_url: str) -> None:
    length = _duration(draft)
    slug = re.sub(r"[^a-z0-9]+", "-", str(args["track"]).lower()).strip("-")
    segment = {
        "id": seg_id,
        "st": 0,
        "d": length,
        "src": args.get("source_url") or f"{cdn_url}/library/bgm/{slug}.m4a",
        "m": {"name": args["track"], "volume": args.get("volume", 0.35)},
        "fade": {"in": 500, "out": 1000},
    }
    _one_segment_track(draft, "trk_bgm", 1, "BGM", segment)
    draft["d"] = length


def _add_title(draft: dict[str, Any], args: dict[str, Any], seg_id: str, _: str) -> None:
    length = _duration(draft)
    style = {"font": "Inter", "size": 64, "color": "#FFFFFF", "pos": "lower-third"}
    style.update(_title_style(draft))  # a new text keeps the title's look
    if args.get("color"):
        style["color"] = args["color"]
    segment = {
        "id": seg_id,
        "st": 0,
        "d": min(3000, length),
        "m": {"name": "Title", "text": args["text"]},
        "style": style,
    }
    _one_segment_track(draft, "trk_title", 7, "Title", segment)
    draft["d"] = length


def _remove_track(draft: dict[str, Any], args: dict[str, Any], _id: str, _url: str) -> None:
    draft["t"] = [t for t in draft.get("t") or [] if t.get("tt") != args["track_type"]]
    if not draft["t"]:
        draft["d"] = 0


def _set_resolution(draft: dict[str, Any], args: dict[str, Any], _id: str, _url: str) -> None:
    draft.setdefault("m", {})["resolution"] = args["resolution"]
    _set_ratio(draft, (draft.get("m") or {}).get("ratio") or "16:9")


_StepAction = Callable[[dict[str, Any], dict[str, Any], str, str], None]

#: What each of the agent's tool steps does to the draft.
_STEP_ACTIONS: dict[str, _StepAction] = {
    "generate_video": _generate_video,
    "add_bgm": _add_bgm,
    "add_title": _add_title,
    "remove_track": _remove_track,
    "set_duration": lambda d, a, _i, _u: _set_duration(d, round(float(a["duration_s"]) * 1000)),
    "set_ratio": lambda d, a, _i, _u: _set_ratio(d, a["ratio"]),
    "set_resolution": _set_resolution,
}


def _title_style(draft: dict[str, Any]) -> dict[str, Any]:
    for track in draft.get("t") or []:
        if isinstance(track, dict) and track.get("tt") == 7:
            for segment in track.get("sg") or []:
                style = segment.get("style") if isinstance(segment, dict) else None
                if isinstance(style, dict):
                    return dict(style)
    return {}


def _set_ratio(draft: dict[str, Any], ratio: str) -> None:
    """Set ``m.ratio`` and the canvas: 1080 lines, or the draft's ``m.resolution``."""
    width, height = _RATIOS.get(ratio, (1920, 1080))
    meta = draft.setdefault("m", {})
    meta["ratio"] = ratio if ratio in _RATIOS else "16:9"
    match = _RESOLUTION.fullmatch(str(meta.get("resolution") or ""))
    if match is not None:  # e.g. 4:3 at 480p: 640x480; 16:9 at 480p: 854x480
        lines = int(match.group(1))
        width, height = max(2, round(width * lines / height / 2) * 2), lines
    draft["canvas"] = {**(draft.get("canvas") or {}), "w": width, "h": height}


def _set_duration(draft: dict[str, Any], length: int) -> None:
    old = _duration(draft)
    for track in draft.get("t") or []:
        for segment in track.get("sg") or []:
            if track.get("tt") == 7:
                segment["d"] = min(int(segment.get("d", 0)), length)
            else:  # stretch media tracks proportionally to the new length
                segment["st"] = round(int(segment.get("st", 0)) * length / old)
                segment["d"] = round(int(segment.get("d", 0)) * length / old)
    draft["d"] = length
