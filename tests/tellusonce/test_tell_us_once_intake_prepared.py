"""Tell Us Once takes deaths in, on SQLite, in two phases: the deceased and their next of kin
read in a transaction that refuses writes, the life events and notifications written in the
delivery's — or read again there when a population event since concerns a person read."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from tuo_support import married_couples, record_death, rows, scalar

from joinedup.core.consumers import registry
from joinedup.core.db import Database
from joinedup.core.events import Delivered, emit
from joinedup.core.handling import apply_events
from joinedup.core.outbox import OutboxEvent
from joinedup.registries.events import EmploymentImported, PopulationImported
from joinedup.tellusonce import handlers
from joinedup.tellusonce.service import DeathsRead
from joinedup.tellusonce.service import intake as intake_module

DEATH = "population.death_registered.v1"


def deaths(database: Database) -> list[Delivered]:
    with database.reading() as session:
        return [
            Delivered.of(row, stream_seq=row.id)
            for row in session.scalars(
                select(OutboxEvent).where(OutboxEvent.name == DEATH).order_by(OutboxEvent.id)
            )
        ]


def prepared(database: Database, events: list[Delivered]) -> DeathsRead:
    """The first phase, as the consumer runs it."""
    with database.reading_only() as session:
        return handlers.read_deaths(session, events, database)


def written(database: Database, read: DeathsRead) -> bool:
    """The second phase's own part: the reads kept, the life events written if they hold."""
    with database.unit_of_work() as session:
        read.keep(session)
        return read.apply(session)


def usage(database: Database, code: str) -> int:
    return int(
        scalar(
            database,
            "SELECT count(*) FROM exchange_data_usage "
            "WHERE subject_code = :code AND purpose = 'tell-us-once'",
            code=code,
        )
    )


def recipients(database: Database) -> list[str]:
    (found,) = rows(database, "SELECT recipients FROM tellusonce_life_event")
    value = found[0] if not isinstance(found[0], str) else json.loads(found[0])
    return [r["code"] for r in value]


