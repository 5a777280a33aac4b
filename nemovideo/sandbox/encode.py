"""Turning a draft into a real, playable H.264 MP4 (yuv420p, ``+faststart``) with PyAV.

Video segments become a slow Ken Burns pan and zoom over their still; a BGM segment becomes a
quiet AAC chord; a title segment becomes its text (``m.text``, in ``style.color``) drawn with
Pillow's bundled font on a translucent bar that fades in. The output is as high as the draft's
``m.resolution`` asks ("480p": 480 lines), at most the sandbox's ``render_height``.

A source the renderer cannot use (a file FFmpeg cannot decode, a URL that is not one of this
sandbox's uploads) fails the render with :class:`RenderInputError`, naming the file: it never
becomes a placeholder picture. Blocking: the server runs :func:`render_mp4` in a worker thread,
a few at a time.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from nemovideo.sandbox.media import UndecodableMediaError, decode_still, neutral_image

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Image = npt.NDArray[np.uint8]

__all__ = [
    "MAX_RENDER_MS",
    "RenderCancelledError",
    "RenderInputError",
    "RenderPlan",
    "Title",
    "frame_size",
    "plan_from_draft",
    "render_mp4",
    "requested_height",
]

#: Longest timeline rendered; anything later is cut, keeping one render's cost bounded.
MAX_RENDER_MS = 600_000
_MAX_ZOOM = 1.12
_SAMPLE_RATE = 48_000


_RESOLUTION = re.compile(r"^\s*(\d{2,4})\s*p\s*$", re.I)
_HEX_COLOR = re.compile(r"^#?([0-9a-f]{6})$", re.I)
_WHITE = (255, 255, 255)


class RenderCancelledError(Exception):
    """The render was stopped (a cancel request, or the sandbox closing)."""


class RenderInputError(Exception):
    """The draft uses a medium the renderer cannot read; the message says which and why."""


@attrs.frozen
class Visual:
    """A picture on the timeline.

    Attributes:
        source: the stored file or its bytes; ``None`` when ``src`` is not stored here.
        src: the segment's ``src`` URL; ``None`` when the segment has no source at all (a
            generation from words alone), the only case rendered as a neutral frame.
    """

    start_ms: int
    duration_ms: int
    source: bytes | Path | None
    direction: int = 0
    src: str | None = None

    @property
    def name(self) -> str:
        """The source's file name, for error messages."""
        if self.src is None:
            return "the segment's source"
        return self.src.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1] or self.src


@attrs.frozen
class Title:
    """A title segment: ``text`` drawn in ``color`` (RGB) on a bar in the lower third."""

    start_ms: int
    duration_ms: int
    text: str = ""
    color: tuple[int, int, int] = _WHITE


@attrs.frozen
class Sound:
    """A BGM segment, rendered as a soft chord at ``volume``."""

    start_ms: int
    duration_ms: int
    volume: float = 0.35


@attrs.frozen
class RenderPlan:
    """Everything :func:`render_mp4` needs, resolved from a draft (no URLs left)."""

    width: int
    height: int
    fps: int
    duration_ms: int
    visuals: tuple[Visual, ...] = ()
    sounds: tuple[Sound, ...] = ()
    titles: tuple[Title, ...] = ()

    @property
    def frame_count(self) -> int:
        """Frames in the output: the duration rounded to whole frames (at least one)."""
        return max(1, round(self.duration_ms * self.fps / 1000))


