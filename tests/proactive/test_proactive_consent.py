"""A service whose lawful basis is consent reads nothing before consent exists: the person is
"waiting for consent", not failed; once they consent, the service is evaluated. Withdrawing
the consent ends what it was given for; consenting again brings the service back."""

from __future__ import annotations

from proactive_support import FOOD_BANK, entitlements_of, latest_events, letters_of, react_to
from sqlalchemy import text

from joinedup.consent import give_consent, withdraw_consent
from joinedup.core.clock import today
from joinedup.core.db import Database
from joinedup.core.pagination import PageRequest
from joinedup.demo.purposes import FOOD_PARCELS_AGREEMENT
from joinedup.exchange.usage_queries import list_usage
from joinedup.proactive import EntitlementStatus, accept_offer, decline_offer
from joinedup.proactive.handlers import handle_consents_given, handle_consents_withdrawn
from joinedup.proactive.service import texts
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


def _out_of_work(database: Database) -> str:
    """A resident adult whose employment ends today, after the proactive services reacted."""
    employment, person = _employed(database)
    with database.unit_of_work() as session:
        end_employment(session, employment_id=employment, ended_on=today(), actor="test")
    (ended,) = latest_events(database, "employment.ended.v1")
    react_to(database, [ended])
    return person


def _consent(database: Database, person: str, *, given: bool) -> None:
    """Give or withdraw the person's consent to the food bank, and let the consumer react."""
    change = give_consent if given else withdraw_consent
    with database.unit_of_work() as session:
        change(
            session,
            agreement_id=FOOD_PARCELS_AGREEMENT,
            subject_code=person,
            actor=f"person:{person}",
        )
    name, handle = (
        ("consent.given.v1", handle_consents_given)
        if given
        else ("consent.withdrawn.v1", handle_consents_withdrawn)
    )
    (event,) = latest_events(database, name)
    with database.unit_of_work() as session:
        handle(session, [event])  # what the consumer does


def test_nothing_is_read_before_consent_and_the_offer_follows_consent(seeded: Database) -> None:
    person = _out_of_work(seeded)

    parcels = entitlements_of(seeded, person)["food-parcels"]
    assert parcels.status is EntitlementStatus.AWAITING_CONSENT
    assert parcels.explanation == {"evaluated": False, "waiting_for": "consent"}
    assert parcels.amount_cents is None
    assert _food_bank_reads(seeded, person) == []  # not one read about the person
    (letter,) = [le for le in letters_of(seeded, person) if "consent" in le.subject]
    assert letter.sender_name == "Food Bank Foundation"

    _consent(seeded, person, given=True)
    parcels = entitlements_of(seeded, person)["food-parcels"]
    assert parcels.status is EntitlementStatus.OFFERED
    assert "registered home in Joinland" in parcels.reason
    reads = _food_bank_reads(seeded, person)
    assert reads
    assert all(r.purpose == "food-parcel-delivery" for r in reads)  # type: ignore[attr-defined]
    assert all("consent" in r.legal_basis for r in reads)  # type: ignore[attr-defined]
    offer_letters = [le for le in letters_of(seeded, person) if "offer" in le.subject]
    assert len(offer_letters) == 1
    (given,) = latest_events(seeded, "consent.given.v1")
    with seeded.unit_of_work() as session:
        handle_consents_given(session, [given])  # again: nothing new
    assert entitlements_of(seeded, person)["food-parcels"].revision == parcels.revision


def test_withdrawing_consent_ends_the_service_and_consenting_again_brings_it_back(
    seeded: Database,
) -> None:
    person = _out_of_work(seeded)
    _consent(seeded, person, given=True)
    offered = entitlements_of(seeded, person)["food-parcels"]
    assert offered.status is EntitlementStatus.OFFERED
    with seeded.unit_of_work() as session:
        accept_offer(session, entitlement_id=offered.id, actor_code=person)
    assert entitlements_of(seeded, person)["food-parcels"].status is EntitlementStatus.GRANTED
    letters_before = len(letters_of(seeded, person))

    _consent(seeded, person, given=False)
    parcels = entitlements_of(seeded, person)["food-parcels"]
    assert parcels.status is EntitlementStatus.ENDED
    assert parcels.reason == texts.ENDED_CONSENT_WITHDRAWN
    assert parcels.period_end == today()
    (ended_event,) = latest_events(seeded, "entitlement.ended.v1")
    assert ended_event.payload["cause"] == "consent-withdrawn"
    letters = letters_of(seeded, person)
    assert len(letters) == letters_before + 1
    assert any("has ended" in le.subject for le in letters)
    # the same withdrawal handled again (a redelivery) changes nothing and writes no letter
    (withdrawn,) = latest_events(seeded, "consent.withdrawn.v1")
    with seeded.unit_of_work() as session:
        handle_consents_withdrawn(session, [withdrawn])
    assert entitlements_of(seeded, person)["food-parcels"].revision == parcels.revision
    assert len(letters_of(seeded, person)) == letters_before + 1

    _consent(seeded, person, given=True)
    again = entitlements_of(seeded, person)["food-parcels"]
    assert again.status is EntitlementStatus.OFFERED  # offered again: one step to accept
    assert again.period_start == today().replace(day=1)
    assert again.period_end is None


def test_a_withdrawal_leaves_what_the_person_declined_and_other_services_alone(
    seeded: Database,
) -> None:
    person = _out_of_work(seeded)
    before = {
        code: (e.status, e.revision)
        for code, e in entitlements_of(seeded, person).items()
        if code != "food-parcels"
    }
    _consent(seeded, person, given=True)
    offered = entitlements_of(seeded, person)["food-parcels"]
    with seeded.unit_of_work() as session:
        decline_offer(session, entitlement_id=offered.id, actor_code=person)
    declined = entitlements_of(seeded, person)["food-parcels"]
    _consent(seeded, person, given=False)
    after = entitlements_of(seeded, person)
    assert after["food-parcels"].status is EntitlementStatus.DECLINED  # the person's choice
    assert after["food-parcels"].revision == declined.revision
    assert {
        code: (e.status, e.revision) for code, e in after.items() if code != "food-parcels"
    } == before  # the services on another lawful basis are not touched
