"""What the workflows hand back: progress events and the finished video."""

from __future__ import annotations

import base64
import enum
import html
import logging
from collections.abc import Callable
from pathlib import Path

import attrs

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


_INLINE_LIMIT = 50 * 1024 * 1024


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

    def save(self, dest: str | Path) -> Path:
        """Write the MP4 to ``dest`` and return the path."""
        target = Path(dest)
        target.write_bytes(self.read_bytes())
        return target

    def _repr_html_(self) -> str:
        """An inline player for Jupyter."""
        if self.data is not None and self.size <= _INLINE_LIMIT:
            src = "data:video/mp4;base64," + base64.b64encode(self.data).decode("ascii")
        elif self.path is not None:
            src = html.escape(self.path.as_posix(), quote=True)
        else:
            return f"<p>Video ({self.size} bytes) too large to show inline.</p>"
        caption = html.escape(self.summary or f"session {self.session_id}")
        return (
            f'<figure><video controls loop playsinline style="max-width:100%" src="{src}">'
            f"</video><figcaption>{caption}</figcaption></figure>"
        )