def _number(value: object, default: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return default
    try:
        number = float(value)
    except ValueError:
        return default
    return number if math.isfinite(number) else default


def _color(value: object) -> tuple[int, int, int]:
    match = _HEX_COLOR.match(value) if isinstance(value, str) else None
    if match is None:
        return _WHITE
    number = int(match.group(1), 16)
    return (number >> 16) & 255, (number >> 8) & 255, number & 255


def requested_height(draft: Mapping[str, Any]) -> int | None:
    """The height the draft's ``m.resolution`` asks for ("480p" -> 480), if it asks one."""
    meta = draft.get("m")
    text = meta.get("resolution") if isinstance(meta, Mapping) else None
    match = _RESOLUTION.match(text) if isinstance(text, str) else None
    return int(match.group(1)) if match is not None and int(match.group(1)) >= 16 else None


def frame_size(draft: Mapping[str, Any], height: int) -> tuple[int, int]:
    """Output (width, height): ``height`` pixels high, the draft's ``m.ratio`` wide, both even."""
    ratio = 16 / 9
    meta = draft.get("m")
    text = meta.get("ratio") if isinstance(meta, Mapping) else None
    canvas = draft.get("canvas")
    if isinstance(text, str) and ":" in text:
        w, _, h = text.partition(":")
        if _number(w) > 0 and _number(h) > 0:
            ratio = _number(w) / _number(h)
    elif isinstance(canvas, Mapping) and _number(canvas.get("w")) > 0 < _number(canvas.get("h")):
        ratio = _number(canvas.get("w")) / _number(canvas.get("h"))
    ratio = min(max(ratio, 0.25), 4.0)
    even_height = max(16, height - height % 2)
    width = max(16, round(even_height * ratio / 2) * 2)
    return width, even_height


def plan_from_draft(
    draft: Mapping[str, Any],
    *,
    height: int,
    fps: int,
    resolve: Callable[[str], bytes | Path | None],
) -> RenderPlan:
    """A render plan for ``draft``; ``resolve`` maps a segment's ``src`` to a local file.

    ``height`` is the output height of a draft that asks no ``m.resolution``, and the most any
    render gets: a "480p" draft is 480 lines high when ``height`` is at least 480.
    """
    asked = requested_height(draft)
    if asked is not None:
        height = min(height, asked)
    visuals: list[Visual] = []
    sounds: list[Sound] = []
    titles: list[Title] = []
    end = 0
    tracks = draft.get("t")
    for track in tracks if isinstance(tracks, list) else []:
        if not isinstance(track, Mapping) or not isinstance(track.get("sg"), list):
            continue
        kind = int(_number(track.get("tt"), -1))
        for segment in track["sg"]:
            if not isinstance(segment, Mapping):
                continue
            start = max(0, int(_number(segment.get("st"))))
            length = max(0, int(_number(segment.get("d"))))
            end = max(end, start + length)
            meta = segment.get("m") if isinstance(segment.get("m"), Mapping) else {}
            if kind == 0:
                src = segment.get("src")
                url = src if isinstance(src, str) and src else None
                path = resolve(url) if url is not None else None
                visuals.append(Visual(start, length, path, direction=len(visuals) % 4, src=url))
            elif kind == 1:
                volume = _number(meta.get("volume"), 0.35) if meta else 0.35
                sounds.append(Sound(start, length, min(max(volume, 0.0), 2.0)))
            elif kind == 7:
                text = meta.get("text") if meta else None
                style = segment.get("style")
                color = style.get("color") if isinstance(style, Mapping) else None
                text = text.strip() if isinstance(text, str) else ""
                titles.append(Title(start, length, text[:200], _color(color)))
    declared = int(_number(draft.get("d")))
    duration = min(declared if declared > 0 else end, MAX_RENDER_MS)
    width, out_height = frame_size(draft, height)
    return RenderPlan(
        width=width,
        height=out_height,
        fps=fps,
        duration_ms=max(duration, 1),
        visuals=tuple(visuals),
        sounds=tuple(sounds),
        titles=tuple(titles),
    )


def _rgb(frame: Any) -> Image:
    picture: Image = frame.to_ndarray(format="rgb24")
    return picture


class _Still:
    """A source picture scaled once to cover the frame at the largest zoom."""

    def __init__(self, image: Image, width: int, height: int) -> None:
        import av

        src_h, src_w = image.shape[0], image.shape[1]
        scale = max(width * _MAX_ZOOM / src_w, height * _MAX_ZOOM / src_h)
        cover_w = max(width, math.ceil(src_w * scale))
        cover_h = max(height, math.ceil(src_h * scale))
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        self.image = _rgb(frame.reformat(cover_w, cover_h, interpolation="BICUBIC"))
        self.width, self.height = width, height

    def frame(self, progress: float, direction: int) -> Image:
        """The crop at ``progress`` (0..1) of the zoom, panning toward one of four corners."""
        eased = 0.5 - 0.5 * math.cos(math.pi * min(max(progress, 0.0), 1.0))
        zoom = 1.0 + (_MAX_ZOOM - 1.0) * eased
        cover_h, cover_w = self.image.shape[0], self.image.shape[1]
        # At zoom 1 the window spans the whole cover crop, so the first frame shows it all.
        win_w = min(cover_w, round(self.width * _MAX_ZOOM / zoom))
        win_h = min(cover_h, round(self.height * _MAX_ZOOM / zoom))
        sx, sy = ((1, 1), (-1, 1), (1, -1), (-1, -1))[direction % 4]
        cx = cover_w / 2 + sx * eased * (cover_w - win_w) / 2
        cy = cover_h / 2 + sy * eased * (cover_h - win_h) / 2
        x0 = min(max(0, round(cx - win_w / 2)), cover_w - win_w)
        y0 = min(max(0, round(cy - win_h / 2)), cover_h - win_h)
        return self.image[y0 : y0 + win_h, x0 : x0 + win_w]


def _font(size: int) -> Any:
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)  # Pillow's bundled scalable font
    except TypeError:  # a Pillow older than 10.1: its fixed bitmap font
        return ImageFont.load_default()


