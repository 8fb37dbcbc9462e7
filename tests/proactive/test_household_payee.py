"""A household benefit (child benefit, the birth grant) is one entitlement of one parent of
the household the child lives in, as registered: the parent who gave birth, or whoever holds
it already — never a parent living elsewhere; when that parent dies it passes to the
surviving parent of the household — an open offer too, and whatever the deceased had declined
or opted out of, as the survivor decides for themselves; a second holder from before is ended
and told why (:mod:`joinedup.proactive.payees`). A law change's re-evaluation agrees."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from proactive_support import (
    SIB,
    address_of,
    adults,
    born_to,
    entitlements_of,
    latest_events,
    letters_of,
    move_in_with,
    react_to,
    record_birth,
    record_death,
    record_move,
)
from reevaluation_support import law_change, month_start
from sqlalchemy import select, text

from joinedup import catalogue, notify, proactive
from joinedup.core.clock import today
from joinedup.core.db import Database
from joinedup.core.pagination import PageRequest
from joinedup.exchange import exchange_client
from joinedup.exchange.usage_queries import list_usage
from joinedup.proactive.models import Entitlement
from joinedup.proactive.schemas import EntitlementStatus
from joinedup.proactive.service import texts
from joinedup.proactive.service.entitlements import Outcome, record_outcomes
from joinedup.proactive.service.gathering import Gatherer
from joinedup.proactive.service.households import household_of

BIRTH = "population.birth_registered.v1"
DEATH = "population.death_registered.v1"
MOVE = "population.address_changed.v1"


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
    mother, father = _couple(seeded, 0)
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
    mother, father = _couple(seeded, 1)
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
    mother, father = _couple(seeded, 2)
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


def test_separated_parents_the_household_the_child_lives_in_receives_for_it(
    seeded: Database,
) -> None:
    """The newborn lives with its mother (the birth registers it at her address); its father
    lives elsewhere, with the child of an earlier partner whose child benefit he holds. He is
    neither paid for the newborn nor counted in its household; the mother is the payee, and a
    law change's re-evaluation agrees (it changes only the amounts, no payee)."""
    (mother,) = adults(seeded, sex="F", count=1, offset=4, low_income=True)
    earlier, father = _couple(seeded, 3)
    born_to(seeded, earlier, father)
    record_death(seeded, person=earlier, died=today())
    react_to(seeded, latest_events(seeded, DEATH))
    his = entitlements_of(seeded, father)["child-benefit"]
    assert his.status is EntitlementStatus.GRANTED  # for his first child, who lives with him
    assert his.amount_cents == 12_000
    assert address_of(seeded, mother) != address_of(seeded, father)

    child = born_to(seeded, mother, father)

    hers = entitlements_of(seeded, mother)
    assert hers["child-benefit"].status is EntitlementStatus.GRANTED
    assert hers["child-benefit"].amount_cents == 12_000  # the newborn only
    assert hers["birth-grant"].status is EntitlementStatus.OFFERED
    assert hers["birth-grant"].amount_cents == 100_000  # one birth in her household
    # her household as the Social Insurance Board reads it: the father is none of its adults,
    # so a rule summing the household's incomes would not count his
    with (
        seeded.unit_of_work() as session,
        exchange_client(session, client=f"{SIB.member_class}/{SIB.member_code}/benefits") as calls,
    ):
        reader = Gatherer(calls, purpose="benefit-eligibility", on=today())
        home = household_of(reader, int(child["personRef"]), first_day=today().replace(day=1))
    assert (home.adults, home.parents, home.children) == (
        [mother],
        [mother],
        [child["personalCode"]],
    )
    still = entitlements_of(seeded, father)
    assert (still["child-benefit"].revision, still["child-benefit"].amount_cents) == (
        his.revision,
        12_000,
    )
    assert still["birth-grant"].regarding_code != child["personalCode"]  # his first child's

    law_change(seeded, amount=130, effective_from=month_start(1))

    raised = entitlements_of(seeded, mother)["child-benefit"]
    assert raised.status is EntitlementStatus.GRANTED
    assert raised.amount_cents == 13_000
    assert raised.revision == hers["child-benefit"].revision + 1  # a new amount, same payee
    kept = entitlements_of(seeded, father)["child-benefit"]
    assert (kept.status, kept.amount_cents) == (EntitlementStatus.GRANTED, 13_000)
    assert kept.revision == his.revision + 1


