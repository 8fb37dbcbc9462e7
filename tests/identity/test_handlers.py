"""A death ends the person's powers of attorney and web sessions (once, however often the
event is delivered)."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from identity_support import World, sign_in
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from exchange_messages import last_message, messages_since
from joinedup.core.clock import today
from joinedup.core.consumers import registry
from joinedup.core.db import Database
from joinedup.core.events import Delivered
from joinedup.core.handling import apply_events
from joinedup.core.outbox import OutboxEvent
from joinedup.core.settings import get_settings
from joinedup.core.translog.models import TreeHead
from joinedup.exchange import PERSON_CODES, exchange_client
from joinedup.exchange.records import DataUsageRecord, MessageLogRecord
from joinedup.exchange.service.rights import revoke_access_right
from joinedup.identity import handlers as identity_handlers
from joinedup.identity.handlers import end_mandates_at_deaths, read_deaths
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
        powers = assert_powers_ended_by_death(session, grantor.personal_code)
        assert set(session.scalars(select(WebSession.end_reason))) == {"death"}
        revoked = session.scalars(
            select(OutboxEvent).where(OutboxEvent.name == "mandate.revoked.v1")
        ).all()
        assert len(revoked) == len(powers)
    assert web.get("/portal/acting-for", follow_redirects=False).status_code == 303


def assert_powers_ended_by_death(session: Session, grantor_code: str) -> list[PowerOfAttorney]:
    """The grantor's powers of attorney (there are some), every one revoked by death."""
    powers = session.scalars(
        select(PowerOfAttorney).where(PowerOfAttorney.grantor_code == grantor_code)
    ).all()
    assert powers
    assert {p.revoked_by for p in powers} == {"death"}
    return list(powers)


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
        assert_powers_ended_by_death(session, first.personal_code)


def test_on_sqlite_the_deceased_are_read_before_the_write_transaction(
    world: World, seeded: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The consumer reads the deceased's codes in a transaction that refuses writes (one
    writer at a time is not held for the reads); its write transaction ends the powers with
    what was read (the handler, which would read again, is not run) and writes the reads'
    records: one data-usage record for the deceased, one tree head."""
    grantor = world.one("pensioner")
    with seeded.unit_of_work() as session:
        events = [_death_event(session, grantor.personal_code)]
    consumer = registry.get("identity.death")
    assert consumer.prepare is read_deaths
    read_only: list[bool] = []
    real_codes_of = identity_handlers._codes_of

    def codes_of(session: Session, *args: Any, **kwargs: Any) -> Any:
        read_only.append(bool(session.connection().exec_driver_sql("PRAGMA query_only").scalar()))
        return real_codes_of(session, *args, **kwargs)

    def handler(session: Session, events: list[Delivered]) -> None:
        raise AssertionError("what was read ahead should have been applied")

    monkeypatch.setattr(identity_handlers, "_codes_of", codes_of)
    with seeded.reading() as session:
        heads = session.scalar(select(func.count()).select_from(TreeHead))
        before = session.scalars(
            select(DataUsageRecord.subject_code).where(DataUsageRecord.purpose == "mandate-check")
        ).all()
    assert apply_events(seeded, dataclasses.replace(consumer, handler=handler), events) == {
        events[0].event_id
    }
    assert read_only == [True]
    with seeded.reading() as session:
        assert session.scalar(select(func.count()).select_from(TreeHead)) == heads + 1
        read = session.scalars(
            select(DataUsageRecord.subject_code).where(DataUsageRecord.purpose == "mandate-check")
        ).all()
        assert read.count(grantor.personal_code) == before.count(grantor.personal_code) + 1
        assert_powers_ended_by_death(session, grantor.personal_code)


def test_reading_ahead_that_fails_keeps_the_reads_on_record(
    world: World, seeded: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The deceased were read before reading ahead failed: those reads are on record (a
    transaction of their own), and the consumer then reads them again."""
    first, second = world.one("pensioner"), world.one("young-adult")
    with seeded.unit_of_work() as session:
        events = [_death_event(session, p.personal_code) for p in (first, second)]
    real_codes_of = identity_handlers._codes_of

    def codes_of(session: Session, calls: Any, events: list[Delivered]) -> Any:
        real_codes_of(session, calls, events[:1])
        raise RuntimeError("the register did not answer")

    def read_count(code: str) -> int:
        with seeded.reading() as session:
            return len(
                session.scalars(
                    select(DataUsageRecord.id).where(
                        DataUsageRecord.purpose == "mandate-check",
                        DataUsageRecord.subject_code == code,
                    )
                ).all()
            )

    before = {p.personal_code: read_count(p.personal_code) for p in (first, second)}
    monkeypatch.setattr(identity_handlers, "_codes_of", codes_of)
    with pytest.raises(RuntimeError), seeded.reading_only() as session:
        read_deaths(session, events, seeded)
    assert read_count(first.personal_code) == before[first.personal_code] + 1
    assert read_count(second.personal_code) == before[second.personal_code]
    monkeypatch.undo()
    assert apply_events(seeded, registry.get("identity.death"), events) == {
        e.event_id for e in events
    }
    # both read (again) by the consumer, the first's first read still on record
    assert read_count(first.personal_code) == before[first.personal_code] + 2
    assert read_count(second.personal_code) == before[second.personal_code] + 1


