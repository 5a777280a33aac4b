"""What the workflows hand back: progress events and the finished video."""

from __future__ import annotations

import base64
import enum
import html
import logging
import os
from collections.abc import Callable
from pathlib import Path

import attrs

from nemovideo.transport.durable import write_file_atomically

__all__ = ["Progress", "ProgressHandler", "Stage", "Video", "format_bytes", "report_progress"]


class Stage(str, enum.Enum):
    """Where an ``animate`` flow is."""

    STARTING = "starting"
    UPLOADING = "uploading"
    GENERATING = "generating"
    RENDERING = "rendering"
    DOWNLOADING = "downloading"
    DONE = "done"


@attrs.frozen
class Progress:
    """One progress report.

    Attributes:
        stage: the flow's stage.
        done: bytes sent/received (uploading, downloading), percent (rendering), seconds waited
            (generating).
        total: the total for ``done`` when known (bytes, or 100 for percent).
        message: a short line for people ("Uploading sunset.jpg", "Rendering 40%").
    """

    stage: Stage
    done: float = 0
    total: float | None = None
    message: str = ""

    @property
    def fraction(self) -> float | None:
        """``done / total`` between 0 and 1, when a total is known."""
        if not self.total:
            return None
        return max(0.0, min(1.0, self.done / self.total))


#: A callback receiving :class:`Progress` reports.
ProgressHandler = Callable[[Progress], object]

logger = logging.getLogger("nemovideo.progress")


def format_bytes(count: float) -> str:
    """Bytes for people: ``1536 -> "1.5 KB"``, ``2_500_000 -> "2.5 MB"`` (one formatter for the
    SDK's messages and the command line).

    Example:
        >>> format_bytes(14_200)
        '14.2 KB'
    """
    value = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def report_progress(handler: ProgressHandler | None, progress: Progress) -> None:
    """Hand ``progress`` to ``handler``; a handler that raises is logged, never fatal.

    A broken progress bar must not break the work it reports on.
    """
    if handler is None:
        return
    try:
        handler(progress)
    except Exception:
        logger.exception("the progress callback raised; ignored")


_MB = 1024 * 1024
#: The largest video embedded in a notebook's output (base64 makes it a third larger).
_INLINE_LIMIT = 50 * _MB


@attrs.frozen
class Video:
    """A finished animation.

    Attributes:
        path: where the MP4 was saved, or ``None`` when it was kept in memory.
        data: the MP4's bytes when no ``output`` path was given, else ``None``.
        size: the file's size in bytes.
        duration: seconds, as the render reported.
        session_id: the NemoVideo session, to keep editing by chat.
        task_id: the NemoVideo project the session belongs to.
        job_id: the render job.
        claim_url: a browser link to claim the work into an account (when it could be made).
        credits_spent: credits the balance dropped by during the flow (when it could be read).
        summary: the final timeline in one line.
    """

    size: int
    session_id: str
    task_id: str
    job_id: str
    path: Path | None = None
    data: bytes | None = attrs.field(default=None, repr=False)
    duration: float | None = None
    claim_url: str | None = attrs.field(default=None, repr=False)
    credits_spent: int | None = None
    summary: str = ""

    def read_bytes(self) -> bytes:
        """The MP4's bytes (read from ``path`` when it was saved to disk)."""
        if self.data is not None:
            return self.data
        assert self.path is not None
        return self.path.read_bytes()

    def save(self, dest: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
        """Write the MP4 to ``dest`` (a file path, or a folder to put it in) and return the path.

        The file is written beside ``dest`` under a temporary name, flushed to disk and only
        then renamed, so ``dest`` holds the whole video or nothing, even after a crash.

        Raises:
            FileExistsError: ``dest`` exists and ``overwrite`` is false.
            OSError: the folder is missing or not writable, or the disk is full.

        Example:
            >>> video.save("keep/sunset.mp4")  # doctest: +SKIP
            PosixPath('keep/sunset.mp4')
        """
        target = Path(dest)
        if target.is_dir():
            target = target / (self.path.name if self.path is not None else f"{self.job_id}.mp4")
        if self.path is not None and target.exists() and target.samefile(self.path):
            return target  # already there
        if self.data is not None:
            return write_file_atomically(target, self.data, overwrite=overwrite)
        assert self.path is not None
        with open(self.path, "rb") as source:
            return write_file_atomically(target, source, overwrite=overwrite)

    def _repr_html_(self) -> str:
        """An inline player for Jupyter, wherever the video is.

        A file under the notebook's folder (the kernel's working folder) is played from there;
        a video in memory, or a file elsewhere (which the notebook server cannot serve), is
        embedded up to 50 MB; above that the output says where the file is.
        """
        caption = html.escape(self.summary or f"session {self.session_id}")
        src = self._player_source()
        if src is None:
            where = html.escape(str(self.path)) if self.path is not None else "memory"
            return (
                f"<p>Video ({self.size / _MB:.1f} MB) saved at <code>{where}</code>: too large "
                "to embed in the notebook, and outside its folder. Open it from there, or save "
                "it under the notebook's folder to play it here.</p>"
            )
        return (
            f'<figure><video controls loop playsinline style="max-width:100%" src="{src}">'
            f"</video><figcaption>{caption}</figcaption></figure>"
        )

    def _player_source(self) -> str | None:
        if self.data is not None:
            return _embedded(self.data) if len(self.data) <= _INLINE_LIMIT else None
        if self.path is None:
            return None
        try:
            relative = self.path.resolve().relative_to(Path.cwd().resolve())
        except (ValueError, OSError):
            relative = None
        if relative is not None:
            return html.escape(relative.as_posix(), quote=True)  # served beside the notebook
        try:
            if self.path.stat().st_size <= _INLINE_LIMIT:
                return _embedded(self.path.read_bytes())
        except OSError:
            return None
        return None


def _embedded(data: bytes) -> str:
    return "data:video/mp4;base64," + base64.b64encode(data).decode("ascii")
