"""Reading media with PyAV: probing uploads, decoding stills, encoding small test images.

PyAV and numpy are the sandbox extra's dependencies; they are imported inside the functions so
that the rest of the sandbox (and the pytest plugin) import without them. Everything here is
blocking: the server calls it through ``asyncio.to_thread``.

Any PyAV release from 12 on works: ``av.open(..., metadata_errors=...)`` is passed only to the
releases that still take it (PyAV 19 removed it and decodes metadata leniently by itself).

Media the sandbox cannot decode: an upload is accepted when its *type* is accepted (checked
by content), even if this machine's FFmpeg cannot read it, as the service accepts HEIC photos;
its size is then unknown. But a picture is never invented for it: :func:`decode_still` raises
:class:`UndecodableMediaError`, so a render of a draft that uses it FAILS (status ``failed``
with the reason in ``error``) instead of producing a video of a neutral grey frame. A fake
frame would pass every check a client can make and hide the problem, e.g. a PyAV upgrade that
breaks decoding. :func:`neutral_image` remains only for a video segment with no source at all
(a generation from a description, without an upload), where no picture was ever given.
"""

from __future__ import annotations

import collections
import hashlib
import io
import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Image = npt.NDArray[np.uint8]

__all__ = [
    "Probe",
    "UndecodableMediaError",
    "decode_still",
    "encode_image",
    "gradient",
    "known_probe",
    "neutral_image",
    "probe",
    "probe_bytes",
]

logger = logging.getLogger("nemovideo.sandbox")


@attrs.frozen
class Probe:
    """What the sandbox learnt about an upload (``None`` where it could not tell)."""

    width: int | None = None
    height: int | None = None
    duration: float | None = None


class UndecodableMediaError(Exception):
    """FFmpeg (as bundled with this PyAV) cannot decode a picture from the medium."""


#: Whether ``av.open`` takes ``metadata_errors`` (PyAV < 19); ``None`` until first tried.
_takes_metadata_errors: bool | None = None


def _open(source: bytes | Path) -> Any:
    """Open ``source`` for reading, tolerating badly encoded metadata on every PyAV release."""
    import av

    global _takes_metadata_errors

    def target() -> Any:
        return io.BytesIO(source) if isinstance(source, bytes) else str(source)

    if _takes_metadata_errors is not False:
        try:
            container = av.open(target(), metadata_errors="ignore")
        except TypeError as exc:  # PyAV 19: "unexpected keyword argument 'metadata_errors'"
            if "metadata_errors" not in str(exc):
                raise
            _takes_metadata_errors = False
        else:
            _takes_metadata_errors = True
            return container
    return av.open(target())


def probe(source: bytes | Path, kind: str) -> Probe:
    """Size and duration of a medium of ``kind`` ("image", "video", "audio").

    A file that FFmpeg cannot read (a HEIC variant, a damaged file) gives an empty
    :class:`Probe`: its type was already checked by content, so the upload is still accepted.
    """
    try:
        with _open(source) as container:
            duration = None
            if kind != "image" and container.duration is not None:
                duration = round(container.duration / 1_000_000, 3)
            if not container.streams.video:
                return Probe(duration=duration)
            stream = container.streams.video[0]
            width, height = stream.codec_context.width, stream.codec_context.height
            if not width:
                frame = next(container.decode(video=0))
                width, height = frame.width, frame.height
            return Probe(width=int(width), height=int(height), duration=duration)
    except Exception as exc:  # any FFmpeg failure means "unknown", not "refused"
        logger.info("could not probe an uploaded %s (%s); size left unknown", kind, exc)
        return Probe()


#: Probes of recent uploads by content: tests and batches upload the same bytes again and again,
#: and opening a file with FFmpeg costs far more than hashing it.
_PROBES: collections.OrderedDict[tuple[bytes, str], Probe] = collections.OrderedDict()
_PROBE_CACHE_SIZE = 256
_PROBE_CACHE_MAX_BYTES = 8 * 1024 * 1024
_probes_lock = threading.Lock()


