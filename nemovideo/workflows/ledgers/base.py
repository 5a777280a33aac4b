"""What every ledger backend shares: the flow record, its states, the backend protocol.

A backend stores flows and their step history and hands out leases; the
:class:`~nemovideo.workflows.journal.Journal` in front of it supplies the owner and the lease
length, so a backend holds no policy of its own. Fields travel as JSON text (ASCII, lone
surrogates escaped), so any backend stores them byte for byte.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from collections.abc import Mapping
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import attrs

__all__ = [
    "FINAL_STATES",
    "MAX_FIELD_DEPTH",
    "OPEN_STATES",
    "STATES",
    "FlowRecord",
    "LedgerBackend",
    "dumps_fields",
    "is_ledger_url",
    "loads_fields",
    "new_owner_id",
    "plain",
    "redact_url",
    "state_after",
]

#: States from which a flow never moves again.
FINAL_STATES = frozenset({"done", "failed"})
#: States of a flow that still has work to do: what ``pending()`` lists.
OPEN_STATES = frozenset({"active", "resumable"})
STATES = OPEN_STATES | FINAL_STATES
MAX_FIELD_DEPTH = 20

_URL_SCHEMES = ("postgresql://", "postgres://")


def new_owner_id() -> str:
    """An id for one holder of leases: host, process and a random part (unique per object)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def is_ledger_url(target: object) -> bool:
    """True for a ``postgresql://`` (or ``postgres://``) URL: a server ledger, not a file.

    Example:
        >>> is_ledger_url("postgresql://nemo@db/ledger"), is_ledger_url("journal.db")
        (True, False)
    """
    return isinstance(target, str) and target.strip().lower().startswith(_URL_SCHEMES)


def redact_url(url: str) -> str:
    """``url`` without its password, for messages and reprs.

    Example:
        >>> redact_url("postgresql://nemo:s3cret@db:5432/ledger")
        'postgresql://nemo:***@db:5432/ledger'
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return "postgresql://(unparsable URL)"
    if parts.password is None:
        return urlunsplit(parts._replace(query=""))
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc, query=""))


@attrs.frozen
class FlowRecord:
    """What the ledger knows of one flow.

    Attributes:
        flow_id: the flow's id.
        step: the last step recorded (``started``, ``session``, ``uploaded``, ``chat_sent``,
            ``render_started``, ``downloaded``, ``done``, ``interrupted``, ``failed``).
        fields: every field recorded for the flow, later values winning.
        state: ``active``, ``resumable``, ``done`` or ``failed``.
        key: the idempotency key the flow was started with, if any.
        server: the API address the flow's work lives on.
        lease_owner: who holds the flow now (``None``: nobody).
        lease_until: when that hold expires (Unix time).
    """

    flow_id: str
    step: str
    fields: dict[str, Any] = attrs.field(factory=dict)
    state: str = "resumable"
    key: str | None = None
    server: str | None = None
    lease_owner: str | None = None
    lease_until: float | None = None

    @property
    def finished(self) -> bool:
        """True when the flow ended (``done`` or ``failed``)."""
        return self.state in FINAL_STATES

    @property
    def paid(self) -> bool:
        """True once the flow's chat message may have gone out (from then on it is kept)."""
        return bool(self.fields.get("chat_sent"))

    def held(self, now: float | None = None) -> bool:
        """True while some run holds an unexpired lease on the flow."""
        now = time.time() if now is None else now
        return self.lease_owner is not None and (self.lease_until or 0) > now

    def get(self, key: str, default: Any = None) -> Any:
        """A recorded field."""
        return self.fields.get(key, default)

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> FlowRecord:
        """A record from a row of ``flow_id, step, fields, state, key, server, lease_owner,
        lease_until`` (the column order every backend selects)."""
        return cls(
            flow_id=row[0],
            step=row[1],
            fields=loads_fields(row[2]),
            state=row[3] if row[3] in STATES else "resumable",
            key=row[4],
            server=row[5],
            lease_owner=row[6],
            lease_until=row[7],
        )


def state_after(step: str) -> str | None:
    """The state a step moves a flow to (``None``: the state stays as it is)."""
    return {"done": "done", "failed": "failed", "interrupted": "resumable"}.get(step)


def plain(value: Any, depth: int = 0) -> Any:
    """``value`` as JSON-ready data (paths and other objects as text), bounded in depth."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if depth >= MAX_FIELD_DEPTH:
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v, depth + 1) for v in value]
    return os.fspath(value) if isinstance(value, os.PathLike) else str(value)


def dumps_fields(fields: Mapping[str, Any]) -> str:
    """Fields as ASCII JSON text: lone surrogates (an undecodable file name) stay escapes."""
    return json.dumps(plain(fields), ensure_ascii=True, allow_nan=False, default=str)


def loads_fields(text: str | None) -> dict[str, Any]:
    """Fields from their JSON text; anything unreadable gives ``{}``."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}


class LedgerBackend(Protocol):
    """Where a :class:`~nemovideo.workflows.journal.Journal` keeps its flows.

    Every method is one transaction, committed before it returns, and raises
    :class:`~nemovideo.protocol.errors.StorageError` when the storage fails. Times are Unix
    seconds; a lease's end is reckoned by the backend's own clock (a database server's, so
    that machines sharing it agree). The journal passes the owner and the lease's length, so
    the backend holds no policy.
    """

    #: Where the ledger is, for messages (a path, or a URL without its password).
    where: str

    def start(
        self,
        flow_id: str,
        *,
        key: str | None,
        server: str | None,
        owner: str | None,
        lease: float,
        fields: Mapping[str, Any],
    ) -> None:
        """Insert a new flow at step ``started`` (``active``, held for ``lease`` seconds, when
        ``owner`` is given, else ``resumable``); raise ``KeyError`` when the id or ``key`` is
        taken."""

    def record(self, flow_id: str, step: str, fields: Mapping[str, Any]) -> None:
        """Append a step and merge ``fields``; see :meth:`Journal.record`."""

    def forget_key(self, flow_id: str) -> None:
        """Clear the key of a ``failed`` flow."""

    def claim(self, flow_id: str, owner: str, lease: float) -> bool:
        """Atomically hold an open flow that nobody holds (or whose lease has ended) for
        ``lease`` seconds; True when ``owner`` took it."""

    def renew(self, owner: str, lease: float) -> int:
        """Extend every lease of ``owner`` to ``lease`` seconds from now; how many."""

    def get(self, flow_id: str) -> FlowRecord | None:
        """One flow."""

    def by_key(self, key: str) -> FlowRecord | None:
        """The flow with idempotency ``key``."""

    def history(self, flow_id: str) -> list[str]:
        """A flow's steps, in order."""

    def flows(self) -> list[FlowRecord]:
        """Every flow, in the order they started."""

    def pending(self) -> list[FlowRecord]:
        """The open flows, oldest first (read from an index of open flows only)."""

    def pause_until(self, scope: str, until: float) -> None:
        """Record that requests to ``scope`` wait until ``until`` (a later pause stands)."""

    def paused_until(self, scope: str) -> float:
        """Until when requests to ``scope`` wait (0: no pause recorded)."""

    def close(self) -> None:
        """Let go of the connection (it reopens on next use)."""