def test_the_consumer_reads_ahead_and_its_write_transaction_only_writes(
    seeded: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the consumer: the write transaction applies what was read (the handler, which
    would read again, is not run), reads no register through the exchange, and writes the
    life event, its five notifications and the reads' records — one tree head."""
    couple = married_couples(seeded)[0]
    record_death(seeded, couple.deceased, "CRVS-AHEAD-1")
    events = deaths(seeded)
    consumer = registry.get("tellusonce.death")
    assert consumer.prepare is handlers.read_deaths
    real_read = intake_module._death_read
    read_only: list[bool] = []

    def read(session: Session, *args: Any, **kwargs: Any) -> Any:
        read_only.append(_read_only(session))
        return real_read(session, *args, **kwargs)

    def handler(session: Session, events: list[Delivered]) -> None:
        raise AssertionError("what was read ahead should have been written")

    monkeypatch.setattr(intake_module, "_death_read", read)
    heads = scalar(seeded, "SELECT count(*) FROM tlog_tree_head")
    before = usage(seeded, couple.deceased), usage(seeded, couple.spouse)
    handled = apply_events(seeded, dataclasses.replace(consumer, handler=handler), events)
    assert handled == {events[0].event_id}
    assert read_only == [True]  # read once, in the transaction that refuses writes
    assert scalar(seeded, "SELECT count(*) FROM tellusonce_life_event") == 1
    assert scalar(seeded, "SELECT count(*) FROM tellusonce_notification") == 5
    assert scalar(seeded, "SELECT count(*) FROM tlog_tree_head") == heads + 1
    assert recipients(seeded) == [couple.spouse]
    assert usage(seeded, couple.deceased) == before[0] + 2  # the person, their relations
    assert usage(seeded, couple.spouse) == before[1] + 2  # named in the relations, read


def _read_only(session: Session) -> bool:
    """Whether ``session``'s connection refuses writes (SQLite's ``query_only``)."""
    return bool(session.connection().exec_driver_sql("PRAGMA query_only").scalar())


def test_reading_ahead_writes_nothing(seeded: Database) -> None:
    couple = married_couples(seeded)[0]
    record_death(seeded, couple.deceased, "CRVS-AHEAD-2")
    before = usage(seeded, couple.deceased)
    read = prepared(seeded, deaths(seeded))
    assert [o is not None for o in read.openings] == [True]
    assert read.ahead.reads
    assert all(recordings for _, recordings in read.ahead.reads)
    assert usage(seeded, couple.deceased) == before
    assert scalar(seeded, "SELECT count(*) FROM tellusonce_life_event") == 0


def test_the_next_of_kin_dying_meanwhile_is_read_again(seeded: Database) -> None:
    """The spouse's death is registered between the phases: what was read while they were
    alive is not written (their register reference was read), the reads stay on record,
    and read again the spouse is no longer the one to write to."""
    couple = married_couples(seeded)[0]
    record_death(seeded, couple.deceased, "CRVS-AHEAD-3")
    first = deaths(seeded)
    read = prepared(seeded, first)
    assert not read.unmapped  # every relative read is known by reference
    record_death(seeded, couple.spouse, "CRVS-AHEAD-4")
    before = usage(seeded, couple.deceased)
    assert written(seeded, read) is False
    assert usage(seeded, couple.deceased) > before  # (the reads happened: on record)
    assert scalar(seeded, "SELECT count(*) FROM tellusonce_life_event") == 0
    consumer = registry.get("tellusonce.death")
    with seeded.unit_of_work() as session:  # what the consumer's handler does then
        consumer.handle(session, first)
    assert couple.spouse not in recipients(seeded)


def test_a_strangers_death_meanwhile_leaves_what_was_read_in_place(seeded: Database) -> None:
    couple, stranger = married_couples(seeded, 2)
    record_death(seeded, couple.deceased, "CRVS-AHEAD-5")
    read = prepared(seeded, deaths(seeded))
    record_death(seeded, stranger.deceased, "CRVS-AHEAD-6")
    assert written(seeded, read) is True
    assert recipients(seeded) == [couple.spouse]


def test_a_death_taken_in_meanwhile_is_not_written_twice(seeded: Database) -> None:
    """Another transaction took the death in between the phases (the same event through
    another path): nothing is written twice."""
    couple = married_couples(seeded)[0]
    record_death(seeded, couple.deceased, "CRVS-AHEAD-7")
    events = deaths(seeded)
    read = prepared(seeded, events)
    with seeded.unit_of_work() as session:
        handlers.take_in_deaths(session, events)
    assert written(seeded, read) is False
    assert scalar(seeded, "SELECT count(*) FROM tellusonce_life_event") == 1
    assert scalar(seeded, "SELECT count(*) FROM tellusonce_notification") == 5


def test_reading_that_fails_after_reading_keeps_the_reads_on_record(
    seeded: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The deceased was read before the first phase failed: that read is on record, written
    in a transaction of their own; the consumer then takes the death in by itself."""
    couple = married_couples(seeded)[0]
    record_death(seeded, couple.deceased, "CRVS-AHEAD-8")
    events = deaths(seeded)
    before = usage(seeded, couple.deceased)

    def failing(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("reading the relations failed")

    monkeypatch.setattr(intake_module, "_next_of_kin", failing)
    with pytest.raises(RuntimeError, match="relations failed"):
        prepared(seeded, events)
    assert usage(seeded, couple.deceased) == before + 1
    monkeypatch.undo()
    assert apply_events(seeded, registry.get("tellusonce.death"), events) == {events[0].event_id}
    assert recipients(seeded) == [couple.spouse]
    assert usage(seeded, couple.deceased) == before + 1 + 2  # the failed phase's, then both


def test_a_population_import_meanwhile_counts(seeded: Database) -> None:
    """A population import names nobody (it may have written anyone's relations): it counts.
    Another register's import does not: nothing Tell Us Once reads is in it."""
    first, second = married_couples(seeded, 2)
    record_death(seeded, first.deceased, "CRVS-AHEAD-10")
    read = prepared(seeded, deaths(seeded))
    with seeded.unit_of_work() as session:
        emit(
            session,
            EmploymentImported(
                employments=1, ended=0, incomes=12, first_period="2026-01", last_period="2026-12"
            ),
        )
    assert written(seeded, read) is True
    record_death(seeded, second.deceased, "CRVS-AHEAD-11")
    read = prepared(seeded, deaths(seeded)[1:])
    with seeded.unit_of_work() as session:
        emit(
            session,
            PopulationImported(
                persons=1,
                deceased=0,
                relations=0,
                residences=1,
                first_person_id=None,
                last_person_id=None,
            ),
        )
    assert written(seeded, read) is False
    assert scalar(seeded, "SELECT count(*) FROM tellusonce_life_event") == 1


def test_a_write_transaction_that_fails_keeps_the_reads_on_record_once(
    seeded: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Writing the life event fails after the reads' records were written in the same
    transaction: that transaction rolls back, and the records are written in one of their
    own (the reads happened), once; delivered again, the death is read and recorded again."""
    couple = married_couples(seeded)[0]
    record_death(seeded, couple.deceased, "CRVS-AHEAD-12")
    events = deaths(seeded)
    before = usage(seeded, couple.deceased), usage(seeded, couple.spouse)

    def failing(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("writing the life event failed")

    monkeypatch.setattr(intake_module, "_open_many", failing)
    consumer = registry.get("tellusonce.death")
    with pytest.raises(RuntimeError, match="life event failed"):
        apply_events(seeded, consumer, events)
    assert usage(seeded, couple.deceased) == before[0] + 2
    assert usage(seeded, couple.spouse) == before[1] + 2
    assert scalar(seeded, "SELECT count(*) FROM tellusonce_life_event") == 0
    monkeypatch.undo()
    assert apply_events(seeded, consumer, events) == {events[0].event_id}
    assert usage(seeded, couple.deceased) == before[0] + 4
    assert recipients(seeded) == [couple.spouse]


def test_read_again_in_the_write_transaction_each_read_is_on_record_once(
    seeded: Database,
) -> None:
    """Through the consumer: the spouse's death is registered between the phases, so the
    write transaction reads again — the first phase's reads and the second's are each on
    record once, and the dead spouse is not written to."""
    couple = married_couples(seeded)[0]
    record_death(seeded, couple.deceased, "CRVS-AHEAD-13")
    events = deaths(seeded)
    before = usage(seeded, couple.deceased)
    consumer = registry.get("tellusonce.death")

    def read_then_spouse_dies(
        session: Session, events: list[Delivered], database: Database
    ) -> DeathsRead:
        read = handlers.read_deaths(session, events, database)
        record_death(seeded, couple.spouse, "CRVS-AHEAD-14")  # (another transaction)
        return read

    meanwhile = dataclasses.replace(consumer, prepare=read_then_spouse_dies)
    assert apply_events(seeded, meanwhile, events) == {events[0].event_id}
    assert usage(seeded, couple.deceased) == before + 2 + 2
    assert couple.spouse not in recipients(seeded)
