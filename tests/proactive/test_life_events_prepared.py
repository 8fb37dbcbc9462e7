"""The life-event consumers (but deaths') decide, on SQLite, in a transaction that refuses
writes and write in the delivery's: the same entitlements, letters and data-usage records as
reacting in one transaction; decided again when what the decisions rest on changed meanwhile
(the persons' entitlements, a register event about one of them, the law)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from proactive_support import (
    SIB,
    adults,
    clone,
    entitlements_of,
    latest_events,
    low_income_adults,
    move_in_with,
    react_to,
    record_birth,
    record_death,
    what_they_hold,
)
from reevaluation_support import AMOUNT, CITATION, owner
from sqlalchemy import text
from sqlalchemy.orm import Session

from joinedup import catalogue, consent
from joinedup.core.clock import today, utcnow
from joinedup.core.consumers import registry
from joinedup.core.db import Database
from joinedup.core.events import Delivered, emit
from joinedup.core.handling import apply_events
from joinedup.demo.purposes import FOOD_PARCELS_AGREEMENT
from joinedup.exchange.directory import bump_generation
from joinedup.platform import handler_modules
from joinedup.proactive.handlers import handle_births, prepare_life_events
from joinedup.proactive.reevaluation import publish_law_version
from joinedup.proactive.service import Decided
from joinedup.proactive.service import life_events as life_events_module
from joinedup.proactive.service import prepared as prepared_module
from joinedup.registries.events import EmploymentImported

BIRTH = "population.birth_registered.v1"
DEATH = "population.death_registered.v1"
ACTIVE = {"granted", "offered", "eligible"}


def prepared(database: Database, events: list[Delivered]) -> Decided:
    """The first phase, as the consumer runs it."""
    with database.reading_only() as session:
        decided = prepare_life_events(session, events, database)
    assert decided is not None
    return decided


def written(database: Database, decided: Decided) -> bool:
    """The second phase's own part: the reads kept, the decisions applied if they hold."""
    with database.unit_of_work() as session:
        decided.keep(session)
        return decided.apply(session)


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


def test_the_reads_records_are_written_as_one_transparency_log_batch(seeded: Database) -> None:
    """A birth's decisions read as two subsystems (the life-events service resolving the
    persons, the benefits' owner reading them): their records are written in the write
    transaction as one transparency-log batch — one signed tree head, every read's message
    and data-usage entries in it — not one batch a subsystem."""
    (mother,) = low_income_adults(seeded, sex="F", count=1)
    record_birth(seeded, mother=mother, father=None, born=today())
    decided = prepared(seeded, latest_events(seeded, BIRTH))
    clients = {client for client, recordings in decided.reads if recordings}
    assert len(clients) >= 2
    reads = sum(len(recordings) for _, recordings in decided.reads)

    def counts() -> tuple[int, int, int]:
        with seeded.reading() as session:
            return tuple(  # type: ignore[return-value]
                session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
                for table in ("tlog_tree_head", "tlog_entry", "exchange_message")
            )

    heads, entries, messages = counts()
    with seeded.unit_of_work() as session:
        decided.keep(session)
    after = counts()
    assert after[0] == heads + 1
    assert after[2] == messages + reads  # every read on record
    assert after[1] > entries + reads  # its message and its data-usage entries, one batch


def test_decisions_a_change_meanwhile_touched_are_made_again(seeded: Database) -> None:
    """Another worker handles the same birth between the phases (its entitlements change):
    what was prepared is not applied, the reads it made are kept on record, and the handler
    decides again — recording nothing twice."""
    (mother,) = low_income_adults(seeded, sex="F", count=1, offset=2)
    record_birth(seeded, mother=mother, father=None, born=today())
    events = latest_events(seeded, BIRTH)
    decided = prepared(seeded, events)
    assert decided.outcomes
    with seeded.unit_of_work() as session:
        handle_births(session, events)  # meanwhile
    before = what_they_hold(seeded, mother)[mother]
    assert written(seeded, decided) is False
    after = what_they_hold(seeded, mother)[mother]
    assert after["entitlements"] == before["entitlements"]  # revision 1 each, still
    assert after["letters"] == before["letters"]
    assert len(after["usage"]) > len(before["usage"])  # the prepared reads happened


