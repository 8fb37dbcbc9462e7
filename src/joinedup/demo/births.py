"""Births registered as civil registration registers them, and the proactive services' reaction
to them, run in the calling process: for preparing a country whose people already hold
entitlements and letters (``bench portal``, the portal's tests) without running the workers.

Each birth goes through the population register's public write service (``record-birth``,
in-process through the exchange as the registrar's subsystem, so it is signed, validated and
recorded as over ``/r1``); its ``population.birth_registered.v1`` events are then handed to
the births consumer's handler (:func:`joinedup.proactive.handlers.handle_births`) in one
transaction, as the consumer would take them: the parents get their entitlements, the
letters deciding them and the data-usage records of the reads.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select

from joinedup.core.db import Database
from joinedup.core.events import Delivered
from joinedup.core.outbox import OutboxEvent
from joinedup.demo.agencies import organisation
from joinedup.exchange import exchange_client

BIRTH_REGISTERED = "population.birth_registered.v1"


@dataclass(frozen=True)
class Birth:
    """A birth to register: the parents' personal codes (the one who gave birth first)."""

    parents: tuple[str, ...]
    born: date
    given_names: str = "Mia"
    family_name: str = "Tamm"
    sex: str = "F"


def register_births(database: Database, births: Sequence[Birth]) -> list[str]:
    """Register ``births`` (one transaction each, as the registrar's calls are) and let the
    proactive services react to them together; returns the children's personal codes."""
    from joinedup.proactive.handlers import handle_births

    population = organisation("population-register")
    children: list[str] = []
    events: list[Delivered] = []
    for birth in births:
        with (
            database.unit_of_work() as session,
            exchange_client(
                session, client=f"GOV/{population.member_code}/civil-registration"
            ) as calls,
        ):
            before = session.scalar(select(func.coalesce(func.max(OutboxEvent.id), 0)))
            answer = calls.write(
                f"GOV/{population.member_code}/population/record-birth",
                purpose="civil-registration",
                body={
                    "reference": f"CRVS-{uuid.uuid4().hex[:12]}",
                    "givenNames": birth.given_names,
                    "familyName": birth.family_name,
                    "birthDate": birth.born.isoformat(),
                    "sex": birth.sex,
                    "birthPlace": "Joinville",
                    "parents": list(birth.parents),
                },
            )
            if answer.replayed:  # (a fresh reference each time: never)
                raise RuntimeError("the birth was registered before: it caused no event")
            children.append(str(answer.body["personalCode"]))
            # the event this birth emitted in this transaction: the one about its child
            child = int(answer.body["personRef"])
            found = session.scalars(
                select(OutboxEvent).where(
                    OutboxEvent.name == BIRTH_REGISTERED, OutboxEvent.id > before
                )
            ).all()
            (event,) = [e for e in found if int(e.payload["person_id"]) == child]
            events.append(Delivered.of(event, stream_seq=len(events) + 1))
    with database.unit_of_work() as session:
        handle_births(session, events)
    return children


__all__ = ["Birth", "register_births"]
