"""The SQLite ledger: one file on a local disk, safe for threads and processes of one machine.

WAL mode with ``synchronous=FULL``: a step's commit is on disk before the step is taken. A
claim is one ``UPDATE`` under SQLite's write lock (``BEGIN IMMEDIATE``), so two processes never
both win one. Finished flows stay in the table but out of the partial index ``pending()``
reads, so finding the open flows costs the same at 100k flows as at 10. An older
``journal.jsonl`` (one JSON object per line) is imported once, on first open.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from nemovideo.protocol.errors import StorageError
from nemovideo.workflows.ledgers.base import (
    FINAL_STATES,
    MAX_FIELD_DEPTH,
    FlowRecord,
    dumps_fields,
    loads_fields,
    plain,
    state_after,
)

__all__ = ["SQLiteLedger", "is_legacy_jsonl"]

logger = logging.getLogger("nemovideo.journal")

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
CREATE TABLE IF NOT EXISTS pauses (scope TEXT PRIMARY KEY, until_at REAL NOT NULL);
"""

_SQLITE_MAGIC = b"SQLite format 3\x00"
_SELECT = "SELECT flow_id, step, fields, state, key, server, lease_owner, lease_until FROM flows"


class SQLiteLedger:
    """The ledger in one SQLite file (see the module's notes).

    Args:
        path: the database file (its folder is created with owner-only permissions).
        legacy: an older JSON lines journal to import once, the first time the file opens.
    """

    def __init__(self, path: Path, legacy: Path | None = None) -> None:
        self.path = path
        self.where = str(path)
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._legacy = legacy

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

    # -- writing ---------------------------------------------------------------------------

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
        """Insert a new flow (see :class:`~nemovideo.workflows.ledgers.base.LedgerBackend`)."""
        now = time.time()
        state = "active" if owner is not None else "resumable"
        until = now + lease if owner is not None else None
        with self._transaction() as conn:
            try:
                conn.execute(
                    "INSERT INTO flows (flow_id, state, step, fields, key, server, lease_owner,"
                    " lease_until, created, updated) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (flow_id, state, "started", dumps_fields(fields), key, server, owner, until,
                     now, now),
                )  # fmt: skip
            except sqlite3.IntegrityError:
                raise KeyError(key or flow_id) from None
            conn.execute("INSERT INTO history VALUES (?, 'started', ?)", (flow_id, now))

    def record(self, flow_id: str, step: str, fields: Mapping[str, Any]) -> None:
        """Append a step, merge its fields (see :meth:`Journal.record`)."""
        state = state_after(step)
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
                    (flow_id, state or "resumable", step, dumps_fields(fields), now, now),
                )
                return
            merged = {**loads_fields(row[0]), **plain(fields)}
            new_state = row[1] if row[1] in FINAL_STATES else (state or row[1])
            release = new_state != "active"
            conn.execute(
                "UPDATE flows SET step = ?, fields = ?, state = ?, updated = ?,"
                " lease_owner = CASE WHEN ? THEN NULL ELSE lease_owner END,"
                " lease_until = CASE WHEN ? THEN NULL ELSE lease_until END"
                " WHERE flow_id = ?",
                (step, dumps_fields(merged), new_state, now, release, release, flow_id),
            )

    def forget_key(self, flow_id: str) -> None:
        """Clear the key of a failed flow."""
        with self._transaction("free a key") as conn:
            conn.execute(
                "UPDATE flows SET key = NULL WHERE flow_id = ? AND state = 'failed'", (flow_id,)
            )

    def claim(self, flow_id: str, owner: str, lease: float) -> bool:
        """One ``UPDATE`` under the write lock: True when this owner took the flow."""
        now = time.time()
        until = now + lease
        with self._transaction("claim a flow") as conn:
            cursor = conn.execute(
                "UPDATE flows SET lease_owner = ?, lease_until = ?, state = 'active', updated = ?"
                " WHERE flow_id = ? AND state IN ('active', 'resumable')"
                " AND (lease_owner IS NULL OR lease_until < ?)",
                (owner, until, now, flow_id, now),
            )
            return cursor.rowcount == 1

    def renew(self, owner: str, lease: float) -> int:
        """Extend every lease ``owner`` holds by ``lease`` seconds from now."""
        until = time.time() + lease
        with self._transaction("renew its leases") as conn:
            cursor = conn.execute(
                "UPDATE flows SET lease_until = ? WHERE lease_owner = ?", (until, owner)
            )
            return cursor.rowcount

    def pause_until(self, scope: str, until: float) -> None:
        """Record a pause for ``scope`` (a later one already recorded stands)."""
        with self._transaction("record a pause") as conn:
            conn.execute(
                "INSERT INTO pauses VALUES (?, ?) ON CONFLICT (scope)"
                " DO UPDATE SET until_at = MAX(until_at, excluded.until_at)",
                (scope, until),
            )

    def paused_until(self, scope: str) -> float:
        """The recorded pause for ``scope``; 0 when none (a missing file is not created)."""
        if self._conn is None and not self.path.exists():
            return 0.0
        rows = self._read("SELECT until_at FROM pauses WHERE scope = ?", (scope,))
        return float(rows[0][0]) if rows else 0.0

    # -- reading ---------------------------------------------------------------------------

    def get(self, flow_id: str) -> FlowRecord | None:
        """One flow, or ``None``."""
        rows = self._read(_SELECT + " WHERE flow_id = ?", (flow_id,))
        return FlowRecord.from_row(rows[0]) if rows else None

    def by_key(self, key: str) -> FlowRecord | None:
        """The flow with idempotency ``key``, or ``None``."""
        rows = self._read(_SELECT + " WHERE key = ?", (key,))
        return FlowRecord.from_row(rows[0]) if rows else None

    def history(self, flow_id: str) -> list[str]:
        """A flow's steps, in order."""
        rows = self._read("SELECT step FROM history WHERE flow_id = ? ORDER BY rowid", (flow_id,))
        return [row[0] for row in rows]

    def flows(self) -> list[FlowRecord]:
        """Every flow, in the order they started."""
        rows = self._read(_SELECT + " ORDER BY created, rowid")
        return [FlowRecord.from_row(row) for row in rows]

    def pending(self) -> list[FlowRecord]:
        """The open flows, oldest first, from the partial index of open flows."""
        rows = self._read(
            _SELECT + " INDEXED BY flows_open WHERE state IN ('active', 'resumable')"
            " ORDER BY created"
        )
        return [FlowRecord.from_row(row) for row in rows]

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
                    (flow, state, step or "started", dumps_fields(fields), first, time.time()),
                )
            conn.execute("INSERT INTO imported VALUES (?, ?)", (marker, time.time()))
        logger.info("imported %d flow(s) from %s", len(folded), source)


def _records(line: str) -> Iterator[dict[str, Any]]:
    """The records of one line: a crash could cut a line short and the next append be glued
    to it, so each ``{"flow"`` on the line is tried; cut-off, foreign and odd values are
    skipped."""
    text = line.strip()
    if _nesting(text) > MAX_FIELD_DEPTH:
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


def is_legacy_jsonl(path: Path) -> bool:
    """True when ``path`` is a file that is not an SQLite database (an older JSON lines one)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(len(_SQLITE_MAGIC))
    except OSError:
        return False
    return bool(head) and head != _SQLITE_MAGIC
