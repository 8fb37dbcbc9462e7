"""Applying online for a service given on application: the registers supply what they hold
(read through the exchange, every read recorded), the applicant declares only the rest, the
rules decide at once, and the decision is recorded, told by letter and kept with the
application — for the person, or someone whose mandate covers the service."""

from __future__ import annotations

import uuid

import pytest
from application_support import applicant, count, traces
from proactive_support import FOOD_BANK, adults, letters_of
from sqlalchemy import select, text

from joinedup import catalogue, proactive
from joinedup.catalogue import LawfulBasis
from joinedup.core.clock import today
from joinedup.core.db import Database
from joinedup.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from joinedup.core.outbox import OutboxEvent
from joinedup.demo.purposes import FOOD_PARCELS_AGREEMENT
from joinedup.exchange import exchange_client
from joinedup.identity import grant_power_of_attorney
from joinedup.notify import get_letter

Status = proactive.EntitlementStatus
TENANT = {"rent": "500.00", "housing_tenure": "tenant"}


def _paragraphs(database: Database, person: str, message_id: uuid.UUID) -> list[str]:
    with database.reading() as session:
        return get_letter(session, message_id=message_id, recipient_code=person).paragraphs


def _apply(
    database: Database,
    service: str,
    person: str,
    answers: dict[str, object],
    *,
    actor: str | None = None,
    submission: uuid.UUID | None = None,
) -> proactive.ApplicationView:
    with database.unit_of_work() as session:
        return proactive.apply_for_service(
            session,
            service_code=service,
            person_code=person,
            actor_code=actor or person,
            answers=answers,
            submission=submission,
        )


def test_an_eligible_application_is_granted_with_its_amount_letter_and_reads(
    seeded: Database,
) -> None:
    person, service = applicant(seeded)
    usage_before = count(seeded, "exchange_data_usage", subject_code=person)
    view = _apply(seeded, service, person, TENANT)
    # 60% of the rent (500 € under the 850 € cap); no income above the 900 € disregard
    assert view.outcome is proactive.ApplicationOutcome.GRANTED
    assert view.amount_cents == 30_000
    assert view.entitlement_status is Status.GRANTED
    assert view.answers == {"rent": 500.0, "housing_tenure": "tenant"}
    assert view.actor_code == view.person_code == person
    assert view.period_start == today().replace(day=1)
    with seeded.reading() as session:
        entitlement = proactive.get_entitlement(
            session, entitlement_id=view.entitlement_id, person_code=person
        )
        assert entitlement.amount_cents == 30_000
        assert entitlement.history[-1].actor == f"person:{person}"
        assert entitlement.history[-1].letter_reference is not None
        granted = session.scalars(
            select(OutboxEvent).where(OutboxEvent.name == "entitlement.granted.v1")
        ).all()
        assert any(
            e.payload["entitlement_id"] == str(view.entitlement_id)
            and e.payload["cause"] == "application"
            for e in granted
        )
        reads = session.execute(
            text(
                "SELECT purpose, legal_basis, receiver_system FROM exchange_data_usage "
                "WHERE subject_code = :code ORDER BY id"
            ),
            {"code": person},
        ).all()
    new_reads = reads[usage_before:]
    assert new_reads, "the registers were read through the exchange"
    assert {r[0] for r in new_reads} == {"means-tested-benefit"}
    assert all("Social Welfare Act" in r[1] for r in new_reads)
    (letter,) = [le for le in letters_of(seeded, person) if "granted" in le.subject]
    assert "on your application" in " ".join(_paragraphs(seeded, person, letter.message_id))


def test_an_application_the_rules_refuse_is_recorded_with_the_reason(seeded: Database) -> None:
    person, service = applicant(seeded)
    view = _apply(seeded, service, person, {"rent": "500", "housing_tenure": "owner"})
    assert view.outcome is proactive.ApplicationOutcome.REFUSED
    assert view.amount_cents is None
    assert view.entitlement_status is Status.ENDED
    assert "does not rent its home" in view.reason
    with seeded.reading() as session:
        entitlement = proactive.get_entitlement(
            session, entitlement_id=view.entitlement_id, person_code=person
        )
    assert entitlement.period_end == entitlement.period_start == today().replace(day=1)
    (letter,) = letters_of(seeded, person)
    assert "refused" in letter.subject
    assert "does not rent its home" in " ".join(_paragraphs(seeded, person, letter.message_id))


