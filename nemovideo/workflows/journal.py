"""The flow ledger: every ``animate`` flow, committed step by step in SQLite before each step.

Each step of a flow is one transaction, committed (WAL, ``synchronous=FULL``) *before* the
step is taken; a commit that fails stops the flow before the step, so no paid request goes out
without its record. A crash at any point leaves enough to finish the work without sending a
chat message twice or starting a second render behind the user's back.

Flow states:

- ``active``: a run is taking the flow's steps and holds its lease (renewed while it runs).
- ``resumable``: the run stopped (a deadline, a close, an outage, a full disk, a kill) and the
  flow waits for ``client.resume()``; ``reason`` says why and ``hint`` what to do.
- ``done``: the video was delivered.
- ``failed``: ended for good: before any payment, or because the service reported a failure no
  new attempt can fix.

Claims: before anyone takes a flow's steps it claims the flow with a lease (one ``UPDATE``
under SQLite's write lock). A live run holds the leases of its own flows and renews them; a
killed holder's lease expires after ``lease`` seconds; two resumers never run one flow, in one
process or in several. Finished flows stay in the table, out of the partial index that
:meth:`Journal.pending` reads, so finding the open flows costs the same at 100k flows as at 10.

The ledger is safe for several threads, processes and machines that share its file system
(SQLite's own locking); a journal on a network file system is not supported. An older
``journal.jsonl`` (one JSON object per line) given as the path, or found beside the default
database, is imported once.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs

from nemovideo.protocol.errors import StorageError

__all__ = ["FINAL_STATES", "FlowRecord", "Journal", "new_owner_id"]

logger = logging.getLogger("nemovideo.journal")

#: States from which a flow never moves again.
FINAL_STATES = frozenset({"done", "failed"})
_STATES = frozenset({"active", "resumable", *FINAL_STATES})

_SCHEMA = """
CREATE TABLE IF NOT EXISTS flows (
    flow_id     TEXT PRIMARY KEY,
    state       TEXT NOT NULL,
    step        TEXT NOT NULL,
    fields      TEXT NOT NULL,
    key         TEXT UNIQUE,
    server      TEXT,
    lease_owner TEXT,
    lease_until REAL,
    created     REAL NOT NULL,
    updated     REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS flows_open ON flows (created)
    WHERE state IN ('active', 'resumable');
CREATE INDEX IF NOT EXISTS flows_owner ON flows (lease_owner)
    WHERE lease_owner IS NOT NULL;
CREATE TABLE IF NOT EXISTS history (
    flow_id TEXT NOT NULL,
    step    TEXT NOT NULL,
    at      REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS history_flow ON history (flow_id);
CREATE TABLE IF NOT EXISTS imported (source TEXT PRIMARY KEY, at REAL NOT NULL);
"""

_SQLITE_MAGIC = b"SQLite format 3\x00"
_SELECT = "SELECT flow_id, step, fields, state, key, server, lease_owner, lease_until FROM flows"
_DEFAULT_LEASE = 60.0
_MAX_FIELD_DEPTH = 20


def new_owner_id() -> str:
    """An id for one holder of leases: host, process and a random part (unique per object)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


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


def _plain(value: Any, depth: int = 0) -> Any:
    """``value`` as JSON-ready data (paths and other objects as text), bounded in depth."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if depth >= _MAX_FIELD_DEPTH:
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, depth + 1) for v in value]
    return os.fspath(value) if isinstance(value, os.PathLike) else str(value)


def _dumps(fields: Mapping[str, Any]) -> str:
    # Lone surrogates (an undecodable file name) are kept as escapes, never a failed commit.
    return json.dumps(_plain(fields), ensure_ascii=True, allow_nan=False, default=str)


def _loads(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}


class Journal:
    """The flow ledger (SQLite). Safe for threads, processes and flows running side by side.

    Args:
        path: the database file (its folder is created with owner-only permissions). A JSON
            lines file of an older version is imported into ``<path>.db`` and used from there.
        lease: seconds a claim lasts without renewal; a live run renews its flows' leases every
            third of it, so a killed run's flows can be resumed after at most this long.
    """

    def __init__(self, path: str | os.PathLike[str], *, lease: float = _DEFAULT_LEASE) -> None:
        if not (isinstance(lease, (int, float)) and 0 < lease < float("inf")):
            raise ValueError("lease must be a positive number of seconds")
        given = self.given = Path(path)
        legacy: Path | None = None
        if given.suffix == ".jsonl":
            # The older format's name: the ledger lives beside it, and the lines are imported.
            legacy = given if _is_legacy_jsonl(given) else None
            given = given.with_suffix(".db")
        elif _is_legacy_jsonl(given):
            legacy, given = given, given.with_name(given.name + ".db")
        elif given.with_suffix(".jsonl").is_file():
            legacy = given.with_suffix(".jsonl")
        self.path = given
        self.lease = float(lease)
        self.owner = new_owner_id()
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._legacy = legacy

    def __repr__(self) -> str:
        return f"<Journal {self.path}>"

    @staticmethod
    def new_flow_id() -> str:
        """A fresh flow id (random: unique across processes and machines)."""
        return uuid.uuid4().hex

    # -- storage ---------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        if self._conn is not None:
            return self._conn
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            if not self.path.exists():
                # Created owner-only before SQLite opens it: a journal names files and sessions.
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600)
                os.close(fd)
            conn = sqlite3.connect(
                self.path, timeout=30.0, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA busy_timeout=30000")
            conn.executescript(_SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            raise self._storage_error("open", exc) from exc
        self._conn = conn
        if self._legacy is not None:
            legacy, self._legacy = self._legacy, None
            self._import_jsonl(legacy)
        return conn

    def _storage_error(self, what: str, exc: BaseException) -> StorageError:
        return StorageError(
            f"The journal {self.path} could not {what} ({type(exc).__name__}: {exc}). Nothing "
            "was sent for the step it was to record. Free disk space or fix its permissions "
            "(or set journal_path / NEMO_JOURNAL elsewhere), then run again or resume.",
            path=str(self.path),
        )

    @contextlib.contextmanager
    def _transaction(self, what: str = "record a step") -> Iterator[sqlite3.Connection]:
        """One write transaction (``BEGIN IMMEDIATE``), committed before returning."""
        with self._lock:
            conn = self._connect()
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                    conn.execute("COMMIT")
                except BaseException:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                    raise
            except (sqlite3.Error, OSError) as exc:
                raise self._storage_error(what, exc) from exc

    def _read(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            conn = self._connect()
            try:
                return conn.execute(sql, args).fetchall()
            except sqlite3.Error as exc:
                raise self._storage_error("be read", exc) from exc

    def close(self) -> None:
        """Close the database connection (it reopens on next use)."""
        with self._lock:
            conn, self._conn = self._conn, None
            if conn is not None:
                conn.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()

    # -- writing ---------------------------------------------------------------------------

    def start(
        self,
        flow_id: str,
        *,
        key: str | None = None,
        server: str | None = None,
        hold: bool = True,
        **fields: Any,
    ) -> None:
        """Record a new flow (step ``started``), held by this journal's owner when ``hold``.

        Raises:
            StorageError: the journal could not record it.
            KeyError: another flow already has ``key`` (look it up with :meth:`by_key`).
        """
        now = time.time()
        owner, until = (self.owner, now + self.lease) if hold else (None, None)
        state = "active" if hold else "resumable"
        with self._transaction() as conn:
            try:
                conn.execute(
                    "INSERT INTO flows (flow_id, state, step, fields, key, server, lease_owner,"
                    " lease_until, created, updated) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (flow_id, state, "started", _dumps(fields), key, server, owner, until, now,
                     now),
                )  # fmt: skip
            except sqlite3.IntegrityError:
                raise KeyError(key or flow_id) from None
            conn.execute("INSERT INTO history VALUES (?, 'started', ?)", (flow_id, now))

    def record(self, flow_id: str, step: str, **fields: Any) -> None:
        """Commit one step of a flow (merging ``fields``) before returning.

        ``done`` and ``failed`` end the flow; ``interrupted`` makes it resumable; anything
        else leaves its state as it is (a flow first seen here is created resumable). Fields
        must never hold secrets.

        Raises:
            StorageError: the journal could not commit it (nothing may be sent for the step).
        """
        state = {"done": "done", "failed": "failed", "interrupted": "resumable"}.get(step)
        now = time.time()
        with self._transaction() as conn:
            conn.execute("INSERT INTO history VALUES (?, ?, ?)", (flow_id, step, now))
            row = conn.execute(
                "SELECT fields, state FROM flows WHERE flow_id = ?", (flow_id,)
            ).fetchone()
            if row is None:
                conn.execute(
                    "INSERT INTO flows (flow_id, state, step, fields, created, updated)"
                    " VALUES (?,?,?,?,?,?)",
                    (flow_id, state or "resumable", step, _dumps(fields), now, now),
                )
                return
            merged = {**_loads(row[0]), **_plain(fields)}
            new_state = row[1] if row[1] in FINAL_STATES else (state or row[1])
            release = new_state != "active"
            conn.execute(
                "UPDATE flows SET step = ?, fields = ?, state = ?, updated = ?,"
                " lease_owner = CASE WHEN ? THEN NULL ELSE lease_owner END,"
                " lease_until = CASE WHEN ? THEN NULL ELSE lease_until END"
                " WHERE flow_id = ?",
                (step, _dumps(merged), new_state, now, release, release, flow_id),
            )

    def forget_key(self, flow_id: str) -> None:
        """Free a failed, unpaid flow's idempotency key, so that the key can start afresh.

        Raises:
            StorageError: the journal could not be written.
        """
        with self._transaction("free a key") as conn:
            conn.execute(
                "UPDATE flows SET key = NULL WHERE flow_id = ? AND state = 'failed'", (flow_id,)
            )

    def claim(self, flow_id: str) -> bool:
        """Take the flow for this journal's owner: True when nobody else holds it (atomically).

        Raises:
            StorageError: the journal could not be written.
        """
        now = time.time()
        with self._transaction("claim a flow") as conn:
            cursor = conn.execute(
                "UPDATE flows SET lease_owner = ?, lease_until = ?, state = 'active', updated = ?"
                " WHERE flow_id = ? AND state IN ('active', 'resumable')"
                " AND (lease_owner IS NULL OR lease_until < ?)",
                (self.owner, now + self.lease, now, flow_id, now),
            )
            return cursor.rowcount == 1

    def renew(self) -> int:
        """Extend every lease this journal's owner holds; returns how many.

        Raises:
            StorageError: the journal could not be written.
        """
        with self._transaction("renew its leases") as conn:
            cursor = conn.execute(
                "UPDATE flows SET lease_until = ? WHERE lease_owner = ?",
                (time.time() + self.lease, self.owner),
            )
            return cursor.rowcount

    def release(self, flow_id: str, *, reason: str = "released", hint: str = "") -> None:
        """Let go of a held flow that is not finished: it becomes resumable.

        Raises:
            StorageError: the journal could not be written.
        """
        self.record(flow_id, "interrupted", reason=reason, hint=hint)

    # -- reading ---------------------------------------------------------------------------

    @staticmethod
    def _flow(row: tuple[Any, ...]) -> FlowRecord:
        return FlowRecord(
            flow_id=row[0],
            step=row[1],
            fields=_loads(row[2]),
            state=row[3] if row[3] in _STATES else "resumable",
            key=row[4],
            server=row[5],
            lease_owner=row[6],
            lease_until=row[7],
        )

    def get(self, flow_id: str) -> FlowRecord | None:
        """One flow, or ``None``.

        Raises:
            StorageError: the journal could not be read.
        """
        rows = self._read(_SELECT + " WHERE flow_id = ?", (flow_id,))
        return self._flow(rows[0]) if rows else None

    def by_key(self, key: str) -> FlowRecord | None:
        """The flow started with idempotency ``key``, or ``None``.

        Raises:
            StorageError: the journal could not be read.
        """
        rows = self._read(_SELECT + " WHERE key = ?", (key,))
        return self._flow(rows[0]) if rows else None

    def history(self, flow_id: str) -> list[str]:
        """The steps recorded for a flow, in order (``started``, ``session``, ...).

        Raises:
            StorageError: the journal could not be read.
        """
        rows = self._read("SELECT step FROM history WHERE flow_id = ? ORDER BY rowid", (flow_id,))
        return [row[0] for row in rows]

    def flows(self) -> list[FlowRecord]:
        """Every flow in the journal, in the order they started.

        Raises:
            StorageError: the journal could not be read.
        """
        rows = self._read(_SELECT + " ORDER BY created, rowid")
        return [self._flow(row) for row in rows]

    def pending(self) -> list[FlowRecord]:
        """The flows that neither finished nor failed, oldest first: what ``resume`` picks up.

        Flows a live run holds are included (see :meth:`FlowRecord.held`).

        Raises:
            StorageError: the journal could not be read.
        """
        rows = self._read(
            _SELECT + " INDEXED BY flows_open WHERE state IN ('active', 'resumable')"
            " ORDER BY created"
        )
        return [self._flow(row) for row in rows]

    # -- the old JSON lines format -------------------------------------------------------

    def _import_jsonl(self, source: Path) -> None:
        """Fold an older journal's lines into flows, once (a second import is skipped)."""
        marker = str(source.resolve())
        folded: dict[str, tuple[str, dict[str, Any], float]] = {}
        try:
            with open(source, encoding="utf-8", errors="replace") as fh:
                for entry in (e for line in fh for e in _records(line)):
                    flow = entry.pop("flow")
                    step = str(entry.pop("step", ""))
                    at = entry.pop("at", None)
                    at = at if isinstance(at, (int, float)) else time.time()
                    _, fields, first = folded.get(flow, ("", {}, float(at)))
                    fields.update(entry)
                    previous = folded.get(flow, ("",))[0]
                    folded[flow] = (previous if previous in ("done", "failed") else step,
                                    fields, first)  # fmt: skip
        except OSError as exc:
            logger.warning("journal %s could not be imported: %s", source, exc)
            return
        with self._transaction("import the old journal") as conn:
            if conn.execute("SELECT 1 FROM imported WHERE source = ?", (marker,)).fetchone():
                return
            for flow, (step, fields, first) in folded.items():
                state = {"done": "done", "failed": "failed"}.get(step, "resumable")
                conn.execute(
                    "INSERT OR IGNORE INTO flows (flow_id, state, step, fields, created, updated)"
                    " VALUES (?,?,?,?,?,?)",
                    (flow, state, step or "started", _dumps(fields), first, time.time()),
                )
            conn.execute("INSERT INTO imported VALUES (?, ?)", (marker, time.time()))
        logger.info("imported %d flow(s) from %s", len(folded), source)


def _records(line: str) -> Iterator[dict[str, Any]]:
    """The records of one line: a crash could cut a line short and the next append be glued
    to it, so each ``{"flow"`` on the line is tried; cut-off, foreign and odd values are
    skipped."""
    text = line.strip()
    if _nesting(text) > _MAX_FIELD_DEPTH:
        logger.warning("journal line of %d characters nested too deeply; skipped", len(text))
        return
    start = text.find('{"flow"')
    while start != -1:
        try:
            entry, _ = _DECODER.raw_decode(text, start)
        except (ValueError, RecursionError):
            entry = None
        if isinstance(entry, dict) and isinstance(entry.get("flow"), str):
            yield entry
        start = text.find('{"flow"', start + 1)


_DECODER = json.JSONDecoder()
_STRING = re.compile(r'"(?:\\.|[^"\\])*"')


def _nesting(text: str) -> int:
    """How deeply the brackets of a JSON text nest (strings left out), without parsing it:
    the decoder itself must never be handed something that would exhaust the stack."""
    depth = deepest = 0
    for char in _STRING.sub("", text):
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _is_legacy_jsonl(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            head = fh.read(len(_SQLITE_MAGIC))
    except OSError:
        return False
    return bool(head) and head != _SQLITE_MAGIC
