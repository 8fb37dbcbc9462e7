"""Recording outcomes: a new amount is a change (one revision, one event, one letter from the
new amount's first day), no longer due ends it, the same outcome again records nothing."""

from __future__ import annotations

from datetime import date

from proactive_support import adults, latest_events, letters_of, react_to, record_birth
from sqlalchemy import text

from joinedup import catalogue, notify, proactive
from joinedup.core.clock import today
from joinedup.core.db import Database
from joinedup.core.pagination import PageRequest
from joinedup.proactive import EntitlementStatus, Outcome, record_outcomes, send_decision_letters
from joinedup.proactive.service.entitlements import holders_ahead, holders_of


def _outcome(database: Database, person: str, amount: int | None, start: date) -> Outcome:
    with database.reading() as session:
        service = catalogue.get_catalogued_service(session, code="child-benefit")
    return Outcome(
        person_code=person,
        service=service,
        occasion="",
        status=EntitlementStatus.GRANTED if amount else None,
        amount=amount,
        period_start=start,
        reason="Eligible: a test.",
        explanation={"sentences": ["a test"]},
        ruleset_version="2024.1",
        life_event="age_18",
    )


def _record(database: Database, outcome: Outcome) -> list[proactive.Change]:
    with database.unit_of_work() as session:
        changes = record_outcomes(session, [outcome])
        send_decision_letters(session, changes)
        return changes


def test_amount_changes_and_end(seeded: Database) -> None:
    (person,) = adults(seeded, sex="M", count=1, offset=3)
    assert len(_record(seeded, _outcome(seeded, person, 24_000, date(2026, 1, 1)))) == 1
    assert _record(seeded, _outcome(seeded, person, 24_000, date(2026, 2, 1))) == []  # same
    (changed,) = _record(seeded, _outcome(seeded, person, 12_000, date(2026, 3, 1)))
    assert changed.previous_amount == 24_000
    (ended,) = _record(seeded, _outcome(seeded, person, None, date(2026, 6, 1)))
    assert ended.status is EntitlementStatus.ENDED

    with seeded.reading() as session:
        (benefit,) = proactive.list_entitlements(session, person_code=person).items
        detail = proactive.get_entitlement(session, entitlement_id=benefit.id, person_code=person)
        names = list(
            session.scalars(
                text(
                    "SELECT name FROM outbox_event WHERE name LIKE 'entitlement.%' "
                    "AND payload LIKE :id ORDER BY id"
                ),
                {"id": f"%{benefit.id}%"},
            )
        )
    assert names == [
        "entitlement.granted.v1",
        "entitlement.changed.v1",
        "entitlement.ended.v1",
    ]
    assert [(r.status, r.amount_cents) for r in detail.history] == [
        (EntitlementStatus.GRANTED, 24_000),
        (EntitlementStatus.GRANTED, 12_000),
        (EntitlementStatus.ENDED, 12_000),
    ]
    assert detail.period_start == date(2026, 1, 1)
    assert detail.period_end == date(2026, 6, 1)
    letters = letters_of(seeded, person)
    assert len(letters) == 3
    with seeded.reading() as session:
        change_letter = next(le for le in letters if "new amount" in le.subject)
        body = notify.get_letter(
            session, message_id=change_letter.message_id, recipient_code=person
        ).paragraphs[0]
        assert "March 1, 2026" in body  # from the new amount's first day
        assert "€240.00" in body
        assert "€120.00" in body
        items = notify.list_letters(session, recipient_code=person, request=PageRequest()).items
        assert len(items) == 3


def test_a_letter_is_written_in_the_recipient_s_language(seeded: Database) -> None:
    (person,) = adults(seeded, sex="M", count=1, offset=4)
    with seeded.unit_of_work() as session:
        notify.set_delivery_preference(session, person_code=person, locale="et", actor="test")
    _record(seeded, _outcome(seeded, person, 12_000, date(2026, 1, 1)))
    with seeded.reading() as session:
        (letter,) = letters_of(seeded, person)
        detail = notify.get_letter(session, message_id=letter.message_id, recipient_code=person)
    assert detail.locale == "et"
    assert detail.subject == "Lapsetoetus määratud"
    assert detail.paragraphs[1].startswith("Põhjus: ")
    assert any("vaidlustada" in p for p in detail.paragraphs)


def test_twins_handled_in_one_batch_get_one_birth_grant_for_both(seeded: Database) -> None:
    (mother,) = adults(seeded, sex="F", count=1, offset=14)
    for _ in range(2):
        record_birth(seeded, mother=mother, father=None, born=today())
    react_to(seeded, latest_events(seeded, "population.birth_registered.v1", 2))
    found = {e.service_code: e for e in entitlements_of_all(seeded, mother)}
    assert found["birth-grant"].amount_cents == 200_000  # €1,000 for each of the two
    assert found["child-benefit"].amount_cents == 24_000
    assert found["birth-grant"].revision == 1
    assert len(entitlements_of_all(seeded, mother)) == 3


