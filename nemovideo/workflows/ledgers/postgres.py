"""The PostgreSQL ledger (``pip install "nemovideo[postgres]"``): one database for a fleet.

The same flows, steps and leases as the SQLite ledger, in three tables of their own
(``nemovideo_flows``, ``nemovideo_history``, ``nemovideo_pauses``) that live happily beside a
queue's tables in the same database. Each step is one transaction, committed before the step
is taken. A claim is one atomic ``UPDATE ... WHERE`` on a row chosen with ``FOR UPDATE SKIP
LOCKED``: of two processes (on any machines) claiming one flow, one wins and the other is told
at once, without waiting on the winner's lock. Lease times are read from the database server's
clock, so machines whose clocks drift still agree on when a lease ends. ``pending()`` reads a
partial index of the open flows only.

The schema is created on first use, under an advisory lock, so a fleet starting at once
creates it once.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from nemovideo.protocol.errors import ConfigurationError, StorageError
from nemovideo.workflows.ledgers.base import (
    FINAL_STATES,
    FlowRecord,
    dumps_fields,
    loads_fields,
    plain,
    redact_url,
    state_after,
)

if TYPE_CHECKING:
    import psycopg

__all__ = ["SCHEMA", "PostgresLedger"]

logger = logging.getLogger("nemovideo.journal")

#: The ledger's tables; created on first use (``IF NOT EXISTS``) under an advisory lock.
SCHEMA = """
CREATE TABLE IF NOT EXISTS nemovideo_flows (
    flow_id     text PRIMARY KEY,
    seq         bigserial NOT NULL,
    state       text NOT NULL,
    step        text NOT NULL,
    fields      text NOT NULL,
    key         text UNIQUE,
    server      text,
    lease_owner text,
    lease_until double precision,
    created     double precision NOT NULL,
    updated     double precision NOT NULL
);
CREATE INDEX IF NOT EXISTS nemovideo_flows_open ON nemovideo_flows (created, seq)
    WHERE state IN ('active', 'resumable');
CREATE INDEX IF NOT EXISTS nemovideo_flows_owner ON nemovideo_flows (lease_owner)
    WHERE lease_owner IS NOT NULL;
CREATE TABLE IF NOT EXISTS nemovideo_history (
    seq     bigserial PRIMARY KEY,
    flow_id text NOT NULL,
    step    text NOT NULL,
    at      double precision NOT NULL
);
CREATE INDEX IF NOT EXISTS nemovideo_history_flow ON nemovideo_history (flow_id, seq);
-- The database server's clock, in Unix seconds: every machine reckons leases by it.
CREATE OR REPLACE FUNCTION nemovideo_now() RETURNS double precision
    LANGUAGE sql VOLATILE AS $$ SELECT extract(epoch FROM clock_timestamp()) $$;