def test_a_surviving_parent_living_elsewhere_does_not_receive_it(seeded: Database) -> None:
    """The parents live apart; the newborn lives with its mother, the payee. At her death
    nothing passes to the father: he is not a parent of the household the child lives in
    (until the child's move to him is registered) — as a law change finds too."""
    mother, father = _parents(seeded, 0)
    assert address_of(seeded, mother) != address_of(seeded, father)
    born_to(seeded, mother, father)
    assert entitlements_of(seeded, mother)["child-benefit"].status is EntitlementStatus.GRANTED

    record_death(seeded, person=mother, died=today())
    react_to(seeded, latest_events(seeded, DEATH))

    assert entitlements_of(seeded, mother)["child-benefit"].status is EntitlementStatus.ENDED
    assert entitlements_of(seeded, mother)["birth-grant"].status is EntitlementStatus.ENDED
    survivor = entitlements_of(seeded, father)
    assert "child-benefit" not in survivor
    assert "birth-grant" not in survivor
    law_change(seeded, amount=130, effective_from=month_start(1))
    assert "child-benefit" not in entitlements_of(seeded, father)


def test_a_child_moving_to_the_other_parent_takes_the_benefit_with_it(seeded: Database) -> None:
    """The parents live apart; the child lives with its mother, the payee. When the child's
    move to its father is registered, he is paid for it from the next month and her benefit
    ends then (no child lives with her any more); each is told in a letter — and a law
    change's re-evaluation agrees."""
    mother, father = _parents(seeded, 1)
    assert address_of(seeded, mother) != address_of(seeded, father)
    child = record_birth(seeded, mother=mother, father=father, born=today() - timedelta(days=10))
    react_to(seeded, latest_events(seeded, BIRTH))
    hers = entitlements_of(seeded, mother)["child-benefit"]
    assert (hers.status, hers.amount_cents) == (EntitlementStatus.GRANTED, 12_000)
    assert "child-benefit" not in entitlements_of(seeded, father)

    record_move(
        seeded,
        person=child["personalCode"],
        address_id=address_of(seeded, father),
        moved_on=today(),
    )
    react_to(seeded, latest_events(seeded, MOVE))

    next_month = _first_of_next_month()
    his = entitlements_of(seeded, father)["child-benefit"]
    assert (his.status, his.amount_cents) == (EntitlementStatus.GRANTED, 12_000)
    assert his.period_start == next_month
    ended = entitlements_of(seeded, mother)["child-benefit"]
    assert ended.status is EntitlementStatus.ENDED
    assert ended.period_end == next_month  # this month is hers still
    assert _letter_about(seeded, father, his.id)
    assert _letter_about(seeded, mother, ended.id)

    react_to(seeded, latest_events(seeded, MOVE))  # the same event again changes nothing
    assert entitlements_of(seeded, father)["child-benefit"].revision == his.revision
    assert entitlements_of(seeded, mother)["child-benefit"].revision == ended.revision

    law_change(seeded, amount=130, effective_from=month_start(1))
    assert entitlements_of(seeded, father)["child-benefit"].amount_cents == 13_000
    assert entitlements_of(seeded, mother)["child-benefit"].status is EntitlementStatus.ENDED


def test_a_parent_moving_out_leaves_the_benefit_with_the_children(seeded: Database) -> None:
    """The parents live together with their child; the mother, the payee, moves out alone.
    The father the child stays with is paid from the next month; hers ends then."""
    mother, father = _couple(seeded, 2)
    born_to(seeded, mother, father)
    assert entitlements_of(seeded, mother)["child-benefit"].status is EntitlementStatus.GRANTED
    (elsewhere,) = adults(seeded, sex="F", count=1, offset=5)

    record_move(seeded, person=mother, address_id=address_of(seeded, elsewhere), moved_on=today())
    react_to(seeded, latest_events(seeded, MOVE))

    his = entitlements_of(seeded, father)["child-benefit"]
    assert (his.status, his.amount_cents) == (EntitlementStatus.GRANTED, 12_000)
    assert his.period_start == _first_of_next_month()
    assert entitlements_of(seeded, mother)["child-benefit"].status is EntitlementStatus.ENDED
    # her new household (another woman's home, no child of hers) was read, nothing decided
    assert "child-benefit" not in entitlements_of(seeded, elsewhere)


