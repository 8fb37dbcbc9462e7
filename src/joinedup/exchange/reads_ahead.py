"""Reads made ahead of a write transaction: a consumer's first phase on SQLite
(:mod:`joinedup.core.handling`) reads through the exchange in a transaction that only reads, and
the records of those reads are written in the write transaction that follows — or, if the first
phase fails after reading, in a transaction of their own: every read made is on record.

:class:`ReadsAhead` gives the first phase its clients (:meth:`ReadsAhead.client`, one per
subsystem it reads as: :func:`~joinedup.exchange.local_clients.reading_client`) and keeps their
records; :meth:`ReadsAhead.write` writes them all as one transparency-log batch
(:func:`~joinedup.exchange.local_clients.write_read_records`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import structlog
from sqlalchemy.orm import Session

from joinedup.core.db import Database
from joinedup.exchange.local import ExchangeClient
from joinedup.exchange.local_clients import reading_client, write_read_records
from joinedup.exchange.recorder import Recording

log = structlog.get_logger(__name__)

#: The records of reads made ahead: per subsystem (``CLASS/MEMBER/SUBSYSTEM``), its records.
Reads = list[tuple[str, Sequence[Recording]]]


@dataclass
class ReadsAhead:
    """The records of reads made in a transaction that only reads, kept in ``reads`` until a
    write transaction writes them (:meth:`write`). A member's first signing key, if a read
    needs one, is created on ``key_database`` in a transaction of its own."""

    key_database: Database | None
    reads: Reads = field(default_factory=list)

    @contextmanager
    def client(self, session: Session, client: str) -> Iterator[ExchangeClient]:
        """Calls through the exchange as ``client`` in ``session`` (which only reads); their
        records are kept when the block ends, also when it fails (the reads happened)."""
        calls = reading_client(session, client=client, key_database=self.key_database)
        try:
            yield calls
        finally:
            self.reads.append((client, calls.detach_records()))

    def write(self, session: Session) -> None:
        """Write the kept records in ``session``'s transaction, as one transparency-log batch."""
        write_read_records(session, self.reads)
        self.reads = []

    def write_alone(self, *, what: str) -> None:
        """The first phase failed after reading: write the kept records in a transaction of
        their own on ``key_database`` (the write transaction that follows reads again, and
        both reads are on record). A failure to write them is logged (``what`` failed, and
        counts only: nothing personal), not raised: the first phase's error is the one to
        raise."""
        if not self.reads or self.key_database is None:
            return
        try:
            with self.key_database.unit_of_work() as session:
                self.write(session)
        except Exception as exc:
            log.error(
                "reads_ahead_not_recorded",
                what=what,
                calls=sum(len(recordings) for _, recordings in self.reads),
                error=type(exc).__name__,
            )
        self.reads = []