def _text_mask(text: str, width: int, height: int) -> Any:
    """Coverage (0..1, float32, ``height`` x ``width``) of ``text`` centred in the box."""
    import numpy as np
    from PIL import Image as PilImage
    from PIL import ImageDraw

    canvas = PilImage.new("L", (max(1, width), max(1, height)), 0)
    if text:
        draw = ImageDraw.Draw(canvas)
        size = max(4, round(height * 0.72))
        font = _font(size)
        box = draw.textbbox((0, 0), text, font=font)
        while size > 4 and box[2] - box[0] > width * 0.94:  # shrink a long title to fit
            size = max(4, math.floor(size * min(0.9, width * 0.94 / (box[2] - box[0]))))
            font = _font(size)
            box = draw.textbbox((0, 0), text, font=font)
        x = (width - (box[2] - box[0])) / 2 - box[0]
        y = (height - (box[3] - box[1])) / 2 - box[1]
        draw.text((x, y), text, fill=255, font=font)
    return np.asarray(canvas, dtype=np.float32) / 255.0


class _TitleBar:
    """A title's bar and text for one frame size, drawn once and blended into each frame."""

    def __init__(self, title: Title, width: int, height: int) -> None:
        import numpy as np

        self.top, self.bottom = int(height * 0.78), int(height * 0.9)
        self.left, self.right = int(width * 0.1), int(width * 0.9)
        self.accent = max(1, (self.bottom - self.top) // 8)
        text_height = self.bottom - self.top - self.accent
        mask = _text_mask(title.text, self.right - self.left, text_height)
        self.mask = mask[:, :, None]
        self.color = np.asarray(title.color, np.float32)

    def draw(self, image: Image, alpha: float) -> Image:
        import numpy as np

        out: Image = image.copy()
        box = (slice(self.top, self.bottom), slice(self.left, self.right))
        band = out[box].astype(np.float32)
        band *= 1 - 0.6 * alpha  # a darkened band, as under a caption
        rule, text = band[: self.accent], band[self.accent :]
        rule += (255 - rule) * alpha  # a light rule on top of it
        text += (self.color - text) * (self.mask * alpha)  # and the title's words
        out[box] = band.round().astype(np.uint8)
        return out


def _still(visual: Visual, width: int, height: int) -> _Still:
    if visual.src is None:  # nothing was ever given: the one case for a neutral frame
        return _Still(neutral_image(), width, height)
    if visual.source is None:
        raise RenderInputError(
            f"the video source {visual.src[:200]} is not a file stored on this sandbox "
            "(upload the media, or upload its URL so that the sandbox fetches it)"
        )
    try:
        image = decode_still(visual.source)
    except UndecodableMediaError as exc:
        raise RenderInputError(
            f"could not decode the uploaded media {visual.name!r} ({exc}); "
            "convert it to JPEG or PNG and upload it again"
        ) from exc
    return _Still(image, width, height)


def _video_frames(plan: RenderPlan) -> Iterator[Image]:
    """RGB frames of the plan, one per output frame."""
    import av
    import numpy as np

    stills: dict[tuple[bytes | Path | None, str | None], _Still] = {}
    bars = [(title, _TitleBar(title, plan.width, plan.height)) for title in plan.titles]
    black = np.zeros((plan.height, plan.width, 3), np.uint8)
    for index in range(plan.frame_count):
        t_ms = index * 1000 / plan.fps
        visual = next(
            (v for v in reversed(plan.visuals) if v.start_ms <= t_ms < v.start_ms + v.duration_ms),
            None,
        )
        if visual is None:
            picture = black
        else:
            key = (visual.source, visual.src)
            still = stills.get(key)
            if still is None:
                still = stills[key] = _still(visual, plan.width, plan.height)
            progress = (t_ms - visual.start_ms) / max(visual.duration_ms, 1)
            crop = np.ascontiguousarray(still.frame(progress, visual.direction))
            frame = av.VideoFrame.from_ndarray(crop, format="rgb24")
            picture = _rgb(frame.reformat(plan.width, plan.height, interpolation="BILINEAR"))
        for title, bar in bars:
            if title.start_ms <= t_ms < title.start_ms + title.duration_ms:
                picture = bar.draw(picture, min(1.0, (t_ms - title.start_ms) / 500))
        yield picture


def _audio(plan: RenderPlan) -> Any:
    """The mixed BGM as a (2, samples) float32 array, or ``None`` without BGM."""
    import numpy as np

    if not plan.sounds:
        return None
    total = round(plan.frame_count / plan.fps * _SAMPLE_RATE)
    mix = np.zeros(total, np.float32)
    for sound in plan.sounds:
        first = round(sound.start_ms / 1000 * _SAMPLE_RATE)
        last = min(total, round((sound.start_ms + sound.duration_ms) / 1000 * _SAMPLE_RATE))
        if last <= first:
            continue
        t = np.arange(last - first, dtype=np.float32) / _SAMPLE_RATE
        chord = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.18, 329.63)) / 3
        fade = np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.25)
        mix[first:last] += (0.25 * sound.volume * chord * fade).astype(np.float32)
    np.clip(mix, -1.0, 1.0, out=mix)
    return np.stack([mix, mix])


