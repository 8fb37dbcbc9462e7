"""An offer has a time to answer: the letter and the page give the last day, an answer after
it is refused, and the daily job lets what was not accepted lapse, with a letter."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import timedelta
from typing import Any

import pytest
from proactive_support import adults, born_to, entitlements_of, letters_of
from sqlalchemy import select, text

from joinedup import catalogue, proactive
from joinedup.core.clock import today, utcnow
from joinedup.core.db import Database
from joinedup.core.errors import Conflict, ValidationFailed
from joinedup.core.outbox import OutboxEvent
from joinedup.core.schedule import jobs, run_job
from joinedup.demo import organisation
from joinedup.notify import get_letter

Status = proactive.EntitlementStatus
#: The demo catalogue gives a birth grant's offer a year to be answered.
BIRTH_GRANT_DAYS = 365


def _offered_days_ago(database: Database, entitlement: uuid.UUID, days: int) -> None:
    """As if the offer had been made ``days`` ago."""
    with database.unit_of_work() as session:
        session.execute(
            text("UPDATE proactive_entitlement SET updated_at = :at WHERE uid = :uid"),
            {"at": utcnow() - timedelta(days=days), "uid": entitlement.hex},
        )


def _text(database: Database, person: str, letter: Any) -> str:
    with database.reading() as session:
        found = get_letter(session, message_id=letter.message_id, recipient_code=person)
        return " ".join(found.paragraphs)


def _lapse(database: Database) -> int:
    with database.unit_of_work() as session:
        return proactive.lapse_offers(session, on=today())


def test_the_offer_gives_its_last_day_in_the_letter_and_on_the_entitlement(
    seeded: Database,
) -> None:
    (mother,) = adults(seeded, sex="F", count=1, offset=21)
    born_to(seeded, mother)
    grant = entitlements_of(seeded, mother)["birth-grant"]
    assert grant.status is Status.OFFERED
    assert grant.respond_by == today() + timedelta(days=BIRTH_GRANT_DAYS)
    (letter,) = [le for le in letters_of(seeded, mother) if "Birth grant" in le.subject]
    words = _text(seeded, mother, letter)
    assert f"Accept it by {grant.respond_by:%B} {grant.respond_by.day}, " in words
    assert "the offer lapses" in words
    # what has no time limit, or is not an offer, has no last day
    assert entitlements_of(seeded, mother)["child-benefit"].respond_by is None


def test_an_answer_after_the_last_day_is_refused_and_the_offer_lapses_with_a_letter(
    seeded: Database,
) -> None:
    (mother,) = adults(seeded, sex="F", count=1, offset=22)
    born_to(seeded, mother)
    grant = entitlements_of(seeded, mother)["birth-grant"]
    letters_before = len(letters_of(seeded, mother))
    _offered_days_ago(seeded, grant.id, BIRTH_GRANT_DAYS + 1)
    late = entitlements_of(seeded, mother)["birth-grant"]
    assert late.status is Status.OFFERED  # until the daily job has run
    assert late.decisions == []
    for decision in ("accept", "decline"):
        with pytest.raises(Conflict) as refused, seeded.unit_of_work() as session:
            proactive.decide(session, entitlement_id=grant.id, decision=decision, actor_code=mother)
        assert "lapsed" in refused.value.detail
        assert refused.value.extensions["respond_by"] == (today() - timedelta(days=1)).isoformat()
    assert _lapse(seeded) == 1
    lapsed = entitlements_of(seeded, mother)["birth-grant"]
    assert lapsed.status is Status.ENDED
    assert lapsed.period_end == today()
    assert lapsed.revision == 2
    assert lapsed.reason == proactive.service.texts.OFFER_LAPSED
    letters = letters_of(seeded, mother)
    assert len(letters) == letters_before + 1
    assert "the offer has lapsed" in letters[0].subject
    last_day = today() - timedelta(days=1)
    assert f"by {last_day:%B} {last_day.day}, {last_day.year}, so it has lapsed" in _text(
        seeded, mother, letters[0]
    )
    with seeded.reading() as session:
        ended = session.scalars(
            select(OutboxEvent).where(OutboxEvent.name == "entitlement.ended.v1")
        ).all()
        assert any(e.payload["entitlement_id"] == str(grant.id) for e in ended)
    assert _lapse(seeded) == 0  # lapsed once
    # the other entitlements of the birth are untouched
    assert entitlements_of(seeded, mother)["child-benefit"].status is Status.GRANTED


def test_an_offer_can_be_answered_on_its_last_day_and_lapses_only_after_it(
    seeded: Database,
) -> None:
    (mother,) = adults(seeded, sex="F", count=1, offset=23)
    born_to(seeded, mother)
    grant = entitlements_of(seeded, mother)["birth-grant"]
    _offered_days_ago(seeded, grant.id, BIRTH_GRANT_DAYS)  # today is its last day
    assert entitlements_of(seeded, mother)["birth-grant"].respond_by == today()
    assert _lapse(seeded) == 0
    with seeded.unit_of_work() as session:
        accepted = proactive.decide(
            session, entitlement_id=grant.id, decision="accept", actor_code=mother
        )
    assert accepted.status is Status.GRANTED
    assert accepted.respond_by is None  # not an offer any more
    _offered_days_ago(seeded, grant.id, BIRTH_GRANT_DAYS + 10)
    assert _lapse(seeded) == 0  # only offers lapse


def test_the_daily_job_runs_once_a_day(seeded: Database) -> None:
    (mother,) = adults(seeded, sex="F", count=1, offset=24)
    born_to(seeded, mother)
    _offered_days_ago(seeded, entitlements_of(seeded, mother)["birth-grant"].id, 400)
    job = jobs.get("proactive.offers")
    with seeded.unit_of_work() as session:
        assert run_job(session, job, on=today())
    with seeded.unit_of_work() as session:
        assert not run_job(session, job, on=today())
    assert entitlements_of(seeded, mother)["birth-grant"].status is Status.ENDED


def _service(session: Any, code: str) -> catalogue.CatalogueService:
    return catalogue.get_catalogued_service(session, code=code)


@pytest.mark.parametrize(
    ("code", "days", "message"),
    [
        ("birth-grant", 0, "from 1 to 3,650"),
        ("birth-grant", 3651, "from 1 to 3,650"),
        ("birth-grant", True, "whole number"),
        ("child-benefit", 30, "only an offer"),
    ],
)
def test_a_bad_time_to_answer_is_refused_naming_the_field(
    seeded: Database, code: str, days: Any, message: str
) -> None:
    with seeded.reading() as session:
        service = _service(session, code)
    sib = organisation("social-insurance")
    with pytest.raises(ValidationFailed) as refused, seeded.unit_of_work() as session:
        catalogue.catalogue_service(
            session,
            code=service.code,
            names=service.names,
            descriptions=service.descriptions,
            owner=f"{sib.member_class}/{sib.member_code}/{service.owner.subsystem}",
            level=service.level,
            delivery_mode=service.delivery_mode,
            life_events=[(r.life_event, r.concerns) for r in service.life_events],
            ruleset=service.ruleset,
            variable=service.variable,
            purpose=service.purpose,
            legal_basis=service.legal_basis,
            per_occasion=service.per_occasion,
            respond_within_days=days,
            actor="test",
        )
    (problem,) = refused.value.extensions["errors"]
    assert problem["field"] == "respond_within_days"
    assert message in problem["message"]
    with seeded.reading() as session:  # nothing written
        assert _service(session, code).respond_within_days == service.respond_within_days


def test_an_offer_made_by_a_change_of_the_law_gives_its_last_day_in_its_letter() -> None:
    from datetime import date

    from reevaluation_support import child_benefit

    from joinedup.proactive.reevaluation.ledger import Revision
    from joinedup.proactive.reevaluation.letters import _paragraphs

    def letter(days: int | None) -> str:
        spec = dataclasses.replace(
            child_benefit(), delivery_mode="proactive_offer", respond_within_days=days
        )
        revision = Revision("38001010000", spec, uuid.uuid4(), 1, "offered", 1000, None, None)
        paragraphs = _paragraphs(
            revision, effective_from=date(2027, 1, 1), citation="Act §1", locale="en"
        )
        return " ".join(paragraphs)

    last_day = today() + timedelta(days=60)
    assert f"by {last_day:%B} {last_day.day}, {last_day.year}" in letter(60)
    assert "the offer lapses" in letter(60)
    assert "lapses" not in letter(None)