@pytest.mark.parametrize(
    ("answers", "field", "code"),
    [
        ({"rent": "-5", "housing_tenure": "tenant"}, "rent", "negative"),
        ({"rent": "a lot", "housing_tenure": "tenant"}, "rent", "not_a_number"),
        ({"rent": "450.005", "housing_tenure": "tenant"}, "rent", "too_precise"),
        ({"rent": "NaN", "housing_tenure": "tenant"}, "rent", "not_a_number"),
        ({"housing_tenure": "tenant"}, "rent", "required"),
        ({"rent": "450", "housing_tenure": "castle"}, "housing_tenure", "not_a_choice"),
        ({"rent": "450", "housing_tenure": "tenant", "income": "0"}, "income", "not_asked"),
    ],
)
def test_bad_answers_are_refused_and_nothing_is_read_or_written(
    seeded: Database, answers: dict[str, object], field: str, code: str
) -> None:
    person, service = applicant(seeded)
    before = traces(seeded, person)
    with pytest.raises(ValidationFailed) as refused:
        _apply(seeded, service, person, answers)
    errors = refused.value.extensions["errors"]
    assert [(e["field"], e["code"]) for e in errors] == [(field, code)]
    assert traces(seeded, person) == before


def test_nobody_applies_for_another_person_without_a_mandate(seeded: Database) -> None:
    person, service = applicant(seeded)
    (stranger,) = adults(seeded, sex="M", count=1)
    before = traces(seeded, person)
    with pytest.raises(Forbidden):
        _apply(seeded, service, person, TENANT, actor=stranger)
    guessed = "4" + person[1:-1] + str((int(person[-1]) + 1) % 10)
    with pytest.raises(Forbidden) as refused_guess:  # a guessed code: the same refusal
        _apply(seeded, service, guessed, TENANT, actor=stranger)
    with pytest.raises(Forbidden) as refused_real:
        _apply(seeded, service, person, TENANT, actor=stranger)
    assert str(refused_guess.value) == str(refused_real.value)
    with pytest.raises(ValidationFailed):
        _apply(seeded, service, "x' OR 1=1", TENANT, actor=stranger)
    assert traces(seeded, person) == before
    assert count(seeded, "proactive_application", actor_code=stranger) == 0


def test_an_attorney_applies_and_the_records_name_both(seeded: Database) -> None:
    person, service = applicant(seeded)
    (attorney,) = adults(seeded, sex="M", count=1)
    with (
        seeded.unit_of_work() as session,
        exchange_client(session, client="GOV/70000579/portal", user_id=person) as calls,
    ):
        grant_power_of_attorney(
            session,
            grantor_code=person,
            grantor_name="Applicant",
            grantee_code=attorney,
            everything=False,
            services=[service],
            data_categories=[],
            valid_from=today(),
            valid_to=None,
            calls=calls,
            actor=f"person:{person}",
        )
    view = _apply(seeded, service, person, TENANT, actor=attorney)
    assert view.outcome is proactive.ApplicationOutcome.GRANTED
    assert (view.person_code, view.actor_code) == (person, attorney)
    with seeded.reading() as session:
        entitlement = proactive.get_entitlement(
            session, entitlement_id=view.entitlement_id, person_code=person
        )
    assert entitlement.history[-1].actor == f"person:{attorney}"
    assert entitlement.history[-1].acting_for == person
    assert letters_of(seeded, person), "the letter goes to the person, not the attorney"


def test_the_same_submission_twice_is_one_application(seeded: Database) -> None:
    person, service = applicant(seeded)
    key = uuid.uuid4()
    first = _apply(seeded, service, person, TENANT, submission=key)
    again = _apply(seeded, service, person, TENANT, submission=key)
    assert again.id == first.id
    assert again.replayed
    assert not first.replayed
    assert count(seeded, "proactive_application", person_code=person) == 1
    assert len(letters_of(seeded, person)) == 1
    with pytest.raises(ValidationFailed):
        _apply(seeded, service, person, TENANT, submission="not-a-key")  # type: ignore[arg-type]


