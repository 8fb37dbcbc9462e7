"""Applying online for a service the person applies for (delivery mode ``application``, or
``inform``: told they may be entitled, they apply when it suits them).

Once only: the service's owner reads what its rules need from the base registries through
the exchange — as for a life event, every read a data-usage record with the service's
purpose and legal basis, and nothing at all without consent where the service rests on it —
and the applicant is asked only what no register holds: the ruleset inputs the catalogue
declares for the service (:attr:`joinedup.catalogue.CatalogueService.applicant_inputs`,
e.g. the rent for housing support).

The rules decide at once: an application they find due is **granted** (status ``granted``);
one they do not is **refused**, recorded as an entitlement ``ended`` from the first day it
would have had, with the rules' plain-language reason (there is no separate "refused"
status: an ended entitlement is one not (or no longer) due, and the decision letter says it
was an application refused, with the way to challenge it). The application itself is kept
(what was declared, by whom, for whom, when, and what it led to); the same submission sent
twice is one application.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from joinedup import catalogue, exchange, identity, rules
from joinedup.catalogue import CatalogueService, Concerns
from joinedup.core.clock import today, utcnow
from joinedup.core.errors import Conflict, NotFound, ValidationFailed
from joinedup.core.settings import get_settings
from joinedup.exchange import LocalCallRefused
from joinedup.proactive.models import Application, Entitlement
from joinedup.proactive.schemas import ApplicationView, EntitlementStatus
from joinedup.proactive.service.application_forms import Question, check_answers, questions_of
from joinedup.proactive.service.deciding import lacks_consent
from joinedup.proactive.service.entitlements import Outcome, record_outcomes
from joinedup.proactive.service.gathering import (
    PERSON,
    ConsentMissing,
    Evaluation,
    Gatherer,
    evaluate,
)
from joinedup.proactive.service.letters import send_decision_letters

#: The cause named in the ``entitlement.*.v1`` events an application leads to.
CAUSE = "application"


@dataclass(frozen=True)
class KnownFact:
    """Something a register holds that the rules use, as it was read for the application."""

    person_code: str
    variable: str
    #: The rules' label (English; translated where it is shown).
    label: str
    #: A month (``YYYY-MM``) for a monthly fact, else None.
    period: str | None
    value: Any


@dataclass(frozen=True)
class ApplicationForm:
    """What the application page shows: what the registers hold, what is asked."""

    service: CatalogueService
    person_code: str
    period_start: date
    questions: list[Question]
    known: list[KnownFact]
    #: Why no application can be made now (``consent``: the service reads nothing before
    #: the person consents; ``not-served``: the owner's registers do not know them, e.g. not
    #: a resident of the municipality), else None.
    blocked: str | None = None


def _check_code(field: str, code: str) -> None:
    if not code or len(code) > 32 or not (code.isascii() and code.isdigit()):
        raise ValidationFailed(
            f"{field} is not a personal code",
            errors=[{"field": field, "code": "invalid", "message": "is not a personal code"}],
        )


def _service(session: Session, code: str) -> CatalogueService:
    service = catalogue.get_catalogued_service(session, code=code[:64])
    if not service.active or not service.takes_applications:
        raise Conflict(
            f"{service.code} is not applied for: it is {service.delivery_mode.value}",
            delivery_mode=service.delivery_mode.value,
        )
    return service


def _authorise(session: Session, *, actor_code: str, person_code: str, service_code: str) -> None:
    """``Forbidden`` unless the actor is the person or holds a mandate covering the service
    (a parent's is read through the exchange as the portal, purpose ``mandate-check``). A
    guessed or malformed personal code gets the same refusal as anybody else's."""
    if actor_code == person_code:
        return
    with exchange.exchange_client(
        session,
        client=get_settings().portal_subsystem,
        user_id=actor_code,
        represented_party=person_code,
    ) as calls:
        identity.authorise(
            session,
            actor_code=actor_code,
            subject_code=person_code,
            action=f"service:{service_code}",
            on=today(),
            calls=calls,
        )


class _ApplicantGatherer(Gatherer):
    """Reads like the life-event path, with what an owner's narrower rights allow: a
    residence from the person's record when the owner may not call the residence register
    (a municipality's social services read only their own residents' records)."""

    def read_residence(self, code: str, months: list[str]) -> None:
        try:
            super().read_residence(code, months)
        except LocalCallRefused as refused:
            if refused.error_type == "Client.ConsentMissing":
                raise
            try:
                body = self._call(PERSON, code, ["residenceAddress"], asOf=self.on.isoformat())
                lives_here = body.get("residenceAddress") is not None
            except NotFound:
                lives_here = False
            for month in months:
                self.of(code).resident[month] = lives_here

    def household_of(self, person: str) -> tuple[list[str], list[str]]:
        """The person and their children; the person alone when the owner may not read
        family relations (its household is then what the registers let it see)."""
        try:
            return self.household([person])
        except LocalCallRefused as refused:
            if refused.error_type == "Client.ConsentMissing":
                raise
            return [person], []


def _in_household(service: CatalogueService) -> bool:
    entity = rules.get_ruleset(service.ruleset).variable(service.variable).entity
    parents = any(rule.concerns is Concerns.PARENTS for rule in service.life_events)
    return entity == "household" or parents


def _evaluate(
    session: Session,
    service: CatalogueService,
    *,
    person: str,
    actor: str,
    declared: Mapping[str, Any],
    on: date,
) -> tuple[Evaluation, _ApplicantGatherer]:
    """Read through the exchange as the owner (for the service's purpose) and evaluate; each
    read names who asked (``actor``) and, when they act for someone, whom they represent.
    ``NotFound`` when the owner's registers do not know the person."""
    with exchange.exchange_client(
        session,
        client=service.owner.client,
        user_id=actor,
        represented_party=None if actor == person else person,
    ) as calls:
        gatherer = _ApplicantGatherer(calls, purpose=service.purpose, on=on)
        gatherer.read_person(person)  # the person first: NotFound for a non-resident
        adults: list[str] | None = None
        children: list[str] | None = None
        if _in_household(service):
            adults, children = gatherer.household_of(person)
        result = evaluate(
            gatherer,
            service,
            person=person,
            adults=adults,
            children=children,
            period=on.strftime("%Y-%m"),
            declared=declared,
        )
    return result, gatherer


def _probe(question: Question) -> Any:
    """A value that lets the rules go on to ask for everything else they use."""
    if question.kind == "bool":
        return True
    if question.kind == "enum":
        return question.choices[0][0]
    return 1


def _known(gatherer: Gatherer, person: str) -> list[KnownFact]:
    facts: list[KnownFact] = []
    ordered = [person, *(code for code in gatherer.facts if code != person)]
    for code in ordered:
        read = gatherer.facts.get(code)
        if read is None:
            continue
        if read.birth_date is not None:
            facts.append(KnownFact(code, "birth_date", "Date of birth", None, read.birth_date))
        for month, resident in sorted(read.resident.items()):
            facts.append(KnownFact(code, "resident", "Resident in Joinland", month, resident))
        for month, income in sorted(read.monthly_income.items()):
            facts.append(KnownFact(code, "monthly_income", "Monthly income", month, income))
    return facts


def prepare_application(
    session: Session, *, service_code: str, person_code: str, actor_code: str
) -> ApplicationForm:
    """The application form for ``person_code`` (made by ``actor_code``: the person, or
    someone whose mandate covers the service): what the owner's registers hold that the
    rules use, read through the exchange now (data-usage records for the service's purpose;
    nothing read without consent where the service rests on it), and what is asked.

    ``NotFound`` (no such service), ``Conflict`` (not applied for), ``Forbidden`` (no
    mandate). Changes only the exchange's records of the reads."""
    _check_code("person_code", person_code)
    _check_code("actor_code", actor_code)
    service = _service(session, service_code)
    _authorise(session, actor_code=actor_code, person_code=person_code, service_code=service.code)
    on = today()
    questions = questions_of(service)
    form = ApplicationForm(
        service=service,
        person_code=person_code,
        period_start=on.replace(day=1),
        questions=questions,
        known=[],
    )
    if lacks_consent(session, service, person_code):
        return replace(form, blocked="consent")
    probe = {q.variable: _probe(q) for q in questions}
    try:
        _, gatherer = _evaluate(
            session, service, person=person_code, actor=actor_code, declared=probe, on=on
        )
    except ConsentMissing:
        return replace(form, blocked="consent")
    except NotFound:
        return replace(form, blocked="not-served")
    return replace(form, known=_known(gatherer, person_code))


def _submission(value: uuid.UUID | str | None) -> uuid.UUID:
    if value is None or value == "":
        return uuid.uuid4()  # no key: every submission is a new application
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise ValidationFailed(
            "submission is not a submission key",
            errors=[{"field": "submission", "code": "invalid", "message": "must be a UUID"}],
        ) from None


def _view(session: Session, row: Application, *, replayed: bool = False) -> ApplicationView:
    entitlement = session.get(Entitlement, row.entitlement_id)
    assert entitlement is not None
    try:
        name = catalogue.get_catalogued_service(session, code=row.service_code).name()
    except NotFound:
        name = row.service_code
    return ApplicationView(
        id=row.uid,
        service_code=row.service_code,
        service_name=name,
        person_code=row.person_code,
        actor_code=row.actor_code,
        answers=dict(row.answers),
        period_start=row.period_start,
        outcome=row.outcome,
        amount_cents=row.amount,
        reason=row.reason,
        explanation=dict(entitlement.explanation),
        entitlement_id=entitlement.uid,
        entitlement_status=EntitlementStatus(entitlement.status),
        submitted_at=row.submitted_at,
        replayed=replayed,
    )


def _submitted(
    session: Session, person_code: str, service_code: str, key: uuid.UUID
) -> Application | None:
    """The application this submission made already, as far as this transaction sees."""
    return session.scalar(
        select(Application).where(
            Application.person_code == person_code,
            Application.service_code == service_code,
            Application.submission == key,
        )
    )


def apply_for_service(
    session: Session,
    *,
    service_code: str,
    person_code: str,
    actor_code: str,
    answers: Mapping[str, Any],
    submission: uuid.UUID | str | None = None,
) -> ApplicationView:
    """Apply for ``service_code`` for ``person_code``, made by ``actor_code`` (the person, or
    someone whose mandate covers the service), with ``answers`` to what the catalogue says
    the applicant declares; the rest is read from the registers through the exchange.

    The rules decide: due → the entitlement is granted (with its amount from the month of
    the application); not due → refused (an entitlement ended from that month, with the
    rules' reason). Changes the entitlement (a revision naming the actor and whom they acted
    for), ``proactive_application``, the exchange's records of every read and the mailbox
    (a decision letter); emits ``entitlement.granted.v1`` or ``entitlement.ended.v1`` (cause
    ``application``) and ``notify.letter_sent.v1``.

    The same ``submission`` key again returns the application it made (nothing new).
    ``ValidationFailed`` for bad answers (nothing is read or written), ``Forbidden``
    without a mandate, ``NotFound`` for an unknown service, ``Conflict`` when the service
    is not applied for, rests on a consent not given, or its owner's registers do not know
    the person (a municipality's service for someone who lives elsewhere)."""
    _check_code("person_code", person_code)
    _check_code("actor_code", actor_code)
    service = _service(session, service_code)
    declared = check_answers(service, answers)
    key = _submission(submission)
    _authorise(session, actor_code=actor_code, person_code=person_code, service_code=service.code)
    existing = _submitted(session, person_code, service.code, key)
    if existing is not None:
        return _view(session, existing, replayed=True)
    if lacks_consent(session, service, person_code):
        raise Conflict(
            f"{service.code} reads your data only with your consent: give it first",
            reason="consent",
        )
    on = today()
    try:
        result, _ = _evaluate(
            session, service, person=person_code, actor=actor_code, declared=declared, on=on
        )
    except ConsentMissing:
        raise Conflict(
            f"{service.code} reads your data only with your consent: give it first",
            reason="consent",
        ) from None
    except NotFound:
        raise Conflict(
            f"{service.owner.name} has no record of this person: the service is not theirs",
            reason="not-served",
        ) from None
    first_day = on.replace(day=1)
    occasion = f"{CAUSE}:{first_day.strftime('%Y-%m')}" if service.per_occasion else ""
    outcome = Outcome(
        person_code=person_code,
        service=service,
        occasion=occasion,
        status=EntitlementStatus.GRANTED if result.due else EntitlementStatus.ENDED,
        amount=result.amount,
        period_start=first_day,
        reason=result.reason,
        explanation=result.explanation,
        ruleset_version=result.ruleset_version,
    )
    actor = f"person:{actor_code}"
    uid = uuid.uuid4()
    changes = record_outcomes(
        session,
        [outcome],
        actor=actor,
        acting_for=person_code if actor_code != person_code else None,
        cause=CAUSE,
    )
    for change in changes:
        change.extra["application"] = str(uid)
    send_decision_letters(session, changes, actor=actor)
    entitlement = session.scalar(
        select(Entitlement).where(
            Entitlement.person_code == person_code,
            Entitlement.service_code == service.code,
            Entitlement.occasion == occasion,
        )
    )
    assert entitlement is not None  # record_outcomes always leaves one
    row = Application(
        uid=uid,
        service_code=service.code,
        person_code=person_code,
        actor_code=actor_code,
        submission=key,
        answers=declared,
        period_start=first_day,
        outcome="granted" if result.due else "refused",
        amount=result.amount,
        reason=result.reason,
        entitlement_id=entitlement.id,
        submitted_at=utcnow(),
    )
    session.add(row)
    try:
        session.flush()
    except IntegrityError:
        # the same submission committed by another request meanwhile (PostgreSQL's read
        # committed lets both get this far; SQLite's writers queue): the caller's transaction
        # is rolled back whole, entitlement and letter included, and the client asks again
        raise Conflict(
            "this application is being submitted already: look for it in a moment",
            reason="submitting",
        ) from None
    return _view(session, row)


def get_application(
    session: Session, *, application_id: uuid.UUID | str, person_code: str
) -> ApplicationView:
    """One of the person's applications (another person's is ``NotFound``). Reads only."""
    try:
        uid = application_id if isinstance(application_id, uuid.UUID) else uuid.UUID(application_id)
    except ValueError:
        raise NotFound("there is no such application") from None
    row = session.scalar(select(Application).where(Application.uid == uid))
    if row is None or row.person_code != person_code:
        raise NotFound("there is no such application")
    return _view(session, row)
