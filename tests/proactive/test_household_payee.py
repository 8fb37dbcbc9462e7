"""A household benefit (child benefit, the birth grant) is one entitlement of one parent: the
parent who gave birth, or whoever holds it already; when that parent dies it passes to the
surviving parent — an open offer too, and whatever the deceased had declined or opted out of,
as the survivor decides for themselves; a second holder from before is ended and told why
(:mod:`joinedup.proactive.payees`)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from proactive_support import (
    SIB,
    adults,
    born_to,
    entitlements_of,
    latest_events,
    letters_of,
    move_in_with,
    react_to,
    record_death,
)
from sqlalchemy import select, text

from joinedup import catalogue, notify, proactive
from joinedup.core.clock import today
from joinedup.core.db import Database
from joinedup.core.pagination import PageRequest
from joinedup.exchange.usage import list_usage
from joinedup.proactive.models import Entitlement
from joinedup.proactive.schemas import EntitlementStatus
from joinedup.proactive.service import texts
from joinedup.proactive.service.entitlements import Outcome, record_outcomes

BIRTH = "population.birth_registered.v1"


def _parents(database: Database, offset: int, *, low_income: bool = True) -> tuple[str, str]:
    (mother,) = adults(database, sex="F", count=1, offset=offset, low_income=low_income)
    (father,) = adults(database, sex="M", count=1, offset=offset, low_income=low_income)
    return mother, father


def _couple(database: Database, offset: int, *, low_income: bool = True) -> tuple[str, str]:
    """A mother and a father living together (he moved in with her a week ago)."""
    mother, father = _parents(database, offset, low_income=low_income)
    move_in_with(database, father, host=mother)
    return mother, father


def _reads_about(database: Database, person: str) -> int:
    """How many reads of the Social Insurance Board the person's data usage lists."""
    with database.reading() as session:
        return len(
            list_usage(
                session,
                subject_code=person,
                member_code=SIB.member_code,
                request=PageRequest(limit=500),
            ).items
        )


def _letter_about(database: Database, person: str, entitlement: object) -> list[str]:
    """The paragraphs of the last letter to ``person`` about the entitlement."""
    with database.reading() as session:
        regarding = f"entitlement:{entitlement}"
        (last, *_) = [le for le in letters_of(database, person) if le.regarding == regarding]
        return list(
            notify.get_letter(session, message_id=last.message_id, recipient_code=person).paragraphs
        )


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


def test_an_open_offer_to_a_parent_who_dies_is_offered_to_the_surviving_parent(
    seeded: Database,
) -> None:
    mother, father = _couple(seeded, 3)
    child = born_to(seeded, mother, father)
    offer = entitlements_of(seeded, mother)["birth-grant"]
    assert offer.status is EntitlementStatus.OFFERED
    assert "birth-grant" not in entitlements_of(seeded, father)
    reads = _reads_about(seeded, father)

    record_death(seeded, person=mother, died=today())  # before she accepted or declined it
    death = latest_events(seeded, "population.death_registered.v1")
    react_to(seeded, death)

    assert entitlements_of(seeded, mother)["birth-grant"].status is EntitlementStatus.ENDED
    passed = entitlements_of(seeded, father)["birth-grant"]
    assert passed.status is EntitlementStatus.OFFERED
    assert passed.amount_cents == offer.amount_cents == 100_000
    assert passed.occasion == offer.occasion  # the same birth's grant, once
    assert passed.regarding_code == child["personalCode"]
    assert passed.life_event == "birth"
    assert passed.decisions == [proactive.Decision.ACCEPT, proactive.Decision.DECLINE]
    letter = _letter_about(seeded, father, passed.id)
    assert letter[1] == texts.PASSED_ON_OFFER  # why it comes to him
    assert letter[2].startswith("Why: Eligible")  # and the rules' reason
    assert _reads_about(seeded, father) > reads  # decided on reads through the exchange

    # the death handled again offers nothing twice
    told = len(letters_of(seeded, father))
    react_to(seeded, death)
    assert entitlements_of(seeded, father)["birth-grant"].revision == passed.revision
    assert len(letters_of(seeded, father)) == told
    # and he decides for himself
    with seeded.unit_of_work() as session:
        proactive.accept_offer(session, entitlement_id=passed.id, actor_code=father)
    assert entitlements_of(seeded, father)["birth-grant"].status is EntitlementStatus.GRANTED


def test_a_decline_or_opt_out_of_the_deceased_does_not_bind_the_surviving_parent(
    seeded: Database,
) -> None:
    mother, father = _couple(seeded, 4)
    born_to(seeded, mother, father)
    held = entitlements_of(seeded, mother)
    with seeded.unit_of_work() as session:
        proactive.decline_offer(session, entitlement_id=held["birth-grant"].id, actor_code=mother)
        proactive.opt_out(session, entitlement_id=held["child-benefit"].id, actor_code=mother)

    record_death(seeded, person=mother, died=today())
    react_to(seeded, latest_events(seeded, "population.death_registered.v1"))

    left = entitlements_of(seeded, mother)  # her choices stay recorded as hers
    assert left["birth-grant"].status is EntitlementStatus.DECLINED
    assert left["child-benefit"].status is EntitlementStatus.OPTED_OUT
    survivor = entitlements_of(seeded, father)
    assert survivor["birth-grant"].status is EntitlementStatus.OFFERED
    benefit = survivor["child-benefit"]
    assert benefit.status is EntitlementStatus.GRANTED
    assert benefit.period_start == _first_of_next_month()
    assert _letter_about(seeded, father, benefit.id)[1] == texts.PASSED_ON


_HOLDING = [
    EntitlementStatus.GRANTED,
    EntitlementStatus.OFFERED,
    EntitlementStatus.ELIGIBLE,
    EntitlementStatus.AWAITING_CONSENT,
    EntitlementStatus.DECLINED,
    EntitlementStatus.OPTED_OUT,
]


@pytest.mark.parametrize("held", _HOLDING, ids=[s.value for s in _HOLDING])
def test_what_passes_to_the_survivor_whatever_the_deceased_held_it_as(
    seeded: Database, held: EntitlementStatus
) -> None:
    """Every status the deceased held the household's benefits in: a continuing benefit
    always passes on (from the next month); a one-off passes on unless it was given."""
    # (neither benefit depends on income: any parents will do)
    mother, father = _couple(seeded, 10 + _HOLDING.index(held), low_income=False)
    born_to(seeded, mother, father)
    with seeded.unit_of_work() as session:  # as if she had come to hold them so
        session.execute(
            text(
                "UPDATE proactive_entitlement SET status = :status WHERE person_code = :mother "
                "AND service_code IN ('child-benefit', 'birth-grant')"
            ),
            {"status": held.value, "mother": mother},
        )

    record_death(seeded, person=mother, died=today())
    react_to(seeded, latest_events(seeded, "population.death_registered.v1"))

    survivor = entitlements_of(seeded, father)
    assert survivor["child-benefit"].status is EntitlementStatus.GRANTED
    assert survivor["child-benefit"].period_start == _first_of_next_month()
    if held is EntitlementStatus.GRANTED:  # the grant was given to her: nothing is left
        assert "birth-grant" not in survivor
    else:
        assert survivor["birth-grant"].status is EntitlementStatus.OFFERED
