"""The flow ledger: every ``animate`` flow, committed step by step before each step.

Each step of a flow is one transaction, committed *before* the step is taken; a commit that
fails stops the flow before the step, so no paid request goes out without its record. A crash
at any point leaves enough to finish the work without sending a chat message twice or starting
a second render behind the user's back.

:class:`Journal` is the one interface; where the flows live is its backend, chosen by what it
is given:

- a path: one SQLite file (the default, ``~/.local/state/nemovideo/journal.db``), safe for the
  threads and processes of one machine (:mod:`~nemovideo.workflows.ledgers.sqlite`);
- a ``postgresql://`` URL: a PostgreSQL database, shared by processes on many machines
  (``pip install "nemovideo[postgres]"``; :mod:`~nemovideo.workflows.ledgers.postgres`).

Flow states:

- ``active``: a run is taking the flow's steps and holds its lease (renewed while it runs).
- ``resumable``: the run stopped (a deadline, a close, an outage, a full disk, a kill) and the
  flow waits for ``client.resume()``; ``reason`` says why and ``hint`` what to do.
- ``done``: the video was delivered.
- ``failed``: ended for good: before any payment, or because the service reported a failure no
  new attempt can fix.

Claims: before anyone takes a flow's steps it claims the flow with a lease (one atomic
statement). A live run holds the leases of its own flows and renews them; a killed holder's
lease expires after ``lease`` seconds; two resumers never run one flow, in one process or in
several. Finished flows stay in the table, out of the partial index that
:meth:`Journal.pending` reads, so finding the open flows costs the same at 100k flows as at 10.

The ledger also keeps the fleet's rate-limit pause (:meth:`Journal.pause_until`): a 429 one
process meets makes every process sharing the ledger wait (see ``RateGate``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from pathlib import Path
from typing import Any

from nemovideo.protocol.errors import NemoError
from nemovideo.transport.config import default_journal_path
from nemovideo.workflows.ledgers.base import (
    FINAL_STATES,
    FlowRecord,
    LedgerBackend,
    is_ledger_url,
    new_owner_id,
)
from nemovideo.workflows.ledgers.postgres import PostgresLedger
from nemovideo.workflows.ledgers.sqlite import SQLiteLedger, is_legacy_jsonl

__all__ = ["FINAL_STATES", "FlowRecord", "FlowTakenError", "Journal", "LedgerPause", "new_owner_id"]

_DEFAULT_LEASE = 60.0


class FlowTakenError(NemoError):
    """Another run holds a flow this run was taking: its lease lapsed (the process was too slow
    to renew it) and another run claimed the flow, which finishes it. This run stops before
    its next step, so no step is taken twice."""


class Journal:
    """The flow ledger. Safe for threads, processes and flows running side by side.

    Args:
        path: where the ledger lives: a database file (its folder is created with owner-only
            permissions; a JSON lines file of an older version is imported into ``<path>.db``
            and used from there), or a ``postgresql://`` URL shared by a fleet of processes
            (needs ``nemovideo[postgres]``).
        lease: seconds a claim lasts without renewal; a live run renews its flows' leases every
            third of it, so a killed run's flows can be resumed after at most this long.

    Attributes:
        path: the SQLite file, ``None`` for a database server's ledger.
        url: the ``postgresql://`` URL as given (with its password: never print it), or
            ``None`` for a file.
        folder: a local folder for what the ledger's flows leave behind: the file's folder,
            or the state folder (``~/.local/state/nemovideo``) for a server's ledger. A
            resumed flow that kept its video in memory is saved in ``folder / "videos"``.
        where: the ledger's place for messages (a URL without its password).
        owner: this object's id as a holder of leases (unique per ``Journal`` object: two
            objects on one ledger are two owners, as two processes would be).
    """

    def __init__(self, path: str | os.PathLike[str], *, lease: float = _DEFAULT_LEASE) -> None:
        if not (isinstance(lease, (int, float)) and 0 < lease < float("inf")):
            raise ValueError("lease must be a positive number of seconds")
        self.lease = float(lease)
        self.owner = new_owner_id()
        self.given: str | Path
        self.backend: LedgerBackend
        if is_ledger_url(path):
            url = str(path).strip()
            self.given = url
            self.path: Path | None = None
            self.url: str | None = url
            self.folder = default_journal_path(os.environ).parent
            self.backend = PostgresLedger(url)
        else:
            given = Path(path)
            self.given = given
            legacy: Path | None = None
            if given.suffix == ".jsonl":
                # The older format's name: the ledger lives beside it, and the lines are imported.
                legacy = given if is_legacy_jsonl(given) else None
                given = given.with_suffix(".db")
            elif is_legacy_jsonl(given):
                legacy, given = given, given.with_name(given.name + ".db")
            elif given.with_suffix(".jsonl").is_file():
                legacy = given.with_suffix(".jsonl")
            self.path = given
            self.url = None
            self.folder = given.parent
            self.backend = SQLiteLedger(given, legacy)
        self.where: str = self.backend.where

    def __repr__(self) -> str:
        return f"<Journal {self.where}>"

    @staticmethod
    def new_flow_id() -> str:
        """A fresh flow id (random: unique across processes and machines)."""
        return uuid.uuid4().hex

    def close(self) -> None:
        """Close the connection to the ledger (it reopens on next use)."""
        self.backend.close()

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
        owner = self.owner if hold else None
        self.backend.start(
            flow_id, key=key, server=server, owner=owner, lease=self.lease, fields=fields
        )

    def record(self, flow_id: str, step: str, **fields: Any) -> None:
        """Commit one step of a flow (merging ``fields``) before returning.

        ``done`` and ``failed`` end the flow; ``interrupted`` makes it resumable; anything
        else leaves its state as it is (a flow first seen here is created resumable). Fields
        must never hold secrets.

        A flow that another owner holds now (this process was too slow to renew its lease, and
        another run claimed the flow) is not recorded: the step must not be taken here.

        Raises:
            StorageError: the journal could not commit it (nothing may be sent for the step).
            FlowTakenError: another run holds the flow now.
        """
        current = self.backend.get(flow_id)
        if (
            current is not None
            and current.state == "active"
            and current.lease_owner not in (None, self.owner)
            and current.held()
        ):
            raise FlowTakenError(
                f"Another run took over flow {flow_id} (this one was too slow to renew its "
                "claim); it finishes the flow there, so this run stops before its next step.",
            )
        self.backend.record(flow_id, step, fields)

    def forget_key(self, flow_id: str) -> None:
        """Free a failed, unpaid flow's idempotency key, so that the key can start afresh.

        Raises:
            StorageError: the journal could not be written.
        """
        self.backend.forget_key(flow_id)

    def claim(self, flow_id: str) -> bool:
        """Take the flow for this journal's owner: True when nobody else holds it (atomically).

        Raises:
            StorageError: the journal could not be written.
        """
        return self.backend.claim(flow_id, self.owner, self.lease)

    def renew(self) -> int:
        """Extend every lease this journal's owner holds; returns how many.

        Raises:
            StorageError: the journal could not be written.
        """
        return self.backend.renew(self.owner, self.lease)

    def release(self, flow_id: str, *, reason: str = "released", hint: str = "") -> None:
        """Let go of a held flow that is not finished: it becomes resumable.

        Raises:
            StorageError: the journal could not be written.
        """
        self.record(flow_id, "interrupted", reason=reason, hint=hint)

    def pause_until(self, scope: str, until: float) -> None:
        """Record that requests to ``scope`` (an API address) wait until ``until`` (Unix time);
        a later pause already recorded stands.

        Raises:
            StorageError: the journal could not be written.
        """
        self.backend.pause_until(scope, until)

    def paused_until(self, scope: str) -> float:
        """Until when requests to ``scope`` wait (Unix time; 0 when no pause was recorded).

        Raises:
            StorageError: the journal could not be read.
        """
        return self.backend.paused_until(scope)

    # -- reading ---------------------------------------------------------------------------

    def get(self, flow_id: str) -> FlowRecord | None:
        """One flow, or ``None``.

        Raises:
            StorageError: the journal could not be read.
        """
        return self.backend.get(flow_id)

    def by_key(self, key: str) -> FlowRecord | None:
        """The flow started with idempotency ``key``, or ``None``.

        Raises:
            StorageError: the journal could not be read.
        """
        return self.backend.by_key(key)

    def history(self, flow_id: str) -> list[str]:
        """The steps recorded for a flow, in order (``started``, ``session``, ...).

        Raises:
            StorageError: the journal could not be read.
        """
        return self.backend.history(flow_id)

    def flows(self) -> list[FlowRecord]:
        """Every flow in the journal, in the order they started.

        Raises:
            StorageError: the journal could not be read.
        """
        return self.backend.flows()

    def pending(self) -> list[FlowRecord]:
        """The flows that neither finished nor failed, oldest first: what ``resume`` picks up.

        Flows a live run holds are included (see :meth:`FlowRecord.held`).

        Raises:
            StorageError: the journal could not be read.
        """
        return self.backend.pending()


class LedgerPause:
    """The fleet's rate-limit pause, kept in a ledger: the hook a client gives its ``RateGate``.

    ``pause_until`` records a 429's pause for one API address; ``paused_until`` reads it. Both
    run in a thread (the ledger is blocking I/O). Every process whose client shares the ledger
    then waits out a pause that any of them met.

    Args:
        journal: the ledger.
        scope: what the pause is for: the API address.
    """

    def __init__(self, journal: Journal, scope: str) -> None:
        self.journal = journal
        self.scope = scope

    async def pause_until(self, ts: float) -> None:
        """Record a pause until ``ts`` (Unix time).

        Raises:
            StorageError: the ledger could not be written (the gate logs it and goes on).
        """
        await asyncio.to_thread(self.journal.pause_until, self.scope, ts)

    async def paused_until(self) -> float:
        """Until when the fleet waits (Unix time; 0 or a past time: no pause).

        Raises:
            StorageError: the ledger could not be read (the gate logs it and goes on).
        """
        return await asyncio.to_thread(self.journal.paused_until, self.scope)
