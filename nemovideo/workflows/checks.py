"""Everything that can be checked before the first request of a flow, checked there.

A generation costs about 100 credits, so a flow checks its inputs, settings and destination
before it creates anything: a bad ``output`` found after the render would waste the paid work
(it stays resumable, but the user should not need that).
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path
from typing import Any

from nemovideo.protocol.errors import ConfigurationError, StorageError

__all__ = ["RESOLUTIONS", "check_destination", "check_duration", "check_text", "image_name"]

RESOLUTIONS = ("480p", "720p", "1080p")


def check_duration(duration: object) -> float:
    """``duration`` as seconds, or a clear error for a non-number or one out of range.

    Raises:
        ConfigurationError: not a number between 0 (excluded) and 60.
    """
    if isinstance(duration, bool) or not isinstance(duration, (int, float)):
        raise ConfigurationError(
            f"duration must be a number of seconds (got {type(duration).__name__} "
            f"{duration!r}); e.g. duration=5."
        )
    if not (math.isfinite(duration) and 0 < duration <= 60):
        raise ConfigurationError("duration must be between 0 and 60 seconds.")
    return float(duration)


def check_text(value: object, what: str, *, optional: bool = True) -> str | None:
    """A text that can be sent as UTF-8 (no lone surrogates), or ``None`` when allowed.

    Raises:
        ConfigurationError: not a string, or it holds characters that cannot be encoded.
    """
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise ConfigurationError(f"{what} must be text (got {type(value).__name__}).")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ConfigurationError(
            f"{what} holds a character that cannot be sent ({value[exc.start]!r} at position "
            f"{exc.start}, an unpaired surrogate: the text was decoded wrongly); fix the text."
        ) from None
    return value


def image_name(image: Any) -> str | None:
    """A local image's path as given (``None`` for bytes, file objects and URLs)."""
    if isinstance(image, str) and image.lower().startswith(("http://", "https://", "data:")):
        return None
    if isinstance(image, (str, os.PathLike)):
        return str(os.fspath(image))
    return None


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (b.exists() and os.path.samefile(a, b))
    except OSError:
        return False


def check_destination(output: object, image: Any, *, overwrite: bool = False) -> Path | None:
    """Where the video will be written, checked now: ``None`` keeps it in memory.

    ``output`` is a file path or an existing folder (the file is then named after the image,
    ``sunset.jpg`` -> ``sunset.mp4``). The folder must exist and be writable; the file must not
    be the input image, nor an existing file unless ``overwrite``.

    Raises:
        ConfigurationError: the destination cannot be used; the message says why.
        StorageError: the folder exists but a file cannot be created in it.
    """
    if output is None:
        return None
    if not isinstance(output, (str, os.PathLike)):
        raise ConfigurationError(
            f"output must be a file path or a folder (got {type(output).__name__})."
        )
    dest = Path(os.fspath(output))
    if dest.is_dir():
        source = image_name(image)
        stem = Path(source).stem if source else "video"
        dest = dest / f"{stem or 'video'}.mp4"
    folder = dest.parent
    if not folder.is_dir():
        raise ConfigurationError(
            f"The output folder {folder} does not exist; create it first (nothing was sent)."
        )
    source = image_name(image)
    if source is not None and _same_file(dest, Path(source)):
        raise ConfigurationError(
            f"output {dest} is the input image itself; choose another file name (e.g. "
            f"{dest.with_suffix('.mp4').name if dest.suffix != '.mp4' else dest.stem + '-1.mp4'})."
        )
    if dest.is_dir():
        raise ConfigurationError(f"output {dest} is a folder inside the output folder.")
    if dest.exists() and not overwrite:
        raise ConfigurationError(
            f"{dest} already exists; pass overwrite=True (CLI: --force) to replace it, or "
            "choose another name."
        )
    _probe_writable(folder)
    return dest


def _probe_writable(folder: Path) -> None:
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".nemovideo-check-"):
            pass
    except OSError as exc:
        raise StorageError(
            f"Cannot write in the output folder {folder} ({exc.strerror or exc}); fix its "
            "permissions or choose another (nothing was sent).",
            path=str(folder),
        ) from None