CREATE TABLE IF NOT EXISTS nemovideo_pauses (
    scope    text PRIMARY KEY,
    until_at double precision NOT NULL
);
"""

# Any constant shared by every nemovideo process: "nemo" in ASCII.
_SCHEMA_LOCK = 0x6E656D6F
_SELECT = (
    "SELECT flow_id, step, fields, state, key, server, lease_owner, lease_until"
    " FROM nemovideo_flows"
)


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError:
        raise ConfigurationError(
            'A postgresql:// journal needs psycopg: pip install "nemovideo[postgres]".'
        ) from None
    return psycopg


class PostgresLedger:
    """The ledger in a PostgreSQL database (see the module's notes).

    Args:
        url: a ``postgresql://`` connection URL (libpq's form: user, password, host, port,
            database, ``?sslmode=...``). It is never printed with its password.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.where = redact_url(url)
        self._lock = threading.RLock()
        self._conn: psycopg.Connection[Any] | None = None

    # -- storage ---------------------------------------------------------------------------

    def _connect(self) -> psycopg.Connection[Any]:
        if self._conn is not None and not self._conn.closed:
            return self._conn
        pg = _psycopg()
        try:
            conn: psycopg.Connection[Any] = pg.connect(
                self.url, autocommit=True, connect_timeout=30
            )
            row = conn.execute("SELECT to_regclass('nemovideo_pauses')").fetchone()
            if row is None or row[0] is None:
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                    conn.execute(SCHEMA)
        except pg.Error as exc:
            raise self._storage_error("open", exc) from exc
        self._conn = conn
        return conn

    def _storage_error(self, what: str, exc: BaseException) -> StorageError:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return StorageError(
            f"The journal {self.where} could not {what} ({type(exc).__name__}: {detail}). "
            "Nothing was sent for the step it was to record. Check that the database is up "
            "and reachable (or set journal_path / NEMO_JOURNAL elsewhere), then run again or "
            "resume.",
            path=self.where,
        )

    def _drop_broken(self) -> None:
        conn = self._conn
        if conn is not None and (conn.closed or conn.broken):
            self._conn = None
            with contextlib.suppress(Exception):
                conn.close()

    @contextlib.contextmanager
    def _transaction(self, what: str = "record a step") -> Iterator[psycopg.Connection[Any]]:
        """One transaction, committed before returning (rolled back on any error)."""
        pg = _psycopg()
        with self._lock:
            conn = self._connect()
            try:
                with conn.transaction():
                    yield conn
            except pg.Error as exc:
                self._drop_broken()
                raise self._storage_error(what, exc) from exc

    def _read(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        pg = _psycopg()
        with self._lock:
            for attempt in range(2):
                conn = self._connect()
                try:
                    return conn.execute(sql, args).fetchall()
                except pg.OperationalError as exc:
                    # A connection the server dropped (a restart, an idle timeout): reading
                    # again on a new one is safe.
                    self._drop_broken()
                    if attempt == 1 or self._conn is conn:
                        raise self._storage_error("be read", exc) from exc
                except pg.Error as exc:
                    raise self._storage_error("be read", exc) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        """Close the connection (it reopens on next use)."""
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
        pg = _psycopg()
        state = "active" if owner is not None else "resumable"
        try:
            with self._transaction() as conn:
                conn.execute(
                    "INSERT INTO nemovideo_flows (flow_id, state, step, fields, key, server,"
                    " lease_owner, lease_until, created, updated) VALUES (%s, %s, 'started',"
                    " %s, %s, %s, %s, CASE WHEN %s THEN nemovideo_now() + %s END,"
                    " nemovideo_now(), nemovideo_now())",
                    (flow_id, state, dumps_fields(fields), key, server, owner,
                     owner is not None, lease),
                )  # fmt: skip
                conn.execute(
                    "INSERT INTO nemovideo_history (flow_id, step, at) VALUES (%s, 'started',"
                    " nemovideo_now())",
                    (flow_id,),
                )
        except StorageError as exc:
            if isinstance(exc.__cause__, pg.errors.UniqueViolation):
                raise KeyError(key or flow_id) from None
            raise

    def record(self, flow_id: str, step: str, fields: Mapping[str, Any]) -> None:
        """Append a step, merge its fields (see :meth:`Journal.record`)."""
        state = state_after(step)
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO nemovideo_history (flow_id, step, at)"
                " VALUES (%s, %s, nemovideo_now())",
                (flow_id, step),
            )
            row = conn.execute(
                "SELECT fields, state FROM nemovideo_flows WHERE flow_id = %s FOR UPDATE",
                (flow_id,),
            ).fetchone()
            if row is None:
                conn.execute(
                    "INSERT INTO nemovideo_flows (flow_id, state, step, fields, created, updated)"
                    " VALUES (%s, %s, %s, %s, nemovideo_now(), nemovideo_now())",
                    (flow_id, state or "resumable", step, dumps_fields(fields)),
                )
                return
            merged = {**loads_fields(row[0]), **plain(fields)}
            new_state = row[1] if row[1] in FINAL_STATES else (state or row[1])
            release = new_state != "active"
            conn.execute(
                "UPDATE nemovideo_flows SET step = %s, fields = %s, state = %s,"
                " updated = nemovideo_now(),"
                " lease_owner = CASE WHEN %s THEN NULL ELSE lease_owner END,"
                " lease_until = CASE WHEN %s THEN NULL ELSE lease_until END"
                " WHERE flow_id = %s",
                (step, dumps_fields(merged), new_state, release, release, flow_id),
            )

    def forget_key(self, flow_id: str) -> None:
        """Clear the key of a failed flow."""
        with self._transaction("free a key") as conn:
            conn.execute(
                "UPDATE nemovideo_flows SET key = NULL WHERE flow_id = %s AND state = 'failed'",
                (flow_id,),
            )

    def claim(self, flow_id: str, owner: str, lease: float) -> bool:
        """Take an open, unheld flow for ``owner``: one atomic statement; a row another
        transaction is claiming right now is skipped (that one wins), never waited on."""
        with self._transaction("claim a flow") as conn:
            cursor = conn.execute(
                "UPDATE nemovideo_flows SET lease_owner = %s, lease_until = nemovideo_now() + %s,"
                " state = 'active', updated = nemovideo_now()"
                " WHERE flow_id = (SELECT flow_id FROM nemovideo_flows WHERE flow_id = %s"
                "   AND state IN ('active', 'resumable')"
                "   AND (lease_owner IS NULL OR lease_until < nemovideo_now())"
                "   FOR UPDATE SKIP LOCKED)",
                (owner, lease, flow_id),
            )
            return cursor.rowcount == 1

    def renew(self, owner: str, lease: float) -> int:
        """Extend every lease ``owner`` holds by ``lease`` seconds from now."""
        with self._transaction("renew its leases") as conn:
            cursor = conn.execute(
                "UPDATE nemovideo_flows SET lease_until = nemovideo_now() + %s"
                " WHERE lease_owner = %s",
                (lease, owner),
            )
            return cursor.rowcount

    def pause_until(self, scope: str, until: float) -> None:
        """Record a pause for ``scope`` (a later one already recorded stands)."""
        with self._transaction("record a pause") as conn:
            conn.execute(
                "INSERT INTO nemovideo_pauses (scope, until_at) VALUES (%s, %s)"
                " ON CONFLICT (scope) DO UPDATE"
                " SET until_at = GREATEST(nemovideo_pauses.until_at, excluded.until_at)",
                (scope, until),
            )

    def paused_until(self, scope: str) -> float:
        """The recorded pause for ``scope``; 0 when none."""
        rows = self._read("SELECT until_at FROM nemovideo_pauses WHERE scope = %s", (scope,))
        return float(rows[0][0]) if rows else 0.0

    # -- reading ---------------------------------------------------------------------------

    def get(self, flow_id: str) -> FlowRecord | None:
        """One flow, or ``None``."""
        rows = self._read(_SELECT + " WHERE flow_id = %s", (flow_id,))
        return FlowRecord.from_row(rows[0]) if rows else None

    def by_key(self, key: str) -> FlowRecord | None:
        """The flow with idempotency ``key``, or ``None``."""
        rows = self._read(_SELECT + " WHERE key = %s", (key,))
        return FlowRecord.from_row(rows[0]) if rows else None

    def history(self, flow_id: str) -> list[str]:
        """A flow's steps, in order."""
        rows = self._read(
            "SELECT step FROM nemovideo_history WHERE flow_id = %s ORDER BY seq", (flow_id,)
        )
        return [row[0] for row in rows]

    def flows(self) -> list[FlowRecord]:
        """Every flow, in the order they started."""
        rows = self._read(_SELECT + " ORDER BY created, seq")
        return [FlowRecord.from_row(row) for row in rows]

    def pending(self) -> list[FlowRecord]:
        """The open flows, oldest first, from the partial index of open flows."""
        rows = self._read(_SELECT + " WHERE state IN ('active', 'resumable') ORDER BY created, seq")
        return [FlowRecord.from_row(row) for row in rows]
