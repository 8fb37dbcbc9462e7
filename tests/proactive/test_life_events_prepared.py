"""The life-event consumers (but deaths') decide in a read-only transaction and write in the
delivery's: the same entitlements, letters and data-usage records as reacting in one
transaction; decided again when an entitlement the decisions looked at changed meanwhile."""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from proactive_support import latest_events, low_income_adults, record_birth, record_death
from sqlalchemy.orm import Session

from joinedup import notify, proactive
from joinedup.core.clock import today
from joinedup.core.consumers import apply_events, registry
from joinedup.core.db import Database
from joinedup.core.events import Delivered
from joinedup.core.pagination import PageRequest
from joinedup.exchange.usage import list_usage
from joinedup.platform import handler_modules
from joinedup.proactive.handlers import handle_births, prepare_life_events

BIRTH = "population.birth_registered.v1"


def clone(database: Database, path: Path) -> Database:
    """A copy of a SQLite database as it is now (committed state, log included)."""
    source = sqlite3.connect(database.url.removeprefix("sqlite:///"))
    target = sqlite3.connect(path)
    with target:
        source.backup(target)
    source.close()
    target.close()
    return Database(f"sqlite:///{path}")


def what_they_hold(database: Database, *persons: str) -> dict[str, Any]:
    """Each person's entitlements (as decided), letters and data-usage records."""
    found: dict[str, Any] = {}
    with database.reading() as session:
        for person in persons:
            entitlements = proactive.list_entitlements(session, person_code=person).items
            letters = notify.list_letters(
                session, recipient_code=person, request=PageRequest(limit=100)
            ).items
            usage = list_usage(session, subject_code=person, request=PageRequest(limit=200)).items
            found[person] = {
                "entitlements": sorted(
                    (e.service_code, e.status, e.amount_cents, e.reason, e.revision)
                    for e in entitlements
                ),
                "letters": sorted(le.subject for le in letters),
                "usage": sorted((u.service_xroad_id or "", u.purpose, u.fields) for u in usage),
            }
    return found


def births_consumer(*, handler_allowed: bool) -> Any:
    handler_modules()
    births = registry.get("proactive.births")
    assert births.prepare is prepare_life_events
    if handler_allowed:
        return births

    def handler(session: Session, events: list[Delivered]) -> None:
        raise AssertionError("the prepared decisions should have been applied")

    return dataclasses.replace(births, handler=handler)


def test_prepared_and_applied_equals_reacting_in_one_transaction(
    seeded: Database, tmp_path: Path
) -> None:
    mother, father = low_income_adults(seeded, sex="F", count=1)[0], None
    record_birth(seeded, mother=mother, father=father, born=today())
    (event,) = latest_events(seeded, BIRTH)
    other = clone(seeded, tmp_path / "other.db")
    try:
        with seeded.unit_of_work() as session:  # in one transaction, as before
            handle_births(session, [event])
        # in two: prepared read-only (the handler must not be needed), then written
        assert apply_events(other, births_consumer(handler_allowed=False), [event]) == {
            event.event_id
        }
        one, two = what_they_hold(seeded, mother), what_they_hold(other, mother)
        assert one == two
        assert {e[0] for e in one[mother]["entitlements"]} == {
            "child-benefit",
            "birth-grant",
            "parental-benefit",
        }
        assert len(one[mother]["letters"]) >= 3
        assert one[mother]["usage"]  # the reads are on record in both
    finally:
        other.dispose()


def test_decisions_a_change_meanwhile_touched_are_made_again(seeded: Database) -> None:
    """Another worker handles the same birth between the phases (its entitlements change):
    what was prepared is not applied, the reads it made are kept on record, and the handler
    decides again — recording nothing twice."""
    (mother,) = low_income_adults(seeded, sex="F", count=1, offset=2)
    record_birth(seeded, mother=mother, father=None, born=today())
    events = latest_events(seeded, BIRTH)
    with seeded.reading() as session:
        decided = prepare_life_events(session, events)
    assert decided is not None
    assert decided.outcomes
    with seeded.unit_of_work() as session:
        handle_births(session, events)  # meanwhile
    before = what_they_hold(seeded, mother)[mother]
    with seeded.unit_of_work() as session:
        decided.keep(session)
        assert decided.apply(session) is False
    after = what_they_hold(seeded, mother)[mother]
    assert after["entitlements"] == before["entitlements"]  # revision 1 each, still
    assert after["letters"] == before["letters"]
    assert len(after["usage"]) > len(before["usage"])  # the prepared reads happened


def test_reading_and_deciding_write_nothing(seeded: Database) -> None:
    """On SQLite the read-only transaction refuses any write: the first phase needs none."""
    (mother,) = low_income_adults(seeded, sex="F", count=1, offset=3)
    record_birth(seeded, mother=mother, father=None, born=today())
    with seeded.reading() as session:
        decided = prepare_life_events(session, latest_events(seeded, BIRTH))
    assert decided is not None
    assert decided.reads
    assert all(recordings for _, recordings in decided.reads)
    assert what_they_hold(seeded, mother)[mother]["entitlements"] == []


def test_a_death_is_not_prepared(seeded: Database) -> None:
    """Ending the deceased's entitlements writes before deciding: deaths are handled in one
    transaction."""
    (person,) = low_income_adults(seeded, sex="M", count=1)
    record_death(seeded, person=person, died=today())
    with seeded.reading() as session:
        assert (
            prepare_life_events(session, latest_events(seeded, "population.death_registered.v1"))
            is None
        )


@pytest.mark.parametrize("consumer_name", ["proactive.deaths", "proactive.consents"])
def test_consumers_that_write_as_they_decide_do_not_prepare(consumer_name: str) -> None:
    handler_modules()
    assert registry.get(consumer_name).prepare is None
