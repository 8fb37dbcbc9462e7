"""Reads made ahead of a write transaction: a consumer's first phase on SQLite
(:mod:`joinedup.core.handling`) reads through the exchange in a transaction that only reads, and
the records of those reads are written in the write transaction that follows — or, if the first
phase fails after reading, or the write transaction fails, in a transaction of their own:
every read made is on record, once.

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
from joinedup.core.events import after_this_commit
from joinedup.exchange.local import ExchangeClient
from joinedup.exchange.local_clients import reading_client, write_read_records
from joinedup.exchange.recorder import Recording

log = structlog.get_logger(__name__)

#: The records of reads made ahead: per subsystem (``CLASS/MEMBER/SUBSYSTEM``), its records.
Reads = list[tuple[str, Sequence[Recording]]]


@dataclass
class ReadsAhead:
    """The records of reads made in a transaction that only reads, kept in ``reads`` until a
    write transaction that writes them (:meth:`write`) commits. A member's first signing
    key, if a read needs one, is created on ``key_database`` in a transaction of its own.
    ``what`` names the reads in a log line if their records cannot be written (counts only:
    nothing personal)."""

    key_database: Database | None
    reads: Reads = field(default_factory=list)
    what: str = "reads_ahead"

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
        """Write the kept records in ``session``'s transaction, as one transparency-log batch;
        they are let go once it commits (until then :meth:`write_alone` still writes them:
        the transaction may yet roll back)."""
        if self.reads:
            write_read_records(session, self.reads)
            after_this_commit(session, f"{_WRITTEN}:{id(self)}", lambda: self, _written)

    @contextmanager
    def kept_if_failing(self) -> Iterator[None]:
        """A first phase's block: if it fails, the records of the reads it made so far are
        written in a transaction of their own (:meth:`write_alone`) and the error raised."""
        try:
            yield
        except Exception:
            self.write_alone()
            raise

    def write_alone(self) -> None:
        """Write the kept records, if no transaction that wrote them committed, in a
        transaction of their own on ``key_database``: the first phase failed after reading,
        or the write transaction failed (the reads happened all the same; what follows reads
        again, and both reads are on record). A failure to write them is logged, not raised:
        the first error is the one to raise."""
        if not self.reads:
            return
        if self.key_database is None:
            log.error("reads_ahead_not_recorded", what=self.what, calls=self._calls(), error=None)
            self.reads = []
            return
        try:
            with self.key_database.unit_of_work() as session:
                self.write(session)
        except Exception as exc:
            log.error(
                "reads_ahead_not_recorded",
                what=self.what,
                calls=self._calls(),
                error=type(exc).__name__,
            )
        self.reads = []

    def _calls(self) -> int:
        return sum(len(recordings) for _, recordings in self.reads)


#: The key of a :class:`ReadsAhead` written in a transaction, among what the transaction does
#: after its commit (``core.events.after_this_commit``).
_WRITTEN = "exchange.reads_ahead.written"


def _written(ahead: ReadsAhead) -> None:
    ahead.reads = []


@dataclass
class KeepsReads:
    """The part a consumer's preparation (``core.consumers.Preparation``) that read ahead
    shares: ``keep`` writes the reads' records in the write transaction, ``abandon`` — that
    transaction failed — in one of their own. A subclass adds its fields and ``apply``."""

    ahead: ReadsAhead

    def keep(self, session: Session) -> None:
        """Write the records of the reads made (used or not, they happened)."""
        self.ahead.write(session)

    def abandon(self) -> None:
        """The write transaction failed: the reads' records in a transaction of their own."""
        self.ahead.write_alone()