@pytest.mark.parametrize("bulk", [True, False])
def test_a_batch_of_deaths_reads_the_codes_in_one_message(
    world: World, seeded: Database, bulk: bool
) -> None:
    """The batch's deceased are read in one ``person-codes`` message (a data-usage record
    each, for ``mandate-check``); a deployment that has not granted the portal
    ``person-codes`` reads them one ``person`` message each (the refusal on record), ending
    the same powers either way. A reference the register does not know ends nothing and
    stops nobody else's."""
    first, second = world.one("pensioner"), world.one("young-adult")
    with seeded.unit_of_work() as session:
        events = [_death_event(session, p.personal_code) for p in (first, second)]
        if not bulk:
            for right in session.scalars(
                text(
                    "SELECT r.id FROM exchange_access_right r "
                    "JOIN exchange_service s ON s.id = r.service_id "
                    "JOIN exchange_subsystem c ON c.id = r.client_subsystem_id "
                    "WHERE s.code = 'person-codes' AND c.code = :portal"
                ),
                {"portal": get_settings().portal_subsystem.rsplit("/", 1)[-1]},
            ).all():
                revoke_access_right(session, right_id=right, reason="test", actor="test")
    unknown = dataclasses.replace(
        events[0], event_id=uuid.uuid4(), payload={**events[0].payload, "person_id": 999_999_999}
    )
    batch = [events[0], unknown, events[1]]
    before = last_message(seeded)
    with (
        seeded.unit_of_work() as session,
        exchange_client(session, client=get_settings().portal_subsystem) as calls,
    ):
        codes = identity_handlers._codes_of(session, calls, batch)
    assert codes == [first.personal_code, None, second.personal_code]
    if bulk:
        assert messages_since(seeded, before) == {PERSON_CODES: 1}
    else:  # the refusal, then each one alone (the unknown one answered "not found")
        assert messages_since(seeded, before) == {PERSON_CODES: 1, "person": 3}
    with seeded.reading() as session:
        read = session.scalars(
            select(DataUsageRecord.subject_code)
            .join(MessageLogRecord, MessageLogRecord.message_id == DataUsageRecord.message_id)
            .where(DataUsageRecord.purpose == "mandate-check", MessageLogRecord.id > before)
        ).all()
    assert sorted(read) == sorted([first.personal_code, second.personal_code])
    assert apply_events(seeded, registry.get("identity.death"), batch) == {
        e.event_id for e in batch
    }
    with seeded.reading() as session:
        assert_powers_ended_by_death(session, first.personal_code)
