"""A death ends the person's powers of attorney and web sessions (once, however often the
event is delivered)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from identity_support import World, sign_in
from sqlalchemy import select

from joinedup.core.clock import today
from joinedup.core.db import Database
from joinedup.core.events import Delivered
from joinedup.core.outbox import OutboxEvent
from joinedup.identity.handlers import end_mandates_at_death
from joinedup.identity.models import PowerOfAttorney, WebSession
from joinedup.registries import find_person_id, register_death


def test_a_death_ends_the_powers_of_attorney_and_sessions_of_the_person(
    web: TestClient, world: World, seeded: Database
) -> None:
    grantor = world.one("pensioner")  # gave the demo's power of attorney for everything
    sign_in(web, grantor)
    with seeded.unit_of_work() as session:
        person_id = find_person_id(session, personal_code=grantor.personal_code)
        register_death(session, person_id=person_id, date_of_death=today(), actor="test")
        row = session.scalars(
            select(OutboxEvent).where(OutboxEvent.name == "population.death_registered.v1")
        ).one()
        event = Delivered(
            event_id=row.event_id,
            name=row.name,
            payload=row.payload,
            occurred_at=row.occurred_at,
            stream_seq=1,
        )
    for _ in range(2):  # a redelivery changes nothing more
        with seeded.unit_of_work() as session:
            end_mandates_at_death(session, event)
    with seeded.reading() as session:
        powers = session.scalars(
            select(PowerOfAttorney).where(PowerOfAttorney.grantor_code == grantor.personal_code)
        ).all()
        assert powers
        assert {p.revoked_by for p in powers} == {"death"}
        assert set(session.scalars(select(WebSession.end_reason))) == {"death"}
        revoked = session.scalars(
            select(OutboxEvent).where(OutboxEvent.name == "mandate.revoked.v1")
        ).all()
        assert len(revoked) == len(powers)
    assert web.get("/portal/acting-for", follow_redirects=False).status_code == 303
