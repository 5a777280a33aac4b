"""What the command line writes: results on stdout (text or JSON lines), notices on stderr.

Every write goes through :class:`Console`, which removes known secrets (the bearer token)
from the text first, so that no message, result or traceback can ever show one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TextIO

from nemovideo.workflows.results import Video, format_bytes

if TYPE_CHECKING:
    pass

__all__ = ["REDACTED", "Console", "describe_video", "video_record"]

REDACTED = "[redacted]"
_MIN_SECRET = 6  # shorter strings would redact ordinary words


class Console:
    """The two output streams of one command, with the ``--json`` and ``--quiet`` choices.

    Args:
        out: results (stdout).
        err: notices, progress and errors (stderr).
        json_mode: results as one JSON object per line instead of text.
        quiet: hide notices (errors are always shown).
        secrets: strings that must never be written (the bearer token).
    """

    def __init__(
        self,
        out: TextIO,
        err: TextIO,
        *,
        json_mode: bool = False,
        quiet: bool = False,
        secrets: Iterable[str | None] = (),
    ) -> None:
        self.out = out
        self.err = err
        self.json_mode = json_mode
        self.quiet = quiet
        self._secrets: set[str] = set()
        for secret in secrets:
            self.add_secret(secret)

    def add_secret(self, value: str | None) -> None:
        """Never write ``value`` from now on."""
        if value and len(value) >= _MIN_SECRET:
            self._secrets.add(value)

    def redact(self, text: str) -> str:
        """``text`` with every known secret replaced."""
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text

    def result(self, text: str, record: dict[str, Any] | None = None) -> None:
        """One result: ``record`` as a JSON line with ``--json``, else ``text``."""
        if self.json_mode:
            if record is not None:
                self._write(self.out, json.dumps(record, ensure_ascii=False, default=str))
        else:
            self._write(self.out, text)

    def say(self, text: str) -> None:
        """A line on stdout that is not a result (hidden with ``--json``: stdout stays JSON)."""
        if not self.json_mode:
            self._write(self.out, text)

    def notice(self, text: str) -> None:
        """A line on stderr for people (hidden with ``--quiet``)."""
        if not self.quiet:
            self._write(self.err, text)

    def error(self, text: str) -> None:
        """An error line on stderr (always shown)."""
        self._write(self.err, text)

    def _write(self, stream: TextIO, text: str) -> None:
        try:
            stream.write(self.redact(text) + "\n")
            stream.flush()
        except BrokenPipeError:  # `nemovideo ... | head` closed the pipe: nothing to tell
            pass


def video_record(video: Video, **extra: Any) -> dict[str, Any]:
    """A finished video as a JSON-ready dict (no bearer token: the claim link has its own)."""
    record: dict[str, Any] = {
        "ok": True,
        "path": str(video.path) if video.path is not None else None,
        "size": video.size,
        "duration": video.duration,
        "session_id": video.session_id,
        "task_id": video.task_id,
        "job_id": video.job_id,
        "claim_url": video.claim_url,
        "credits_spent": video.credits_spent,
        "summary": video.summary,
    }
    record.update(extra)
    return record


def describe_video(video: Video, *, lasting_session: bool = True) -> str:
    """A finished video in a few lines for people.

    ``lasting_session`` is False when the session dies with the command (an in-process
    sandbox): then no way to keep editing it is suggested.
    """
    details = [format_bytes(video.size)]
    if video.duration is not None:
        details.insert(0, f"{video.duration:g} s")
    where = str(video.path) if video.path is not None else "memory"
    lines = [f"Saved {where} ({', '.join(details)})"]
    if video.summary:
        lines.append(video.summary)
    if lasting_session:
        lines.append(
            f"Session {video.session_id} "
            f"(keep editing: nemovideo chat --session {video.session_id})"
        )
    if video.credits_spent is not None:
        lines.append(f"Credits spent: {video.credits_spent}")
    if video.claim_url:
        lines.append(f"Keep this work in your account: {video.claim_url}")
    return "\n".join(lines)