def test_a_submission_committed_meanwhile_by_another_request_is_a_conflict_writing_nothing(
    seeded: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two requests with one submission key at the same instant (PostgreSQL's read committed
    lets both past the look-up): the second is a Conflict, not a server error, and its
    transaction leaves nothing — no second entitlement revision, letter or application."""
    from joinedup.proactive.service import applications

    person, service = applicant(seeded)
    key = uuid.uuid4()
    _apply(seeded, service, person, TENANT, submission=key)
    revisions = count(seeded, "proactive_entitlement_revision")
    monkeypatch.setattr(applications, "_submitted", lambda *_: None)  # not yet visible
    with pytest.raises(Conflict) as raised:
        _apply(seeded, service, person, TENANT, submission=key)
    assert raised.value.extensions.get("reason") == "submitting"
    assert count(seeded, "proactive_application", person_code=person) == 1
    assert len(letters_of(seeded, person)) == 1
    assert count(seeded, "proactive_entitlement_revision") == revisions


def test_the_form_shows_what_the_registers_hold_and_asks_only_the_rest(seeded: Database) -> None:
    person, service = applicant(seeded)
    before = count(seeded, "exchange_data_usage", subject_code=person)
    with seeded.unit_of_work() as session:
        form = proactive.prepare_application(
            session, service_code=service, person_code=person, actor_code=person
        )
    assert form.blocked is None
    assert [q.variable for q in form.questions] == ["rent", "housing_tenure"]
    assert form.questions[1].choices[0][0] == "tenant"
    known = {fact.variable for fact in form.known}
    assert {"birth_date", "resident", "monthly_income"} <= known
    assert count(seeded, "exchange_data_usage", subject_code=person) > before
    assert count(seeded, "proactive_application", person_code=person) == 0


def test_services_that_are_not_applied_for_and_strangers_to_the_municipality(
    seeded: Database,
) -> None:
    person, service = applicant(seeded)
    with pytest.raises(Conflict):  # given automatically: nothing to apply for
        _apply(seeded, "child-benefit", person, {})
    with pytest.raises(NotFound):
        _apply(seeded, "no-such-service", person, {})
    with seeded.reading() as session:
        others = session.execute(
            text("SELECT code FROM catalogue_service WHERE code LIKE 'housing-support-%'")
        ).scalars()
        elsewhere = next(code for code in others if code != service)
    with pytest.raises(Conflict) as refused:  # another municipality's residents only
        _apply(seeded, elsewhere, person, TENANT)
    assert refused.value.extensions["reason"] == "not-served"
    assert count(seeded, "proactive_application", person_code=person) == 0


def _consent_service(database: Database, *, inputs: list[str] | None = None) -> str:
    """Food parcels on application (a test service): read only with the person's consent."""
    with database.unit_of_work() as session:
        catalogue.catalogue_service(
            session,
            code="food-parcels-on-application",
            names={"en": "Food parcels on application"},
            descriptions={"en": "Apply for food parcels delivered home."},
            owner=f"{FOOD_BANK.member_class}/{FOOD_BANK.member_code}/food-aid",
            level="national",
            delivery_mode="application",
            life_events=[],
            ruleset="demo",
            variable="food_parcel_delivery",
            purpose="food-parcel-delivery",
            legal_basis="Consent of the data subject",
            lawful_basis=LawfulBasis.CONSENT,
            data_agreement_id=FOOD_PARCELS_AGREEMENT,
            applicant_inputs=inputs or [],
            actor="test",
        )
    return "food-parcels-on-application"


def test_a_consent_based_service_reads_nothing_without_consent(seeded: Database) -> None:
    person, _ = applicant(seeded)
    service = _consent_service(seeded)
    before = traces(seeded, person)
    with seeded.unit_of_work() as session:
        form = proactive.prepare_application(
            session, service_code=service, person_code=person, actor_code=person
        )
    assert form.blocked == "consent"
    assert form.known == []
    with pytest.raises(Conflict) as refused:
        _apply(seeded, service, person, {})
    assert refused.value.extensions["reason"] == "consent"
    assert traces(seeded, person) == before


def test_the_catalogue_declares_only_inputs_an_applicant_can_give(seeded: Database) -> None:
    with pytest.raises(ValidationFailed) as refused:
        _consent_service(seeded, inputs=["housing_support", "no_such_variable", "birth_date"])
    fields = {e["field"]: e["message"] for e in refused.value.extensions["errors"]}
    assert "worked out" in fields["applicant_inputs[0]"]
    assert "no variable" in fields["applicant_inputs[1]"]
    assert "cannot be asked" in fields["applicant_inputs[2]"]
    with seeded.reading() as session:
        housing = catalogue.get_catalogued_service(session, code=applicant(seeded)[1])
    assert housing.applicant_inputs == ["rent", "housing_tenure"]
    assert housing.takes_applications
