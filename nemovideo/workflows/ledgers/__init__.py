"""The ledger's storage backends, behind :class:`~nemovideo.workflows.journal.Journal`.

- :mod:`~nemovideo.workflows.ledgers.base`: what every backend shares: the flow record, the
  states, the :class:`~nemovideo.workflows.ledgers.base.LedgerBackend` protocol, field coding.
- :mod:`~nemovideo.workflows.ledgers.sqlite`: one SQLite file (the default; one machine).
- :mod:`~nemovideo.workflows.ledgers.postgres`: a PostgreSQL database (``nemovideo[postgres]``),
  shared by processes on many machines.
"""

__all__: list[str] = []
