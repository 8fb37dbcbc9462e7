"""Reacting to a consent given or withdrawn: the entitlements that waited for it are decided
(under the consent), and those it carried end. Recorded and told as for a life event
(:mod:`joinedup.proactive.service.life_events`)."""

from __future__ import annotations

import uuid
from datetime import date

import structlog
from sqlalchemy.orm import Session

from joinedup import catalogue, exchange, rules
from joinedup.catalogue import LifeEvent
from joinedup.core.clock import today
from joinedup.core.errors import NotFound
from joinedup.proactive.schemas import EntitlementStatus
from joinedup.proactive.service import texts
from joinedup.proactive.service.deciding import Occurrence, decision_period
from joinedup.proactive.service.entitlements import (
    PROACTIVE_ACTOR,
    Outcome,
    active_entitlements_of,
    entitlements_in,
    record_outcomes,
    set_status,
    status_for,
)
from joinedup.proactive.service.gathering import ConsentMissing, Gatherer, evaluate
from joinedup.proactive.service.letters import send_decision_letters
from joinedup.proactive.service.life_events import Reaction

log = structlog.get_logger(__name__)


def reconsider_after_consent(
    session: Session,
    *,
    subject_code: str,
    agreement_id: uuid.UUID | str,
    event_id: uuid.UUID | None = None,
) -> Reaction:
    """Evaluate the person's entitlements that waited for their consent to ``agreement_id``,
    now that it is given: the owner reads (under the consent) what the rules need, and the
    outcome is recorded and told as for a life event. Changes and emits as :func:`react`."""
    reaction = Reaction()
    wanted = str(agreement_id)
    outcomes: list[Outcome] = []
    candidates = [
        row
        for row in entitlements_in(
            session,
            person_codes=[subject_code],
            statuses=[EntitlementStatus.AWAITING_CONSENT, EntitlementStatus.ENDED],
        )
        # one that ended for another reason than a withdrawal: a consent does not bring it back
        if row.status != EntitlementStatus.ENDED.value
        or row.reason == texts.ENDED_CONSENT_WITHDRAWN
    ]
    services = catalogue.get_catalogued_services(
        session, codes=[row.service_code for row in candidates]
    )
    for row in candidates:
        service = services.get(row.service_code)
        if row.life_event is None or service is None or str(service.data_agreement_id) != wanted:
            continue
        withdrawn = row.status == EntitlementStatus.ENDED.value
        # waiting: the month the life event was decided for; ended by a withdrawal: due
        # again (if the rules still say so) from the month consent is given again
        on = today() if withdrawn else row.period_start
        occurrence = Occurrence(
            life_event=LifeEvent(row.life_event), event_id=event_id, on=on, person_ref=0
        )
        period, first_day = decision_period(occurrence)
        entity = rules.get_ruleset(service.ruleset).variable(service.variable).entity
        household = [subject_code] if entity == "household" else None
        with exchange.exchange_client(session, client=service.owner.client) as calls:
            gatherer = Gatherer(calls, purpose=service.purpose, on=on)
            try:
                result = evaluate(
                    gatherer,
                    service,
                    person=subject_code,
                    adults=household,
                    children=None,
                    period=period,
                )
            except (ConsentMissing, NotFound):
                reaction.skipped += 1
                continue
        outcomes.append(
            Outcome(
                person_code=subject_code,
                service=service,
                occasion=row.occasion,
                status=status_for(service) if result.due else None,
                amount=result.amount,
                period_start=first_day,
                reason=result.reason,
                explanation=result.explanation,
                ruleset_version=result.ruleset_version,
                life_event=row.life_event,
                regarding_code=row.regarding_code,
                event_id=event_id,
            )
        )
    changes = record_outcomes(session, outcomes)
    reaction.changes.extend(changes)
    reaction.letters = send_decision_letters(session, changes)
    return reaction


def end_after_consent_withdrawn(
    session: Session,
    *,
    subject_code: str,
    agreement_id: uuid.UUID | str,
    on: date,
    event_id: uuid.UUID | None = None,
) -> Reaction:
    """End the person's entitlements to the services that read their data under their
    consent to ``agreement_id``, now that it is withdrawn (from ``on``), and tell them by
    letter. An entitlement the person declined or opted out of stays as they left it; one
    still waiting for consent keeps waiting. A consent given again brings the ended ones
    back to :func:`reconsider_after_consent`. Changes and emits as :func:`react`."""
    reaction = Reaction()
    wanted = str(agreement_id)
    rows = [
        row
        for row in active_entitlements_of(session, person_codes=[subject_code])
        if row.status != EntitlementStatus.AWAITING_CONSENT.value
    ]
    services = catalogue.get_catalogued_services(session, codes=[row.service_code for row in rows])
    for row in rows:
        service = services.get(row.service_code)
        # only a service whose lawful basis is consent names a data agreement
        if service is None or str(service.data_agreement_id) != wanted:
            continue
        change = set_status(
            session,
            row,
            status=EntitlementStatus.ENDED,
            reason=texts.ENDED_CONSENT_WITHDRAWN,
            actor=PROACTIVE_ACTOR,
            period_end=on,
            event_id=event_id,
            cause="consent-withdrawn",
        )
        change.service = service
        reaction.changes.append(change)
    reaction.letters = send_decision_letters(session, reaction.changes)
    if reaction.changes:
        log.info("entitlements ended after a consent withdrawal", changes=len(reaction.changes))
    return reaction
