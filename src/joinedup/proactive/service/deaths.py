"""At a death: the deceased's entitlements end, and a household benefit they held passes to
the surviving parents of the household their children live in (read through the service
owner's exchange client as the register has it from the next month)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy.orm import Session

from joinedup import catalogue, exchange, rules
from joinedup.catalogue import CatalogueService, LifeEvent
from joinedup.core.errors import NotFound
from joinedup.proactive.models import Entitlement
from joinedup.proactive.payees import HOLDING, is_household_benefit
from joinedup.proactive.schemas import PERSON_DECIDED, EntitlementStatus
from joinedup.proactive.service import texts
from joinedup.proactive.service.deciding import (
    first_of_next_month,
    for_household,
)
from joinedup.proactive.service.entitlements import (
    PROACTIVE_ACTOR,
    Change,
    Outcome,
    active_entitlements_of,
    entitlements_in,
    set_status,
    status_for,
)
from joinedup.proactive.service.gathering import ConsentMissing, Gatherer
from joinedup.proactive.service.households import Household, household_of


def end_at_death(
    session: Session, *, person_codes: dict[str, tuple[date, uuid.UUID | None]]
) -> list[Change]:
    """End every active entitlement of the deceased (``person_codes``: code → (date of death,
    event id)); no letter goes to the deceased (the next of kin hear through Tell Us Once)."""
    changes = []
    for row in active_entitlements_of(session, person_codes=list(person_codes)):
        died_on, event_id = person_codes[row.person_code]
        changes.append(
            set_status(
                session,
                row,
                status=EntitlementStatus.ENDED,
                reason=texts.ENDED_AT_DEATH,
                actor=PROACTIVE_ACTOR,
                period_end=died_on,
                event_id=event_id,
                cause=LifeEvent.DEATH.value,
            )
        )
    return changes


def _passes_on(row: Entitlement, status: EntitlementStatus) -> bool:
    """Whether a household benefit the deceased held in ``status`` passes to the survivors:
    anything held for the household (:data:`~joinedup.proactive.payees.HOLDING`) but a
    one-off grant already given (granted for an occasion: nothing is left to give)."""
    if status is EntitlementStatus.GRANTED:
        return row.occasion == ""
    return status in HOLDING


def _left_by(
    session: Session, ended: Sequence[Change], deaths: dict[str, tuple[date, uuid.UUID | None]]
) -> list[Entitlement]:
    """What the deceased held that may pass to the surviving parents: what their death ended
    (granted, offered, eligible, waiting for consent) and what they declined or opted out of
    (which stays as they left it). Their decline or opt-out was their choice for the
    household while they were its payee; it does not bind the survivors, who decide for
    themselves — as in the re-evaluation, where only living parents receive for a household
    and a dead holder binds nobody (:func:`~joinedup.proactive.payees.payee_mask`)."""
    rows = [
        change.entitlement
        for change in ended
        if change.previous_status is not None
        and _passes_on(change.entitlement, change.previous_status)
    ]
    rows += entitlements_in(session, person_codes=list(deaths), statuses=sorted(PERSON_DECIDED))
    return rows


@dataclass(frozen=True)
class PassedOn:
    """An outcome for a survivor, and the letter's note saying why it comes to them."""

    outcome: Outcome
    note: str


def _households_left(
    calls: exchange.ExchangeClient,
    *,
    purpose: str,
    deceased_ref: int,
    died_on: date,
    first_day: date,
) -> tuple[Gatherer, list[Household]]:
    """The households the deceased's children live in from the month after the death: those
    of the persons who lived with the deceased the day before it (the day of death ends
    their residence), as the register has them on the first day of the next month, with
    their roles on ``first_day``. Returns the gatherer that read them (it holds their facts)."""
    before = Gatherer(calls, purpose=purpose, on=died_on - timedelta(days=1))
    lived_with = household_of(before, deceased_ref, first_day=before.on)
    after = Gatherer(calls, purpose=purpose, on=first_of_next_month(died_on))
    found: list[Household] = []
    seen: set[str] = set()
    for code, ref in lived_with.refs.items():
        if ref == deceased_ref or code in seen:
            continue
        home = household_of(after, ref, first_day=first_day)
        seen.update(home.refs)
        if home.has_child_of(deceased_ref):
            found.append(home)
    return after, found