def _probe_key(data: bytes, kind: str) -> tuple[bytes, str]:
    return hashlib.blake2b(data, digest_size=16).digest(), kind


def _remembered(key: tuple[bytes, str]) -> Probe | None:
    with _probes_lock:
        found = _PROBES.get(key)
        if found is not None:
            _PROBES.move_to_end(key)
        return found


def known_probe(data: bytes, kind: str) -> Probe | None:
    """The remembered probe of these bytes, if they were probed lately (no FFmpeg call)."""
    if len(data) > _PROBE_CACHE_MAX_BYTES:
        return None
    return _remembered(_probe_key(data, kind))


def probe_bytes(data: bytes, kind: str) -> Probe:
    """:func:`probe` of an upload's bytes, remembered by content for small files."""
    if len(data) > _PROBE_CACHE_MAX_BYTES:
        return probe(data, kind)
    key = _probe_key(data, kind)
    found = _remembered(key)
    if found is None:
        found = probe(data, kind)
        with _probes_lock:
            _PROBES[key] = found
            while len(_PROBES) > _PROBE_CACHE_SIZE:
                _PROBES.popitem(last=False)
    return found


def decode_still(source: bytes | Path) -> Image:
    """The first picture of an image or video as an RGB array.

    Raises:
        UndecodableMediaError: FFmpeg cannot read a picture from it (a HEIC variant this FFmpeg
            build lacks, a damaged file, a PyAV incompatibility). Never a stand-in picture.
    """
    try:
        with _open(source) as container:
            if not container.streams.video:
                raise UndecodableMediaError("it has no picture (no video stream)")
            frame = next(container.decode(video=0), None)
            if frame is None:
                raise UndecodableMediaError("no frame could be decoded from it")
            array: Image = frame.to_ndarray(format="rgb24")
            return array
    except UndecodableMediaError:
        raise
    except Exception as exc:  # any FFmpeg or PyAV failure: say which, never guess a picture
        raise UndecodableMediaError(f"{type(exc).__name__}: {exc}") from exc


def gradient(
    width: int,
    height: int,
    top: tuple[int, int, int] = (250, 140, 60),
    bottom: tuple[int, int, int] = (60, 30, 110),
) -> Image:
    """A vertical colour gradient, e.g. a sunset, as an RGB array."""
    import numpy as np

    ramp = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    rows = np.asarray(top, np.float32) * (1 - ramp) + np.asarray(bottom, np.float32) * ramp
    image: Image = np.broadcast_to(rows, (height, width, 3)).round().astype(np.uint8)
    return image


def neutral_image(width: int = 640, height: int = 360) -> Image:
    """The neutral picture of a video segment that has no source (nothing was uploaded).

    Never a stand-in for media that exists but cannot be decoded: see the module docstring.
    """
    return gradient(width, height, (96, 104, 120), (40, 44, 56))


def encode_image(image: Image, fmt: str = "png", quality: int = 3) -> bytes:
    """Encode an RGB array as a PNG or JPEG file (``fmt``: ``"png"`` or ``"jpeg"``).

    ``quality`` is FFmpeg's JPEG q-scale: 2 (best) to 31.
    """
    import av

    height, width = image.shape[0], image.shape[1]
    if fmt == "png":
        codec, pix_fmt = "png", "rgb24"
    elif fmt in ("jpeg", "jpg"):
        codec, pix_fmt = "mjpeg", "yuvj420p"
    else:
        raise ValueError(f"unsupported image format {fmt!r}: use 'png' or 'jpeg'")
    context: Any = av.CodecContext.create(codec, "w")
    context.width, context.height, context.pix_fmt = width, height, pix_fmt
    if codec == "mjpeg":
        context.qmin = context.qmax = quality
    frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format=pix_fmt)
    packets = [*context.encode(frame), *context.encode(None)]
    return b"".join(bytes(p) for p in packets)
