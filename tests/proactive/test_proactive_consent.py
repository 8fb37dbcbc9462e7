"""A service whose lawful basis is consent reads nothing before consent exists: the person is
"waiting for consent", not failed; once they consent, the service is evaluated."""

from __future__ import annotations

from proactive_support import FOOD_BANK, entitlements_of, latest_events, letters_of, react_to
from sqlalchemy import text

from joinedup.consent import give_consent
from joinedup.core.clock import today
from joinedup.core.db import Database
from joinedup.core.pagination import PageRequest
from joinedup.demo.exchange_setup import FOOD_PARCELS_AGREEMENT
from joinedup.exchange.usage import list_usage
from joinedup.proactive import EntitlementStatus
from joinedup.proactive.handlers import handle_consents_given
from joinedup.registries import end_employment


def _employed(database: Database) -> tuple[int, str]:
    """An open employment of a living resident adult, and the person's code."""
    with database.reading() as session:
        row = session.execute(
            text(
                "SELECT e.id, p.personal_code FROM employment e JOIN person p "
                "ON p.id = e.person_id WHERE e.valid_to IS NULL AND e.superseded_at IS NULL "
                "AND p.date_of_death IS NULL AND e.valid_from < :today AND EXISTS (SELECT 1 "
                "FROM residence r WHERE r.person_id = p.id AND r.superseded_at IS NULL AND "
                "r.valid_to IS NULL) ORDER BY e.id LIMIT 1"
            ),
            {"today": today()},
        ).one()
    return int(row[0]), str(row[1])


def _food_bank_reads(database: Database, person: str) -> list[object]:
    with database.reading() as session:
        return list(
            list_usage(
                session,
                subject_code=person,
                member_code=FOOD_BANK.member_code,
                request=PageRequest(limit=100),
            ).items
        )


def test_nothing_is_read_before_consent_and_the_offer_follows_consent(seeded: Database) -> None:
    employment, person = _employed(seeded)
    with seeded.unit_of_work() as session:
        end_employment(session, employment_id=employment, ended_on=today(), actor="test")
    (ended,) = latest_events(seeded, "employment.ended.v1")
    react_to(seeded, [ended])

    parcels = entitlements_of(seeded, person)["food-parcels"]
    assert parcels.status is EntitlementStatus.AWAITING_CONSENT
    assert parcels.explanation == {"evaluated": False, "waiting_for": "consent"}
    assert parcels.amount_cents is None
    assert _food_bank_reads(seeded, person) == []  # not one read about the person
    (letter,) = [le for le in letters_of(seeded, person) if "consent" in le.subject]
    assert letter.sender_name == "Food Bank Foundation"

    with seeded.unit_of_work() as session:
        give_consent(
            session,
            agreement_id=FOOD_PARCELS_AGREEMENT,
            subject_code=person,
            actor=f"person:{person}",
        )
    (given,) = latest_events(seeded, "consent.given.v1")
    with seeded.unit_of_work() as session:
        handle_consents_given(session, [given])  # what the consumer does
    parcels = entitlements_of(seeded, person)["food-parcels"]
    assert parcels.status is EntitlementStatus.OFFERED
    assert "registered home in Joinland" in parcels.reason
    reads = _food_bank_reads(seeded, person)
    assert reads
    assert all(r.purpose == "food-parcel-delivery" for r in reads)  # type: ignore[attr-defined]
    assert all("consent" in r.legal_basis for r in reads)  # type: ignore[attr-defined]
    offer_letters = [le for le in letters_of(seeded, person) if "offer" in le.subject]
    assert len(offer_letters) == 1
    with seeded.unit_of_work() as session:
        handle_consents_given(session, [given])  # again: nothing new
    assert entitlements_of(seeded, person)["food-parcels"].revision == parcels.revision
