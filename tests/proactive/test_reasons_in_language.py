"""A rule's verdict is stored in English and read in the reader's language: put together
again from its parts (the verdict word and the rules' own condition texts, translated;
citations as they are) on the portal and in the decision letter."""

from __future__ import annotations

from proactive_support import adults, born_to
from sqlalchemy import select

from joinedup import catalogue
from joinedup.core import i18n
from joinedup.core.db import Database
from joinedup.proactive import reason_in_language
from joinedup.proactive.models import Entitlement, EntitlementRevision
from joinedup.proactive.schemas import EntitlementStatus
from joinedup.proactive.service import texts
from joinedup.proactive.service.entitlements import Change
from joinedup.proactive.service.letters import compose

REASON = "Eligible: lives in Joinland (Residence Act 2015 §2); is alive."
EXPLANATION = {
    "verdict": {
        "met": True,
        "word": "Eligible",
        "conditions": [
            {"text": "lives in Joinland", "citation": "Residence Act 2015 §2"},
            {"text": "is alive", "citation": None},
        ],
    }
}


def test_a_verdict_is_put_together_in_the_readers_language() -> None:
    with i18n.use_locale("et"):
        assert reason_in_language(REASON, EXPLANATION) == (
            "Õigus on olemas: elab Joinlandis (Residence Act 2015 §2); on elus."
        )
        # a reason that is not this verdict (the entitlement ended since) is its own text
        assert reason_in_language(texts.ENDED_AT_DEATH, EXPLANATION) == (
            "Lõppes õigustatud isiku surmaga."
        )
        # a condition the catalogue does not know stays as the rules worded it
        unknown = {"verdict": {**EXPLANATION["verdict"], "conditions": [{"text": "x > 1"}]}}
        assert reason_in_language("Eligible: x > 1.", unknown) == "Õigus on olemas: x > 1."
        assert reason_in_language("", EXPLANATION) == ""
    with i18n.use_locale("en"):
        assert reason_in_language(REASON, EXPLANATION) == REASON
        assert reason_in_language(REASON, None) == REASON


def test_the_decision_letter_gives_the_rules_verdict_in_the_readers_language(
    seeded: Database,
) -> None:
    (mother,) = adults(seeded, sex="F", count=1, offset=3, low_income=True)
    born_to(seeded, mother)
    with seeded.reading() as session:
        row = session.scalars(
            select(Entitlement).where(
                Entitlement.person_code == mother, Entitlement.service_code == "child-benefit"
            )
        ).one()
        assert row.reason.startswith("Eligible: a child under 18 living in Joinland")
        service = catalogue.get_catalogued_service(session, code="child-benefit")
        change = Change(
            entitlement=row,
            revision=EntitlementRevision(period_start=row.period_start),
            previous_status=None,
            previous_amount=None,
            service=service,
        )
        assert change.status is EntitlementStatus.GRANTED
        estonian = compose(change, service, "et").paragraphs
        english = compose(change, service, "en").paragraphs
        reason = row.reason
    assert any(
        "Õigus on olemas: leibkonda kuulub Joinlandis elav alla 18-aastane laps" in p
        for p in estonian
    )
    assert any(reason in p for p in english)
