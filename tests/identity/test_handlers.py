"""A death ends the person's powers of attorney and web sessions (once, however often the
event is delivered)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from identity_support import World, sign_in
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from joinedup.core.clock import today
from joinedup.core.db import Database
from joinedup.core.events import Delivered
from joinedup.core.outbox import OutboxEvent
from joinedup.core.translog.models import TreeHead
from joinedup.exchange.records import DataUsageRecord
from joinedup.identity.handlers import end_mandates_at_deaths
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
            end_mandates_at_deaths(session, [event])
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


def _death_event(session: Session, personal_code: str) -> Delivered:
    person_id = find_person_id(session, personal_code=personal_code)
    register_death(session, person_id=person_id, date_of_death=today(), actor="test")
    row = session.scalars(
        select(OutboxEvent)
        .where(OutboxEvent.name == "population.death_registered.v1")
        .order_by(OutboxEvent.id.desc())
    ).first()
    assert row is not None
    return Delivered.of(row, stream_seq=row.id)


def test_a_batch_of_deaths_reads_each_person_and_records_the_reads_together(
    world: World, seeded: Database
) -> None:
    """Each deceased's code is read (a data-usage record each, as the portal for
    ``mandate-check``); the batch's records are written together: one signed tree head."""
    first, second = world.one("pensioner"), world.one("young-adult")
    with seeded.unit_of_work() as session:
        events = [_death_event(session, p.personal_code) for p in (first, second)]
    with seeded.reading() as session:
        heads = session.scalar(select(func.count()).select_from(TreeHead))
    with seeded.unit_of_work() as session:
        end_mandates_at_deaths(session, events)
    with seeded.reading() as session:
        assert session.scalar(select(func.count()).select_from(TreeHead)) == heads + 1
        read = set(
            session.scalars(
                select(DataUsageRecord.subject_code).where(
                    DataUsageRecord.purpose == "mandate-check"
                )
            )
        )
        assert {first.personal_code, second.personal_code} <= read
        powers = session.scalars(
            select(PowerOfAttorney).where(PowerOfAttorney.grantor_code == first.personal_code)
        ).all()
        assert powers
        assert {p.revoked_by for p in powers} == {"death"}