def to_surviving_parents(
    session: Session,
    ended: Sequence[Change],
    deaths: dict[str, tuple[date, uuid.UUID | None]],
    *,
    death_refs: dict[str, int],
) -> list[PassedOn]:
    """A household benefit whose payee died is decided again for the surviving parents of
    the household the deceased's children live in (:mod:`joinedup.proactive.payees`): a
    continuing one from the next month, a one-off offer for its own occasion (the survivor
    is offered it, and decides). The household is read as the population register has it
    from the next month (:func:`_households_left`), through the service owner's exchange
    client: a surviving parent who lives elsewhere is not one of its parents."""
    left = _left_by(session, ended, deaths)
    services = catalogue.get_catalogued_services(session, codes=[row.service_code for row in left])
    work: dict[tuple[str, str], list[tuple[Entitlement, CatalogueService]]] = {}
    for row in left:
        service = services.get(row.service_code)
        if (
            service is None
            or row.person_code not in death_refs
            or not is_household_benefit(rules.get_ruleset(service.ruleset), service.variable)
        ):
            continue
        work.setdefault((service.owner.client, service.purpose), []).append((row, service))
    passed: list[PassedOn] = []
    for (client, purpose), rows in work.items():
        with exchange.exchange_client(session, client=client) as calls:
            read: dict[tuple[str, date], tuple[Gatherer, list[Household]]] = {}
            for row, service in rows:
                deceased = row.person_code
                died_on, event_id = deaths[deceased]
                common: dict[str, Any] = (
                    {
                        "occasion": "",
                        "period_start": first_of_next_month(died_on),
                        "life_event": LifeEvent.DEATH.value,
                        "regarding_code": None,
                        "event_id": event_id,
                    }
                    if row.occasion == ""
                    else {  # a one-off: for its own occasion (the month of the birth)
                        "occasion": row.occasion,
                        "period_start": row.period_start,
                        "life_event": row.life_event,
                        "regarding_code": row.regarding_code,
                        "event_id": event_id,
                    }
                )
                first_day: date = common["period_start"]
                key = (deceased, first_day)
                if key not in read:
                    try:
                        read[key] = _households_left(
                            calls,
                            purpose=purpose,
                            deceased_ref=death_refs[deceased],
                            died_on=died_on,
                            first_day=first_day,
                        )
                    except (NotFound, ConsentMissing):
                        read[key] = (Gatherer(calls, purpose=purpose, on=died_on), [])
                after, homes = read[key]
                note = (
                    texts.PASSED_ON_OFFER
                    if status_for(service) is EntitlementStatus.OFFERED
                    else texts.PASSED_ON
                )
                for home in homes:
                    passed.extend(
                        PassedOn(outcome, note)
                        for outcome in for_household(
                            session,
                            after,
                            service,
                            home,
                            period=first_day.strftime("%Y-%m"),
                            common=common,
                            excluded=deaths,  # another death of the same batch
                        )
                    )
    return passed


def note_passed_on(changes: Sequence[Change], passed: Sequence[PassedOn]) -> None:
    """Give the letter of each change a survivor's outcome made the note saying why it comes
    to them (not when it ends: then the rules' reason says it all)."""
    notes = {
        (p.outcome.person_code, p.outcome.service.code, p.outcome.occasion): p.note for p in passed
    }
    for change in changes:
        row = change.entitlement
        note = notes.get((row.person_code, row.service_code, row.occasion))
        if note is not None and change.status is not EntitlementStatus.ENDED:
            change.extra["note"] = note
