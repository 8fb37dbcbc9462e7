"""Powers of attorney: granted and revoked by the grantor, listed for both sides."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from joinedup.core.clock import today, utcnow
from joinedup.core.errors import Conflict, NotFound, ValidationFailed
from joinedup.core.events import emit
from joinedup.core.pagination import Page, PageRequest, keyset_page
from joinedup.exchange import ExchangeClient
from joinedup.identity.events import MandateGranted, MandateRevoked
from joinedup.identity.models import PowerOfAttorney
from joinedup.identity.schemas import MandateKind, PowerOfAttorneyRecord
from joinedup.identity.service.mandates import ensure_person, validate_scope

#: The longest a power of attorney may run (a longer one needs a notary, not the portal).
MAX_YEARS = 10
_NOT_YOURS = "You have no power of attorney with this reference."


def _name(facts: dict[str, object]) -> str:
    return " ".join(str(p) for p in (facts.get("givenNames"), facts.get("familyName")) if p)


@dataclass(frozen=True)
class PowerOfAttorneyDraft:
    """A power of attorney checked and ready to grant (the confirmation page shows it)."""

    grantor_code: str
    grantee_code: str
    grantee_name: str
    everything: bool
    services: list[str]
    data_categories: list[str]
    valid_from: date
    valid_to: date | None


def _years_after(day: date) -> date:
    """:data:`MAX_YEARS` years after ``day`` (the 28th at the latest; the calendar's last day
    when that is past its end)."""
    try:
        return date(day.year + MAX_YEARS, day.month, min(day.day, 28))
    except ValueError:
        return date.max


def review_power_of_attorney(
    session: Session,
    *,
    grantor_code: str,
    grantee_code: str,
    everything: bool,
    services: list[str],
    data_categories: list[str],
    valid_from: date,
    valid_to: date | None,
    calls: ExchangeClient,
) -> PowerOfAttorneyDraft:
    """Check a power of attorney without granting it.

    Refused (``ValidationFailed``, every problem named) when the grantee is the grantor,
    the scope is empty or unknown, the dates are not a period from today on of at most
    :data:`MAX_YEARS` years, or the grantee is not a living person in the population
    register (asked through ``calls``, which records the read). Writes nothing itself."""
    grantee_code = grantee_code.strip()
    problems = validate_scope(
        everything=everything, services=services, data_categories=data_categories
    )
    if grantee_code == grantor_code:
        problems.append(
            {"field": "grantee_code", "message": "you cannot give a power of attorney to yourself"}
        )
    now = today()
    if valid_from < now:
        problems.append({"field": "valid_from", "message": "must be today or later"})
    elif valid_from > _years_after(now):
        problems.append(
            {"field": "valid_from", "message": f"must be within {MAX_YEARS} years from today"}
        )
    if valid_to is not None and valid_to < valid_from:
        problems.append({"field": "valid_to", "message": "must not be before the start"})
    limit = _years_after(valid_from)
    if valid_to is not None and valid_to > limit:
        problems.append(
            {"field": "valid_to", "message": f"must be within {MAX_YEARS} years of the start"}
        )
    if problems:
        raise ValidationFailed("the power of attorney cannot be granted", errors=problems)
    facts = ensure_person(session, calls, personal_code=grantee_code, field="grantee_code", on=now)
    return PowerOfAttorneyDraft(
        grantor_code=grantor_code,
        grantee_code=grantee_code,
        grantee_name=_name(facts),
        everything=everything,
        services=[] if everything else sorted(set(services)),
        data_categories=[] if everything else sorted(set(data_categories)),
        valid_from=valid_from,
        valid_to=valid_to,
    )


def grant_power_of_attorney(
    session: Session,
    *,
    grantor_code: str,
    grantor_name: str,
    grantee_code: str,
    everything: bool,
    services: list[str],
    data_categories: list[str],
    valid_from: date,
    valid_to: date | None,
    calls: ExchangeClient,
    actor: str,
) -> PowerOfAttorneyRecord:
    """Let ``grantee_code`` act for ``grantor_code`` within the scope and dates given,
    after the checks of :func:`review_power_of_attorney`. Writes one row; emits
    ``mandate.granted.v1``."""
    draft = review_power_of_attorney(
        session,
        grantor_code=grantor_code,
        grantee_code=grantee_code,
        everything=everything,
        services=services,
        data_categories=data_categories,
        valid_from=valid_from,
        valid_to=valid_to,
        calls=calls,
    )
    row = PowerOfAttorney(
        reference=secrets.token_hex(12),
        grantor_code=grantor_code,
        grantee_code=draft.grantee_code,
        grantor_name=grantor_name[:300],
        grantee_name=draft.grantee_name[:300],
        everything=draft.everything,
        services=draft.services,
        data_categories=draft.data_categories,
        valid_from=draft.valid_from,
        valid_to=draft.valid_to,
        granted_at=utcnow(),
        granted_by=actor[:100],
        revoked_at=None,
        revoked_by=None,
    )
    session.add(row)
    session.flush()
    emit(
        session,
        MandateGranted(
            reference=row.reference,
            kind=str(MandateKind.POWER_OF_ATTORNEY),
            grantor_code=row.grantor_code,
            grantee_code=row.grantee_code,
            everything=row.everything,
            services=list(row.services),
            data_categories=list(row.data_categories),
            valid_from=row.valid_from,
            valid_to=row.valid_to,
        ),
    )
    return PowerOfAttorneyRecord.model_validate(row)


def _owned(session: Session, *, reference: str, person_code: str) -> PowerOfAttorney:
    """The power ``reference`` if ``person_code`` gave or holds it; ``NotFound`` otherwise
    (the same answer whether it does not exist or is somebody else's)."""
    if not reference or len(reference) > 32:
        raise NotFound(_NOT_YOURS)
    row = session.scalar(select(PowerOfAttorney).where(PowerOfAttorney.reference == reference))
    if row is None or person_code not in (row.grantor_code, row.grantee_code):
        raise NotFound(_NOT_YOURS)
    return row


def get_power_of_attorney(
    session: Session, *, reference: str, person_code: str
) -> PowerOfAttorneyRecord:
    """A power of attorney the person gave or holds (``NotFound`` for anyone else)."""
    return PowerOfAttorneyRecord.model_validate(
        _owned(session, reference=reference, person_code=person_code)
    )


def revoke_power_of_attorney(
    session: Session, *, reference: str, grantor_code: str, actor: str
) -> PowerOfAttorneyRecord:
    """Revoke a power of attorney the grantor gave (the grantee cannot; anyone else gets
    ``NotFound``); ``Conflict`` when it was revoked or has ended already. Emits
    ``mandate.revoked.v1``."""
    row = _owned(session, reference=reference, person_code=grantor_code)
    if row.grantor_code != grantor_code:
        raise NotFound(_NOT_YOURS)
    if row.revoked_at is not None:
        raise Conflict("This power of attorney was revoked already.")
    if row.valid_to is not None and row.valid_to < today():
        raise Conflict("This power of attorney has ended already.")
    session.execute(
        update(PowerOfAttorney)
        .where(PowerOfAttorney.id == row.id, PowerOfAttorney.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_by=actor[:100])
    )
    session.refresh(row)
    emit(
        session,
        MandateRevoked(
            reference=row.reference,
            kind=str(MandateKind.POWER_OF_ATTORNEY),
            grantor_code=row.grantor_code,
            grantee_code=row.grantee_code,
            revoked_by=actor[:100],
        ),
    )
    return PowerOfAttorneyRecord.model_validate(row)


def end_powers_of(session: Session, *, personal_code: str, reason: str) -> int:
    """End every power of attorney the person gave or holds that has not ended (a power of
    attorney ends with the death of either party). Emits ``mandate.revoked.v1`` for each;
    returns how many."""
    rows = session.scalars(
        select(PowerOfAttorney).where(
            (PowerOfAttorney.grantor_code == personal_code)
            | (PowerOfAttorney.grantee_code == personal_code),
            PowerOfAttorney.revoked_at.is_(None),
        )
    ).all()
    now = utcnow()
    for row in rows:
        if row.valid_to is not None and row.valid_to < now.date():
            continue
        row.revoked_at, row.revoked_by = now, reason[:100]
        emit(
            session,
            MandateRevoked(
                reference=row.reference,
                kind=str(MandateKind.POWER_OF_ATTORNEY),
                grantor_code=row.grantor_code,
                grantee_code=row.grantee_code,
                revoked_by=reason[:100],
            ),
        )
    session.flush()
    return len(rows)


def _page(
    session: Session, *, column: str, person_code: str, page: PageRequest
) -> Page[PowerOfAttorneyRecord]:
    statement = select(PowerOfAttorney).where(getattr(PowerOfAttorney, column) == person_code)
    rows, cursor = keyset_page(
        session, statement, keys=[PowerOfAttorney.id.expression], request=page, descending=True
    )
    return Page(items=[PowerOfAttorneyRecord.model_validate(r) for r in rows], next_cursor=cursor)


def powers_given(
    session: Session, *, grantor_code: str, page: PageRequest
) -> Page[PowerOfAttorneyRecord]:
    """The powers of attorney a person gave, newest first (keyset pages)."""
    return _page(session, column="grantor_code", person_code=grantor_code, page=page)


def powers_received(
    session: Session, *, grantee_code: str, page: PageRequest
) -> Page[PowerOfAttorneyRecord]:
    """The powers of attorney a person holds, newest first (keyset pages)."""
    return _page(session, column="grantee_code", person_code=grantee_code, page=page)