def render_mp4(
    plan: RenderPlan, out_path: Path, should_stop: Callable[[], bool] = lambda: False
) -> float:
    """Encode ``plan`` as an MP4 at ``out_path``; returns the video's duration in seconds.

    Raises:
        RenderCancelledError: ``should_stop()`` became true (checked at every frame).
        RenderInputError: a source cannot be read (the message names it and says why).
    """
    import av

    with av.open(str(out_path), "w", format="mp4", options={"movflags": "+faststart"}) as out:
        video = out.add_stream(
            "libx264", rate=plan.fps, options={"preset": "veryfast", "crf": "23"}
        )
        video.width, video.height, video.pix_fmt = plan.width, plan.height, "yuv420p"
        samples = _audio(plan)
        audio = out.add_stream("aac", rate=_SAMPLE_RATE) if samples is not None else None
        if audio is not None:
            audio.layout = "stereo"
        for index, picture in enumerate(_video_frames(plan)):
            if should_stop():
                raise RenderCancelledError
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts = index
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        if audio is not None:
            step = audio.codec_context.frame_size or 1024
            for first in range(0, samples.shape[1], step):
                chunk = samples[:, first : first + step]
                sound = av.AudioFrame.from_ndarray(chunk.copy(), format="fltp", layout="stereo")
                sound.sample_rate, sound.pts = _SAMPLE_RATE, first
                out.mux(audio.encode(sound))
            out.mux(audio.encode(None))
    return plan.frame_count / plan.fps