def test_a_batch_stores_each_revision_as_the_entitlement_was_then(seeded: Database) -> None:
    """One batch creates an entitlement and changes it again, and changes one stored before:
    each revision holds the entitlement as that change left it (a new amount from its own
    first day), and the changes carry the session's objects, the explanation as given."""
    new, stored = adults(seeded, sex="F", count=2, offset=8)
    start, later = date(2026, 1, 1), date(2026, 3, 1)
    _record(seeded, _outcome(seeded, stored, 12_000, start))
    with seeded.unit_of_work() as session:
        outcomes = [
            _outcome(seeded, new, 12_000, start),
            _outcome(seeded, new, 24_000, later),
            _outcome(seeded, stored, 36_000, later),
        ]
        changes = record_outcomes(session, outcomes)
        assert [(c.entitlement.person_code, c.revision.revision) for c in changes] == [
            (new, 1),
            (new, 2),
            (stored, 2),
        ]
        assert changes[0].entitlement is changes[1].entitlement
        assert [c.revision.entitlement_id for c in changes] == [c.entitlement.id for c in changes]
        assert [c.previous_amount for c in changes] == [None, 12_000, 12_000]
        assert changes[1].revision.period_start == later
        assert changes[0].entitlement.explanation is outcomes[1].explanation
        assert changes[0].revision.explanation is outcomes[0].explanation
        assert all(c.revision in session and c.entitlement in session for c in changes)
    granted = EntitlementStatus.GRANTED
    with seeded.reading() as session:
        for person, history in (
            (new, [(1, granted, 12_000, start), (2, granted, 24_000, later)]),
            (stored, [(1, granted, 12_000, start), (2, granted, 36_000, later)]),
        ):
            (benefit,) = proactive.list_entitlements(session, person_code=person).items
            assert (benefit.amount_cents, benefit.period_start, benefit.revision) == (
                history[-1][2],
                start,
                2,
            )
            detail = proactive.get_entitlement(
                session, entitlement_id=benefit.id, person_code=person
            )
            assert [
                (h.revision, h.status, h.amount_cents, h.period_start) for h in detail.history
            ] == history


def entitlements_of_all(database: Database, person: str) -> list[proactive.EntitlementView]:
    with database.reading() as session:
        return proactive.list_entitlements(session, person_code=person).items


def test_recording_outcomes_searches_the_stored_entitlements_by_index(seeded: Database) -> None:
    from query_plans import full_scans

    persons = adults(seeded, sex="F", count=3, offset=5)
    outcomes = [_outcome(seeded, person, 24_000, date(2026, 1, 1)) for person in persons]
    with seeded.unit_of_work() as session:
        assert len(record_outcomes(session, outcomes)) == 3
    amounts = [12_000, 24_000, 24_000]
    again = [
        _outcome(seeded, person, amount, date(2026, 2, 1))
        for person, amount in zip(persons, amounts, strict=True)
    ]
    with full_scans(seeded, "proactive_entitlement") as scans, seeded.unit_of_work() as session:
        (changed,) = record_outcomes(session, again)  # found stored: only one amount changed
    assert changed.entitlement.person_code == persons[0]
    assert changed.previous_amount == 24_000
    # a batch's look-up of (person, service, occasion) used to scan every entitlement
    assert scans == []


def test_an_entitlement_changed_twice_in_one_batch_gets_one_letter_of_the_outcome(
    seeded: Database,
) -> None:
    """Two births in one household handled in one batch change its child benefit twice: one
    letter tells the outcome (it used to be two letters with one reference, a Conflict that
    failed the whole batch)."""
    (person,) = adults(seeded, sex="M", count=1, offset=5)
    start = date(2026, 1, 1)
    with seeded.unit_of_work() as session:
        changes = record_outcomes(
            session,
            [_outcome(seeded, person, 12_000, start), _outcome(seeded, person, 24_000, start)],
        )
        assert [c.revision.revision for c in changes] == [1, 2]
        assert send_decision_letters(session, changes) == 1
        assert {c.revision.letter_reference for c in changes} == {
            f"entitlement:{changes[0].entitlement.uid}:r2"
        }
    (letter,) = letters_of(seeded, person)
    with seeded.reading() as session:
        body = " ".join(
            notify.get_letter(
                session, message_id=letter.message_id, recipient_code=person
            ).paragraphs
        )
    assert "240.00" in body  # granted 240 a month …
    assert "120.00" not in body  # … not a change "from 120"


def test_who_holds_a_service_read_ahead_is_forgotten_once_one_is_recorded(
    seeded: Database,
) -> None:
    """``holders_ahead`` reads who holds a service for ``holders_of`` to answer from; an
    entitlement recorded in the same transaction makes it read again, and persons not read
    ahead are read."""
    first, second, third = adults(seeded, sex="F", count=3, offset=7)
    outcome = _outcome(seeded, first, 24_000, date(2026, 1, 1))
    service = outcome.service
    with seeded.unit_of_work() as session:
        holders_ahead(session, service, [first, second], occasion="")
        assert holders_of(session, service, [first, second], occasion="") == []
        record_outcomes(session, [outcome])  # first now holds it
        assert holders_of(session, service, [second, first], occasion="") == [first]
        holders_ahead(session, service, [first, second], occasion="")
        assert holders_of(session, service, [first, second, third], occasion="") == [first]