_TURNING_18_ALONE = """
    SELECT c.personal_code, c.birth_date, p.personal_code FROM person c
      JOIN residence rc ON rc.person_id = c.id AND rc.superseded_at IS NULL
       AND rc.valid_to IS NULL
      JOIN relation u ON u.related_person_id = c.id AND u.kind = 'parent'
       AND u.superseded_at IS NULL
      JOIN person p ON p.id = u.person_id AND p.date_of_death IS NULL
      JOIN residence rp ON rp.person_id = p.id AND rp.superseded_at IS NULL
       AND rp.valid_to IS NULL AND rp.address_id = rc.address_id
     WHERE c.date_of_death IS NULL AND c.birth_date BETWEEN :first AND :last
       AND strftime('%m-%d', c.birth_date) <> '02-29'
       AND NOT EXISTS (SELECT 1 FROM residence o JOIN person q ON q.id = o.person_id
            WHERE o.address_id = rc.address_id AND o.superseded_at IS NULL
              AND o.valid_to IS NULL AND q.id <> c.id AND q.birth_date > :adult_before)
     ORDER BY c.id LIMIT 1
"""


def test_when_the_last_child_of_a_household_turns_18_its_payee_s_benefit_ends(
    seeded: Database,
) -> None:
    """Turning 18 is decided for the household the young person lives in: its payee (after a
    law change granted the household) holds it no more, no child under 18 living there."""
    from joinedup.proactive.handlers import announce_ages

    soon, later = today() + timedelta(days=70), today() + timedelta(days=300)
    with seeded.reading() as session:
        found = session.execute(
            text(_TURNING_18_ALONE),
            {
                "first": soon.replace(year=soon.year - 18),
                "last": later.replace(year=later.year - 18),
                "adult_before": soon.replace(year=soon.year - 18),
            },
        ).first()
    assert found is not None, "the seeded country has a child turning 18 at a parent's home"
    young, born, parent = found
    born = born if not isinstance(born, str) else date.fromisoformat(born)
    law_change(seeded, amount=120, effective_from=month_start(1))
    paid = entitlements_of(seeded, parent).get("child-benefit")
    assert paid is not None, "the household's payee is the parent living there"
    assert paid.status is EntitlementStatus.GRANTED

    birthday = born.replace(year=born.year + 18)
    with seeded.unit_of_work() as session:
        announce_ages(session, birthday)
    react_to(
        seeded,
        [
            e
            for e in latest_events(seeded, "population.age_reached.v1", 200)
            if e.payload["reached_on"] == birthday.isoformat() and e.payload["age"] == 18
        ],
    )

    ended = entitlements_of(seeded, parent)["child-benefit"]
    assert ended.status is EntitlementStatus.ENDED
    assert "no child under 18" in ended.reason
    assert "child-benefit" not in entitlements_of(seeded, young)  # an adult of it now


def test_a_birth_handled_after_the_mother_s_death_goes_to_the_surviving_parent(
    seeded: Database,
) -> None:
    """The birth and the death are handled by two consumers, in either order: when the
    mother's death (a day after the birth) is handled first, the birth handled after it
    offers and grants nothing to her, but to the father she lived with."""
    mother, father = _couple(seeded, 0)
    record_birth(seeded, mother=mother, father=father, born=today() - timedelta(days=1))
    record_death(seeded, person=mother, died=today())
    react_to(seeded, latest_events(seeded, DEATH))  # nothing of the birth's yet

    react_to(seeded, latest_events(seeded, BIRTH))

    hers = entitlements_of(seeded, mother)
    assert "child-benefit" not in hers
    assert "birth-grant" not in hers
    his = entitlements_of(seeded, father)
    assert his["child-benefit"].status is EntitlementStatus.GRANTED
    assert his["birth-grant"].status is EntitlementStatus.OFFERED
