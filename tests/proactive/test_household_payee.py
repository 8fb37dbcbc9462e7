"""A household benefit (child benefit, the birth grant) is one entitlement of one parent: the
parent who gave birth, or whoever holds it already; when that parent dies it moves to the
surviving parent; a second holder from before is ended and told why
(:mod:`joinedup.proactive.payees`)."""

from __future__ import annotations

from datetime import timedelta

from proactive_support import (
    adults,
    born_to,
    entitlements_of,
    latest_events,
    letters_of,
    react_to,
    record_death,
)
from sqlalchemy import select

from joinedup import catalogue, notify, proactive
from joinedup.core.clock import today
from joinedup.core.db import Database
from joinedup.proactive.models import Entitlement
from joinedup.proactive.schemas import EntitlementStatus
from joinedup.proactive.service import texts
from joinedup.proactive.service.entitlements import Outcome, record_outcomes

BIRTH = "population.birth_registered.v1"


def _parents(database: Database, offset: int) -> tuple[str, str]:
    (mother,) = adults(database, sex="F", count=1, offset=offset, low_income=True)
    (father,) = adults(database, sex="M", count=1, offset=offset, low_income=True)
    return mother, father


def _first_of_next_month() -> object:
    return (today().replace(day=28) + timedelta(days=4)).replace(day=1)


def test_when_the_payee_dies_the_benefit_moves_to_the_surviving_parent(seeded: Database) -> None:
    mother, father = _parents(seeded, 0)
    born_to(seeded, mother, father)
    assert entitlements_of(seeded, mother)["child-benefit"].status is EntitlementStatus.GRANTED
    assert "child-benefit" not in entitlements_of(seeded, father)

    record_death(seeded, person=mother, died=today())
    react_to(seeded, latest_events(seeded, "population.death_registered.v1"))

    assert entitlements_of(seeded, mother)["child-benefit"].status is EntitlementStatus.ENDED
    moved = entitlements_of(seeded, father)["child-benefit"]
    assert moved.status is EntitlementStatus.GRANTED
    assert moved.amount_cents == 12_000
    assert moved.period_start == _first_of_next_month()  # hers ended on the day of death
    letters = [le for le in letters_of(seeded, father) if le.kind is notify.LetterKind.DECISION]
    assert len(letters) == 1  # the grant; the parental-benefit note is information

    # the death handled again changes nothing more
    told = len(letters_of(seeded, father))
    react_to(seeded, latest_events(seeded, "population.death_registered.v1"))
    assert entitlements_of(seeded, father)["child-benefit"].revision == moved.revision
    assert len(letters_of(seeded, father)) == told


def test_a_second_holder_from_before_is_ended_and_told_why(seeded: Database) -> None:
    mother, father = _parents(seeded, 1)
    born_to(seeded, mother, father)
    held = entitlements_of(seeded, mother)["child-benefit"]
    # as the platform recorded it before a household benefit had one payee: both parents
    with seeded.unit_of_work() as session:
        service = catalogue.get_catalogued_service(session, code="child-benefit")
        row = session.scalars(select(Entitlement).where(Entitlement.uid == held.id)).one()
        record_outcomes(
            session,
            [
                Outcome(
                    person_code=father,
                    service=service,
                    occasion="",
                    status=EntitlementStatus.GRANTED,
                    amount=row.amount,
                    period_start=row.period_start,
                    reason=row.reason,
                    explanation=row.explanation,
                    ruleset_version=row.ruleset_version,
                    life_event="birth",
                )
            ],
        )
    before = len(letters_of(seeded, father))

    react_to(seeded, latest_events(seeded, BIRTH))  # the birth handled again

    assert entitlements_of(seeded, mother)["child-benefit"].revision == held.revision
    ended = entitlements_of(seeded, father)["child-benefit"]
    assert ended.status is EntitlementStatus.ENDED
    assert ended.reason == texts.PAID_TO_OTHER_PARENT
    assert len(letters_of(seeded, father)) == before + 1


def test_an_opt_out_binds_the_household_not_only_the_parent(seeded: Database) -> None:
    mother, father = _parents(seeded, 2)
    born_to(seeded, mother, father)
    grant = entitlements_of(seeded, mother)["child-benefit"]
    with seeded.unit_of_work() as session:
        proactive.opt_out(session, entitlement_id=grant.id, actor_code=mother)

    react_to(seeded, latest_events(seeded, BIRTH))  # the birth handled again

    assert entitlements_of(seeded, mother)["child-benefit"].status is EntitlementStatus.OPTED_OUT
    assert "child-benefit" not in entitlements_of(seeded, father)
