"""Mandates: who may act for whom, and :func:`authorise`, the one check the portal and the
APIs make before acting for someone.

Three sources, each authoritative where it is kept:

- **parents for their minor children**: the population register's relations, read through
  the exchange when used (never copied here), until the day before the child's 18th birthday;
- **powers of attorney**: granted by a person in the portal and kept here
  (:mod:`joinedup.identity.service.attorney`);
- **business representatives**: the business register's representatives, read through the
  exchange, for as long as the representation lasts.

Registry reads go through the caller's :class:`~joinedup.exchange.ExchangeClient` (the portal's
subsystem, purpose ``mandate-check``), so each check leaves a data-usage record naming the
person who asked. The registries' services are found from the registry's owner, so nothing
here knows a member code.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Date, bindparam, or_, select
from sqlalchemy.orm import Session

from joinedup.core.db import transaction_memo
from joinedup.core.errors import Forbidden, NotFound, ValidationFailed
from joinedup.exchange import REGISTRY_SERVICES, ExchangeClient, LocalCallRefused
from joinedup.identity.models import PowerOfAttorney
from joinedup.identity.schemas import (
    DATA_CATEGORIES,
    EVERYTHING,
    ActingOption,
    Mandate,
    MandateKind,
    MandateOptions,
    PowerOfAttorneyRecord,
)
from joinedup.registries import is_valid_business_code, is_valid_personal_code, registry_owners

#: The purpose of every registry read made to establish a mandate.
MANDATE_PURPOSE = "mandate-check"
AGE_OF_MAJORITY = 18
_ACTION = re.compile(r"^(service|data):[a-z0-9][a-z0-9-]{0,63}$")

_FORBIDDEN = "You have no mandate to act for this person or business."


#: Where a transaction keeps the registers' owners it read (:func:`transaction_memo`).
_OWNERS_READ = "joinedup.identity.registry_owners"


def registry_service(session: Session, code: str) -> str:
    """``CLASS/MEMBER/SUBSYSTEM/SERVICE`` of the registry service ``code`` (its registry's
    owner publishes it). The owners are read once per transaction (a page, a batch of
    events): the acting-for page asks for three services, each check of a mandate for one or
    two, and looked up one at a time they cost more than the reads themselves. ``NotFound``
    when the registry has no owner registered."""
    owners = transaction_memo(session, _OWNERS_READ)
    if not owners:
        owners.update(registry_owners(session))
    registry = REGISTRY_SERVICES[code].registry
    if registry not in owners:
        raise NotFound(f"registry {registry} has no owner registered")
    member_class, member_code, subsystem = owners[registry]
    return f"{member_class}/{member_code}/{subsystem}/{code}"


def check_action(action: str) -> str:
    """``action`` if it is ``service:<code>`` or ``data:<category>`` (else ``ValueError``:
    a page asking for a malformed action is a programming error)."""
    if not _ACTION.match(action):
        raise ValueError(f"not an action: {action!r} (service:<code> or data:<category>)")
    if action.startswith("data:") and action[5:] not in DATA_CATEGORIES:
        raise ValueError(f"unknown data category in {action!r}")
    return action


def majority_day(birth: date) -> date:
    """The 18th birthday (29 February births come of age on 1 March)."""
    try:
        return birth.replace(year=birth.year + AGE_OF_MAJORITY)
    except ValueError:
        return date(birth.year + AGE_OF_MAJORITY, 3, 1)


def _name(item: dict[str, Any]) -> str:
    return " ".join(p for p in (item.get("givenNames"), item.get("familyName")) if p)


def _ask(calls: ExchangeClient, service: str, query: dict[str, str]) -> dict[str, Any] | None:
    """A registry answer, or None when the register does not know the subject."""
    try:
        return calls.call(service, purpose=MANDATE_PURPOSE, query=query).body
    except NotFound:
        return None


def person_facts(
    session: Session, calls: ExchangeClient, *, personal_code: str, on: date
) -> dict[str, Any] | None:
    """Name, birth date and death of a person, through the exchange (None: unknown)."""
    return _ask(
        calls,
        registry_service(session, "person"),
        {"personalCode": personal_code, "asOf": on.isoformat()},
    )


def children_in_care(
    session: Session, calls: ExchangeClient, *, actor_code: str, on: date
) -> list[Mandate]:
    """The actor's living children who are minors on ``on``, each a parent's mandate."""
    answer = _ask(
        calls,
        registry_service(session, "relations"),
        {"personalCode": actor_code, "asOf": on.isoformat()},
    )
    found = []
    for child in (answer or {}).get("children", []):
        birth = date.fromisoformat(child["birthDate"])
        majority = majority_day(birth)
        started = date.fromisoformat(child["validFrom"])
        ended = date.fromisoformat(child["validTo"]) if child.get("validTo") else None
        if not (started <= on < majority and (ended is None or on < ended)):
            continue
        facts = person_facts(session, calls, personal_code=child["personalCode"], on=on)
        if facts is None or facts.get("dateOfDeath"):
            continue
        last_day = majority - timedelta(days=1)
        if ended is not None:
            last_day = min(last_day, ended - timedelta(days=1))
        found.append(
            Mandate(
                kind=MandateKind.PARENT,
                actor_code=actor_code,
                subject_code=child["personalCode"],
                subject_name=_name(facts),
                subject_is_business=False,
                scope=frozenset({EVERYTHING}),
                valid_from=max(started, birth),
                valid_to=last_day,
                reference=child["personalCode"],
            )
        )
    return found


def businesses_represented(
    session: Session, calls: ExchangeClient, *, actor_code: str, on: date
) -> list[Mandate]:
    """The businesses the actor represents on ``on`` (business register), each a mandate."""
    answer = _ask(
        calls,
        registry_service(session, "representations"),
        {"personalCode": actor_code, "asOf": on.isoformat()},
    )
    found: dict[str, Mandate] = {}
    for item in (answer or {}).get("representations", []):
        code = item["registrationCode"]
        if code in found or item.get("deregisteredOn"):
            continue
        ended = date.fromisoformat(item["validTo"]) if item.get("validTo") else None
        found[code] = Mandate(
            kind=MandateKind.REPRESENTATIVE,
            actor_code=actor_code,
            subject_code=code,
            subject_name=item.get("businessName") or code,
            subject_is_business=True,
            scope=frozenset({EVERYTHING}),
            valid_from=date.fromisoformat(item["validFrom"]),
            valid_to=ended - timedelta(days=1) if ended else None,
            reference=code,
            role=item.get("role"),
        )
    return list(found.values())


def _valid_on(on: Any) -> Any:
    return (
        PowerOfAttorney.revoked_at.is_(None),
        PowerOfAttorney.valid_from <= on,
        or_(PowerOfAttorney.valid_to.is_(None), PowerOfAttorney.valid_to >= on),
    )


def _attorney_mandate(row: PowerOfAttorney) -> Mandate:
    record = PowerOfAttorneyRecord.model_validate(row)
    return Mandate(
        kind=MandateKind.POWER_OF_ATTORNEY,
        actor_code=row.grantee_code,
        subject_code=row.grantor_code,
        subject_name=row.grantor_name,
        subject_is_business=False,
        scope=record.scope,
        valid_from=row.valid_from,
        valid_to=row.valid_to,
        reference=row.reference,
    )


#: Built once (the acting-for page and every recheck of a mandate ask): the powers of
#: attorney a grantee holds on a day.
_POWERS_RECEIVED = (
    select(PowerOfAttorney)
    .where(
        PowerOfAttorney.grantee_code == bindparam("grantee_code"),
        *_valid_on(bindparam("on", type_=Date)),
    )
    .order_by(PowerOfAttorney.grantor_name, PowerOfAttorney.id)
)


def powers_received_on(session: Session, *, grantee_code: str, on: date) -> list[Mandate]:
    """The powers of attorney the grantee holds on ``on``, each a mandate."""
    rows = session.scalars(_POWERS_RECEIVED, {"grantee_code": grantee_code, "on": on})
    return [_attorney_mandate(row) for row in rows]


def self_mandate(actor_code: str, name: str = "") -> Mandate:
    return Mandate(
        kind=MandateKind.SELF,
        actor_code=actor_code,
        subject_code=actor_code,
        subject_name=name,
        subject_is_business=False,
        scope=frozenset({EVERYTHING}),
        valid_from=None,
        valid_to=None,
    )


def derived_mandate(
    session: Session, calls: ExchangeClient, *, actor_code: str, subject_code: str, on: date
) -> Mandate | None:
    """The actor's parent's or representative's mandate for ``subject_code`` on ``on``, read
    from the one register that keeps it (a business code: the business register's
    representatives; else the population register's children), or None. Raises the
    exchange's :class:`LocalCallRefused` when that register cannot be read for it."""
    derived = (
        businesses_represented(session, calls, actor_code=actor_code, on=on)
        if is_valid_business_code(subject_code) and len(subject_code) == 8
        else children_in_care(session, calls, actor_code=actor_code, on=on)
    )
    return next((m for m in derived if m.subject_code == subject_code), None)


def mandate_options(
    session: Session,
    calls: ExchangeClient,
    *,
    actor_code: str,
    actor_name: str,
    on: date,
    current: str | None = None,
) -> MandateOptions:
    """Everyone the actor may act for on ``on``: themselves, their minor children, the
    grantors of their valid powers of attorney, the businesses they represent. Reads the
    registries through ``calls``; writes nothing itself."""
    mandates = [self_mandate(actor_code, actor_name)]
    mandates += children_in_care(session, calls, actor_code=actor_code, on=on)
    for mandate in powers_received_on(session, grantee_code=actor_code, on=on):
        if all(m.subject_code != mandate.subject_code for m in mandates):
            mandates.append(mandate)  # a parent's mandate covers more than a power does
    mandates += businesses_represented(session, calls, actor_code=actor_code, on=on)
    chosen = current or actor_code
    return MandateOptions(
        options=[ActingOption(mandate=m, current=m.subject_code == chosen) for m in mandates]
    )


def authorise(
    session: Session,
    *,
    actor_code: str,
    subject_code: str,
    action: str,
    on: date,
    calls: ExchangeClient | None,
) -> Mandate:
    """The mandate on which ``actor_code`` may take ``action`` (``service:<code>`` or
    ``data:<category>``) for ``subject_code`` on ``on``; ``Forbidden`` otherwise.

    Acting for oneself always holds. A valid power of attorney is looked up here; a parent's
    or a representative's mandate is read from the registries through ``calls`` (required
    for them; with ``calls=None`` only oneself and powers of attorney are considered).
    Identifiers that are malformed, unknown or somebody else's all get the same refusal, so
    guessing identifiers reveals nothing. Reads only (the exchange records its reads)."""
    check_action(action)
    if subject_code == actor_code:
        return self_mandate(actor_code)
    if not (is_valid_personal_code(subject_code) or is_valid_business_code(subject_code)):
        raise Forbidden(_FORBIDDEN)
    out_of_scope = False
    for mandate in (
        _attorney_mandate(row)
        for row in session.scalars(
            select(PowerOfAttorney).where(
                PowerOfAttorney.grantee_code == actor_code,
                PowerOfAttorney.grantor_code == subject_code,
                *_valid_on(on),
            )
        )
    ):
        if mandate.covers(action):
            return mandate
        out_of_scope = True
    if calls is not None:
        try:
            derived = derived_mandate(
                session, calls, actor_code=actor_code, subject_code=subject_code, on=on
            )
        except LocalCallRefused as exc:
            raise Forbidden(_FORBIDDEN + " (The registers could not be asked.)") from exc
        if derived is not None and derived.covers(action):
            return derived
    if out_of_scope:
        raise Forbidden("Your power of attorney from this person does not cover this.")
    raise Forbidden(_FORBIDDEN)


def validate_scope(
    *, everything: bool, services: list[str], data_categories: list[str]
) -> list[dict[str, str]]:
    """The problems with a power of attorney's scope (empty when it is valid)."""
    problems = []
    if not everything and not services and not data_categories:
        problems.append(
            {"field": "scope", "message": "choose everything, or at least one service or data"}
        )
    for service in services:
        if not _ACTION.match(f"service:{service}"):
            problems.append({"field": "services", "message": "a service code is not valid"})
            break
    unknown = sorted(set(data_categories) - set(DATA_CATEGORIES))
    if unknown:
        problems.append({"field": "data_categories", "message": "unknown data category"})
    return problems


def ensure_person(
    session: Session, calls: ExchangeClient, *, personal_code: str, field: str, on: date
) -> dict[str, Any]:
    """The register's facts about a living person, or ``ValidationFailed`` on ``field``."""
    if not is_valid_personal_code(personal_code):
        raise ValidationFailed(
            f"{field} is not a valid personal code",
            errors=[{"field": field, "message": "is not a valid personal code"}],
        )
    facts = person_facts(session, calls, personal_code=personal_code, on=on)
    if facts is None:
        raise ValidationFailed(
            f"{field}: nobody has this personal code",
            errors=[{"field": field, "message": "nobody has this personal code"}],
        )
    if facts.get("dateOfDeath"):
        raise ValidationFailed(
            f"{field}: this person has died",
            errors=[{"field": field, "message": "this person has died"}],
        )
    return facts