def test_reading_and_deciding_write_nothing(seeded: Database) -> None:
    """The first phase's transaction refuses any write (``PRAGMA query_only``): it needs
    none."""
    (mother,) = low_income_adults(seeded, sex="F", count=1, offset=3)
    record_birth(seeded, mother=mother, father=None, born=today())
    decided = prepared(seeded, latest_events(seeded, BIRTH))
    assert decided.reads
    assert all(recordings for _, recordings in decided.reads)
    assert what_they_hold(seeded, mother)[mother]["entitlements"] == []


def a_mothers_first_birth(seeded: Database) -> tuple[str, list[Delivered], list[Any]]:
    """A low-income mother's child registered: her code, the birth's events, and her data
    usage before anything reacted to it."""
    (mother,) = low_income_adults(seeded, sex="F", count=1, offset=4)
    record_birth(seeded, mother=mother, father=None, born=today())
    return mother, latest_events(seeded, BIRTH), what_they_hold(seeded, mother)[mother]["usage"]


def test_deciding_that_fails_after_reading_keeps_the_reads_on_record(
    seeded: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The persons were read (through the exchange) before deciding failed: those reads are
    on record, written in a transaction of their own, and the failure is the first phase's."""
    mother, events, before = a_mothers_first_birth(seeded)

    def failing(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("deciding failed")

    monkeypatch.setattr(prepared_module, "_decide", failing)
    with pytest.raises(RuntimeError, match="deciding failed"):
        prepared(seeded, events)
    after = what_they_hold(seeded, mother)[mother]["usage"]
    assert len(after) == len(before) + 1
    assert [u[0].rsplit("/", 1)[-1] for u in after if u[1] == "life-event-routing"] == [
        "person-codes"
    ]
    # and the consumer, its first phase failed, handles the batch in its write transaction
    monkeypatch.undo()
    births = births_consumer(handler_allowed=True)
    assert apply_events(seeded, dataclasses.replace(births, prepare=failing), events) == {
        events[0].event_id
    }
    assert what_they_hold(seeded, mother)[mother]["entitlements"]


def test_deciding_that_fails_in_the_middle_of_an_owners_reads_keeps_them(
    seeded: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deciding fails after the Social Insurance Board has read the household (inside its
    client's block): that read is on record too, not only the routing read before it."""
    mother, events, before = a_mothers_first_birth(seeded)
    evaluate_service = life_events_module._evaluate_service

    def failing(*args: Any, **kwargs: Any) -> Any:
        evaluate_service(*args, **kwargs)  # reads what it reads
        raise RuntimeError("deciding failed")

    monkeypatch.setattr(life_events_module, "_evaluate_service", failing)
    with pytest.raises(RuntimeError, match="deciding failed"):
        prepared(seeded, events)
    after = what_they_hold(seeded, mother)[mother]["usage"]
    read = sorted(u[0].rsplit("/", 1)[-1] for u in after if u not in before)
    assert read == ["person-codes", "population-extract"]


def test_a_death_is_not_prepared(seeded: Database) -> None:
    """Ending the deceased's entitlements writes before deciding: deaths are handled in one
    transaction."""
    (person,) = low_income_adults(seeded, sex="M", count=1)
    record_death(seeded, person=person, died=today())
    with seeded.reading_only() as session:
        assert prepare_life_events(session, latest_events(seeded, DEATH), seeded) is None


def test_a_parent_who_died_meanwhile_is_not_paid(seeded: Database) -> None:
    """The mother's death is registered and handled between the phases (she held nothing
    yet, so its consumer ended nothing): what was prepared while she was alive is not applied,
    and the decisions made again know she died."""
    (mother,) = low_income_adults(seeded, sex="F", count=1, offset=1)
    (father,) = adults(seeded, sex="M", count=1)
    record_birth(seeded, mother=mother, father=father, born=today())
    births = latest_events(seeded, BIRTH)
    decided = prepared(seeded, births)
    record_death(seeded, person=mother, died=today())
    react_to(seeded, latest_events(seeded, DEATH))
    assert written(seeded, decided) is False
    react_to(seeded, births)  # what the consumer's handler does then
    held = {code: e.status for code, e in entitlements_of(seeded, mother).items()}
    assert not {code for code, status in held.items() if status in ACTIVE}


def test_an_unrelated_death_meanwhile_leaves_the_decisions_in_place(seeded: Database) -> None:
    """A register event about someone the decisions did not look at changes nothing."""
    (mother,) = low_income_adults(seeded, sex="F", count=1)
    (stranger,) = low_income_adults(seeded, sex="M", count=1, offset=3)
    record_birth(seeded, mother=mother, father=None, born=today())
    decided = prepared(seeded, latest_events(seeded, BIRTH))
    assert not decided.basis.unmapped  # every person it looked at is known by reference
    record_death(seeded, person=stranger, died=today())
    assert written(seeded, decided) is True
    held = {code: e.status for code, e in entitlements_of(seeded, mother).items()}
    assert held["child-benefit"] == "granted"


def test_a_child_living_elsewhere_is_known_by_reference(seeded: Database) -> None:
    """The mother's first child lives elsewhere: the decisions read it as her relative (the
    relations' answers carry each relative's register reference), so a register event about
    a stranger between the phases leaves them in place, and one about that child does not.
    Before, a relative read was a person of unknown reference and any register event
    meanwhile (every birth registered while a batch was decided) sent the batch to be decided
    again in the write transaction."""
    (mother,) = low_income_adults(seeded, sex="F", count=1)
    (host, stranger, other) = low_income_adults(seeded, sex="M", count=3, offset=3)
    first = record_birth(seeded, mother=mother, father=None, born=today() - timedelta(days=40))
    react_to(seeded, latest_events(seeded, BIRTH))
    first = first["personalCode"]
    move_in_with(seeded, first, host=host, days_ago=7)
    record_birth(seeded, mother=mother, father=None, born=today())
    births = latest_events(seeded, BIRTH)
    decided = prepared(seeded, births)
    assert first in decided.basis.persons
    assert not decided.basis.unmapped
    record_death(seeded, person=stranger, died=today())
    assert written(seeded, decided) is True

    record_birth(seeded, mother=mother, father=None, born=today())  # (a twin)
    decided = prepared(seeded, latest_events(seeded, BIRTH))
    assert not decided.basis.unmapped
    move_in_with(seeded, first, host=other, days_ago=0)  # the first child moves again
    assert written(seeded, decided) is False


def test_someone_moving_into_the_household_meanwhile_counts(seeded: Database) -> None:
    """A partner moves in with the mother between the phases (the moves consumer may decide
    for the household before the birth is written): the household read is out of date."""
    (mother,) = low_income_adults(seeded, sex="F", count=1)
    (partner,) = low_income_adults(seeded, sex="M", count=1, offset=3)
    record_birth(seeded, mother=mother, father=None, born=today())
    decided = prepared(seeded, latest_events(seeded, BIRTH))
    move_in_with(seeded, partner, host=mother, days_ago=0)
    assert written(seeded, decided) is False


def test_a_bulk_import_meanwhile_counts(seeded: Database) -> None:
    """An import names nobody (it may have written anyone's incomes): it counts."""
    (mother,) = low_income_adults(seeded, sex="F", count=1)
    record_birth(seeded, mother=mother, father=None, born=today())
    decided = prepared(seeded, latest_events(seeded, BIRTH))
    with seeded.unit_of_work() as session:
        emit(
            session,
            EmploymentImported(
                employments=1, ended=0, incomes=12, first_period="2026-01", last_period="2026-12"
            ),
        )
    assert written(seeded, decided) is False


def test_a_law_published_meanwhile_is_applied(seeded: Database) -> None:
    """A new child benefit amount published between the phases: the decisions made under the
    old law are not applied."""
    (mother,) = low_income_adults(seeded, sex="F", count=1, offset=0)
    record_birth(seeded, mother=mother, father=None, born=today())
    decided = prepared(seeded, latest_events(seeded, BIRTH))
    with seeded.unit_of_work() as session:
        publish_law_version(
            session,
            ruleset="demo",
            changes=[f"{AMOUNT}=123.45"],
            effective_from=today().replace(day=1),
            citation=CITATION,
            owner=owner(),
            actor="test",
        )
    assert written(seeded, decided) is False


def _recatalogue(database: Database, code: str, **changes: Any) -> None:
    """Revise a service's catalogue entry (as its agency would), changing ``changes``."""
    with database.unit_of_work() as session:
        entry = catalogue.get_catalogued_service(session, code=code)
        terms: dict[str, Any] = {
            "code": entry.code,
            "names": entry.names,
            "descriptions": entry.descriptions,
            "owner": entry.owner.client,
            "level": entry.level,
            "delivery_mode": entry.delivery_mode,
            "life_events": [(r.life_event, r.concerns) for r in entry.life_events],
            "ruleset": entry.ruleset,
            "variable": entry.variable,
            "purpose": entry.purpose,
            "legal_basis": entry.legal_basis,
            "legal_basis_url": entry.legal_basis_url,
            "lawful_basis": entry.lawful_basis,
            "data_agreement_id": entry.data_agreement_id,
            "apply_url": entry.apply_url,
            "per_occasion": entry.per_occasion,
            "applicant_inputs": entry.applicant_inputs,
            "respond_within_days": entry.respond_within_days,
        }
        catalogue.catalogue_service(session, **{**terms, **changes}, actor="test")


def test_a_service_revised_in_the_catalogue_meanwhile_is_decided_on_its_new_terms(
    seeded: Database,
) -> None:
    """The child benefit becomes an offer between the phases: the grant prepared on the old
    entry is not applied, and the decisions made again offer it."""
    (mother,) = low_income_adults(seeded, sex="F", count=1)
    record_birth(seeded, mother=mother, father=None, born=today())
    births = latest_events(seeded, BIRTH)
    decided = prepared(seeded, births)
    granted = {o.service.code: o.status for o in decided.outcomes if o.person_code == mother}
    assert granted["child-benefit"] == "granted"
    _recatalogue(seeded, "child-benefit", delivery_mode=catalogue.DeliveryMode.PROACTIVE_OFFER)
    assert written(seeded, decided) is False
    assert "child-benefit" not in entitlements_of(seeded, mother)  # nothing of it written
    react_to(seeded, births)  # what the consumer's handler does then
    assert entitlements_of(seeded, mother)["child-benefit"].status == "offered"


def test_a_data_agreement_revised_meanwhile_counts(seeded: Database) -> None:
    """A data agreement revised between the phases (the consents given to it may no longer
    hold): the decisions are made again, whoever the agreement concerns."""
    (mother,) = low_income_adults(seeded, sex="F", count=1)
    record_birth(seeded, mother=mother, father=None, born=today())
    decided = prepared(seeded, latest_events(seeded, BIRTH))
    with seeded.unit_of_work() as session:
        current = consent.get_data_agreement(session, agreement_id=FOOD_PARCELS_AGREEMENT)
        consent.revise_data_agreement(
            session,
            agreement_id=FOOD_PARCELS_AGREEMENT,
            title=current.title,
            purpose=current.purpose + " (revised)",
            lawful_basis=current.lawful_basis,
            data_items=current.data_items,
            retention_days=current.retention_days,
            policy_url=current.policy_url,
            actor="test",
        )
    assert written(seeded, decided) is False


def test_a_data_agreement_retired_meanwhile_counts(seeded: Database) -> None:
    """No consent to a retired agreement is in force from then on: it counts too."""
    (mother,) = low_income_adults(seeded, sex="F", count=1)
    record_birth(seeded, mother=mother, father=None, born=today())
    decided = prepared(seeded, latest_events(seeded, BIRTH))
    with seeded.unit_of_work() as session:
        consent.retire_data_agreement(session, agreement_id=FOOD_PARCELS_AGREEMENT, actor="test")
    assert written(seeded, decided) is False


def test_a_strangers_consent_given_meanwhile_leaves_the_decisions_in_place(
    seeded: Database,
) -> None:
    """Consents are followed person by person (their revisions): someone the decisions did
    not look at consenting meanwhile changes nothing."""
    (mother,) = low_income_adults(seeded, sex="F", count=1)
    (stranger,) = low_income_adults(seeded, sex="M", count=1, offset=3)
    record_birth(seeded, mother=mother, father=None, born=today())
    decided = prepared(seeded, latest_events(seeded, BIRTH))
    assert stranger not in decided.basis.persons
    with seeded.unit_of_work() as session:
        given = consent.give_consent(
            session, agreement_id=FOOD_PARCELS_AGREEMENT, subject_code=stranger, actor=stranger
        )
    assert given.changed
    assert written(seeded, decided) is True


def test_a_service_of_another_agency_catalogued_meanwhile_counts_too(seeded: Database) -> None:
    """Any catalogue change counts, even of a service the batch did not evaluate (a service
    newly concerned by births would otherwise be missed)."""
    (mother,) = low_income_adults(seeded, sex="F", count=1)
    record_birth(seeded, mother=mother, father=None, born=today())
    decided = prepared(seeded, latest_events(seeded, BIRTH))
    evaluated = {o.service.code for o in decided.outcomes}
    with seeded.reading() as session:
        services = catalogue.active_services(session)
    other = next(s.code for s in services if s.code not in evaluated)
    _recatalogue(seeded, other)  # revised with the same terms: an event all the same
    assert written(seeded, decided) is False


def test_a_members_first_key_is_stored_before_it_signs(seeded: Database) -> None:
    """The social insurance board has no signing key yet: the first phase (which cannot
    write) has it created in a transaction of its own, so every record it signs can be
    verified against a stored key."""
    (mother,) = low_income_adults(seeded, sex="F", count=1, offset=0)
    record_birth(seeded, mother=mother, father=None, born=today())
    with seeded.unit_of_work() as session:
        member = session.execute(
            text("SELECT id FROM exchange_member WHERE member_code = :c"), {"c": SIB.member_code}
        ).scalar_one()
        session.execute(
            text("UPDATE exchange_member_key SET retired_at = :t WHERE member_id = :m"),
            {"t": utcnow().replace(tzinfo=None), "m": member},
        )
        bump_generation(session)
    assert written(seeded, prepared(seeded, latest_events(seeded, BIRTH))) is True
    with seeded.reading() as session:
        stored = set(session.scalars(text("SELECT key_id FROM exchange_member_key")))
        used = set(
            session.scalars(
                text("SELECT client_key_id FROM exchange_message WHERE client_member_id = :m"),
                {"m": member},
            )
        )
    assert used
    assert used <= stored


@pytest.mark.parametrize("consumer_name", ["proactive.deaths", "proactive.consents"])
def test_consumers_that_write_as_they_decide_do_not_prepare(consumer_name: str) -> None:
    handler_modules()
    assert registry.get(consumer_name).prepare is None


def test_a_write_transaction_that_fails_keeps_the_reads_on_record(
    seeded: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Recording the decisions fails in the write transaction, after the reads' records were
    written in it: it rolls back, and the records are written in a transaction of their own
    — once (the reads happened); nothing decided is kept."""
    mother, events, before = a_mothers_first_birth(seeded)

    def failing(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("recording failed")

    monkeypatch.setattr(prepared_module, "_finish", failing)
    with pytest.raises(RuntimeError, match="recording failed"):
        apply_events(seeded, births_consumer(handler_allowed=False), events)
    held = what_they_hold(seeded, mother)[mother]
    read = sorted(u[0].rsplit("/", 1)[-1] for u in held["usage"] if u not in before)
    assert read == ["income-totals", "person-codes", "population-extract", "relations"]
    assert held["entitlements"] == []
