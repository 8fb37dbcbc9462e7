"""How identity reacts to other contexts' events.

- Daily (``identity.housekeeping``, 00:20 UTC): what a sign-in left behind is deleted once it
  cannot be used any more (:mod:`joinedup.identity.service.housekeeping`).
- A death (``population.death_registered.v1``) ends the person's powers of attorney, given
  and held, and their web sessions. (Parents' and representatives' mandates need nothing:
  they are read from the registries when used, and a dead child or a dead parent is no longer
  there to read.) The event carries the register's reference of the person; the personal code
  is read through the exchange, as the portal, for purpose ``mandate-check`` (the batch's
  in one ``person-codes`` call) — on SQLite
  ahead of the write transaction (:func:`read_deaths`), so that the one writer at a time is
  not held while reading.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy.orm import Session

from joinedup.core.consumers import consumer
from joinedup.core.db import Database
from joinedup.core.events import Delivered
from joinedup.core.schedule import daily
from joinedup.core.settings import get_settings
from joinedup.exchange import (
    ExchangeClient,
    KeepsReads,
    ReadsAhead,
    exchange_client,
    personal_codes,
)
from joinedup.identity.service import (
    MANDATE_PURPOSE,
    end_powers_of,
    end_sessions_of,
    purge_expired,
)
from joinedup.registries.events import DeathRegistered

#: Deaths handled together in one transaction (a failing batch is retried one at a time).
BATCH = 100


def read_deaths(session: Session, events: list[Delivered], database: Database) -> DeathsRead:
    """The first phase on SQLite (:mod:`joinedup.core.handling`): the deceased's personal
    codes read in a transaction that only reads, the records of the reads kept for the write
    transaction. A register reference's personal code does not change, so what was read
    holds whatever is written meanwhile."""
    ahead = ReadsAhead(database, what="identity_deaths")
    with ahead.kept_if_failing(), ahead.client(session, get_settings().portal_subsystem) as calls:
        codes = _codes_of(session, calls, events)
    return DeathsRead(ahead, codes)


@dataclass
class DeathsRead(KeepsReads):
    """The deceased's personal codes read ahead (None: a reference the register does not
    know), and the records of those reads."""

    codes: list[str | None]

    def apply(self, session: Session) -> bool:
        _end_at_deaths(session, self.codes)
        return True


@consumer("identity.death", events=[DeathRegistered.name], batch=BATCH, prepare=read_deaths)
def end_mandates_at_deaths(session: Session, events: list[Delivered]) -> None:
    """Idempotent: a power already ended and a session already closed are left alone. The
    batch's reads go through one exchange client (their records written together)."""
    with exchange_client(session, client=get_settings().portal_subsystem) as calls:
        codes = _codes_of(session, calls, events)
    _end_at_deaths(session, codes)


def _end_at_deaths(session: Session, codes: list[str | None]) -> None:
    for code in codes:
        if code is not None:
            end_powers_of(session, personal_code=code, reason="death")
            end_sessions_of(session, personal_code=code, reason="death")


def _codes_of(session: Session, calls: ExchangeClient, events: list[Delivered]) -> list[str | None]:
    """The deceased's personal codes, event by event, read as the portal for
    ``mandate-check`` in one ``person-codes`` call for the batch (one ``person`` call each
    where the portal has no right to it: :func:`~joinedup.exchange.personal_codes`); None for
    a reference the register does not know."""
    refs = [int(event.payload["person_id"]) for event in events]
    found = personal_codes(session, calls, refs, purpose=MANDATE_PURPOSE)
    return [found.get(ref) for ref in refs]


def forget_expired_sign_ins(session: Session, on: date) -> str:
    """The daily job: delete what sign-ins left behind that expired before ``on`` (00:00 UTC)
    by more than its grace period."""
    purged = purge_expired(
        session,
        now=datetime.combine(on, time(0), tzinfo=UTC),
        failure_window=timedelta(minutes=get_settings().signin_window_minutes),
    )
    return str(purged)


daily("identity.housekeeping", at=time(0, 20))(forget_expired_sign_ins)
