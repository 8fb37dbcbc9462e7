"""How Tell Us Once reacts to the registries' events, and its worker loop.

- ``population.death_registered.v1`` → :func:`~joinedup.tellusonce.service.receive_deaths`:
  the life event and one notification per subscribing agency, in the delivery's transaction
  (the consumer's inbox makes a redelivered event a no-op; the unique life event per source
  event and the unique notification per (life event, subscription) make it so in the tables
  too).
- ``population.address_changed.v1`` → :func:`~joinedup.tellusonce.service.receive_move`, the
  same for a change of residence.
- The worker loop ``tellusonce.dispatch`` delivers the notifications
  (:class:`~joinedup.tellusonce.dispatcher.Dispatcher`).
"""

from __future__ import annotations

import asyncio
from datetime import date

from sqlalchemy.orm import Session

from joinedup import exchange
from joinedup.core.consumers import consumer
from joinedup.core.db import Database
from joinedup.core.events import Delivered
from joinedup.core.loops import loop
from joinedup.core.settings import Settings, get_settings
from joinedup.registries.events import AddressChanged, DeathRegistered
from joinedup.tellusonce.dispatcher import Dispatcher
from joinedup.tellusonce.service import (
    Death,
    DeathsRead,
    read_deaths_ahead,
    receive_deaths,
    receive_move,
)

#: Events taken in together in one transaction (a failing batch is retried one at a time):
#: one at a time, a burst of deaths queued behind every other writer, each waiting its turn.
BATCH = 100


def read_deaths(session: Session, events: list[Delivered], database: Database) -> DeathsRead:
    """The first phase on SQLite (:mod:`joinedup.core.handling`): the deceased and their next
    of kin read in a transaction that only reads, so that the one writer at a time is not
    held while reading; the write transaction writes the life events and notifications, or
    — a population event since concerning a person read — reads again itself."""
    return read_deaths_ahead(session, [_death(event) for event in events], key_database=database)


@consumer("tellusonce.death", events=[DeathRegistered.name], batch=BATCH, prepare=read_deaths)
def take_in_deaths(session: Session, events: list[Delivered]) -> None:
    """The batch's reads go through one exchange client (their records written together),
    its life events and notifications are written together."""
    with exchange.exchange_client(session, client=get_settings().tell_us_once_subsystem) as calls:
        receive_deaths(session, [_death(event) for event in events], actor=ACTOR, calls=calls)


@consumer("tellusonce.move", events=[AddressChanged.name], batch=BATCH)
def take_in_moves(session: Session, events: list[Delivered]) -> None:
    for event in events:
        take_in_move(session, event)


ACTOR = "tell-us-once"


def _death(event: Delivered) -> Death:
    return Death(
        source_event_id=event.event_id,
        person_ref=event.payload["person_id"],
        date_of_death=date.fromisoformat(event.payload["date_of_death"]),
    )


def take_in_move(session: Session, event: Delivered) -> None:
    receive_move(
        session,
        source_event_id=event.event_id,
        person_ref=event.payload["person_id"],
        moved_on=date.fromisoformat(event.payload["moved_on"]),
        previous_municipality_code=event.payload.get("previous_municipality_code"),
        actor="tell-us-once",
    )


@loop("tellusonce.dispatch")
async def dispatch(settings: Settings, database: Database, stop: asyncio.Event) -> None:
    await Dispatcher(settings, database).run(stop)
