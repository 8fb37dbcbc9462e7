"""Helpers of the portal's tests: a birth through civil registration's public entry point,
reacted to by the proactive services (so the parents have entitlements and letters)."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import select

from joinedup.core.db import Database
from joinedup.core.events import Delivered
from joinedup.core.outbox import OutboxEvent
from joinedup.demo import organisation
from joinedup.exchange import exchange_client


def register_birth(database: Database, *, mother: str, born: date) -> str:
    """Record a birth as the registrar and let the proactive services react (the births
    handler, run as its consumer would); returns the child's personal code."""
    from joinedup.proactive.handlers import handle_births

    population = organisation("population-register")
    with (
        database.unit_of_work() as session,
        exchange_client(
            session, client=f"GOV/{population.member_code}/civil-registration"
        ) as calls,
    ):
        answer = calls.write(
            f"GOV/{population.member_code}/population/record-birth",
            purpose="civil-registration",
            body={
                "reference": f"CRVS-{uuid.uuid4().hex[:12]}",
                "givenNames": "Mia",
                "familyName": "Tamm",
                "birthDate": born.isoformat(),
                "sex": "F",
                "birthPlace": "Joinville",
                "parents": [mother],
            },
        )
    with database.reading() as session:
        row = session.scalars(
            select(OutboxEvent)
            .where(OutboxEvent.name == "population.birth_registered.v1")
            .order_by(OutboxEvent.id.desc())
            .limit(1)
        ).one()
        event = Delivered(
            event_id=row.event_id,
            name=row.name,
            payload=row.payload,
            occurred_at=row.occurred_at,
            stream_seq=1,
        )
    with database.unit_of_work() as session:
        handle_births(session, [event])
    return str(answer.body["personalCode"])


def grant_everything(database: Database, *, grantor: str, grantor_name: str, grantee: str) -> str:
    """A power of attorney for everything from today, given by ``grantor`` to ``grantee`` as
    the portal would record it; returns its reference."""
    from joinedup import identity
    from joinedup.core.clock import today
    from joinedup.core.settings import get_settings

    with (
        database.unit_of_work() as session,
        exchange_client(session, client=get_settings().portal_subsystem, user_id=grantor) as calls,
    ):
        power = identity.grant_power_of_attorney(
            session,
            grantor_code=grantor,
            grantor_name=grantor_name,
            grantee_code=grantee,
            everything=True,
            services=[],
            data_categories=[],
            valid_from=today(),
            valid_to=None,
            calls=calls,
            actor="test",
        )
    return power.reference
