"""The job journal: a small durable record of every flow, session and render job started.

One JSON object per line, appended and flushed to disk before the step it announces, so that a
crash at any point leaves enough to finish the work without sending a chat message twice or
starting a second paid generation. :meth:`Journal.pending` folds the lines into the flows that
have not finished; ``client.resume()`` completes them.

Records (``step`` field): ``started`` (flow, image, prompt, output), ``session`` (session_id,
task_id), ``uploaded``, ``chat_sent`` (written BEFORE the message goes out: from then on it is
never sent again), ``render_started`` (job_id, written before the request), ``downloaded``
(path), ``done``, ``failed`` (error), ``interrupted`` (what still runs).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs

__all__ = ["FlowRecord", "Journal"]

logger = logging.getLogger("nemovideo.workflows.journal")

_FINAL = {"done", "failed"}


@attrs.frozen
class FlowRecord:
    """What the journal knows of one flow (folded from its lines).

    Attributes:
        flow_id: the flow's id.
        step: the last step recorded.
        fields: every field recorded for the flow, later values winning.
    """

    flow_id: str
    step: str
    fields: dict[str, Any] = attrs.field(factory=dict)

    @property
    def finished(self) -> bool:
        """True when the flow ended (``done`` or ``failed``)."""
        return self.step in _FINAL

    def get(self, key: str, default: Any = None) -> Any:
        """A recorded field."""
        return self.fields.get(key, default)


class Journal:
    """Append-only JSON-lines journal. Safe for several flows of one process at once.

    Args:
        path: the journal file (its folder is created with owner-only permissions).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<Journal {self.path}>"

    @staticmethod
    def new_flow_id() -> str:
        """A fresh flow id."""
        return uuid.uuid4().hex

    def record(self, flow_id: str, step: str, **fields: Any) -> None:
        """Append one line and flush it to disk before returning.

        Fields must be JSON-serialisable; secrets must never be passed here.
        """
        entry = {"flow": flow_id, "step": step, "at": round(time.time(), 3), **fields}
        line = json.dumps(entry, ensure_ascii=False, default=str) + "\n"
        data = line.encode("utf-8")
        with self._lock:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)

    def _lines(self) -> Iterator[dict[str, Any]]:
        try:
            with open(self.path, encoding="utf-8", errors="replace") as fh:
                for number, line in enumerate(fh, 1):
                    if not line.strip():
                        continue
                    try:
                        entry = json.loads(line)
                    except ValueError:
                        # A crash can cut the last line short; everything before it stands.
                        logger.warning("journal %s line %d is not JSON; skipped", self.path, number)
                        continue
                    if isinstance(entry, dict) and isinstance(entry.get("flow"), str):
                        yield entry
        except FileNotFoundError:
            return

    def flows(self) -> list[FlowRecord]:
        """Every flow in the journal, in the order they started."""
        folded: dict[str, dict[str, Any]] = {}
        steps: dict[str, str] = {}
        for entry in self._lines():
            flow = entry["flow"]
            fields = folded.setdefault(flow, {})
            fields.update({k: v for k, v in entry.items() if k not in ("flow", "step", "at")})
            step = str(entry.get("step", ""))
            if steps.get(flow) not in _FINAL:
                steps[flow] = step
        return [FlowRecord(flow, steps[flow], fields) for flow, fields in folded.items()]

    def pending(self) -> list[FlowRecord]:
        """The flows that neither finished nor failed: what ``resume`` picks up."""
        return [flow for flow in self.flows() if not flow.finished]
