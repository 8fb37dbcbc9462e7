"""Moving and correcting residence history (bitemporal: nothing is overwritten)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from joinedup.core.clock import today, utcnow
from joinedup.core.events import emit
from joinedup.registries.events import AddressChanged, ResidenceCorrected
from joinedup.registries.models import Address, Person, Residence
from joinedup.registries.schemas import ResidenceRecord
from joinedup.registries.service import bitemporal
from joinedup.registries.service.checks import Problems, check_not_future, check_order, dates
from joinedup.registries.service.queries import (
    load_person,
    municipality_code_of,
    residence_history,
    residence_of,
)


def _person_and_address(
    session: Session, problems: Problems, person_id: int, address_id: int | None
) -> Person | None:
    person = load_person(session, person_id)
    if person is None:
        problems.add("person_id", "is not a registered person")
    if address_id is not None and session.get(Address, address_id) is None:
        problems.add("address_id", "is not a registered address")
    return person


def change_address(
    session: Session, *, person_id: int, address_id: int, moved_on: date, actor: str
) -> ResidenceRecord:
    """Register that the person lives at ``address_id`` from ``moved_on`` on.

    Supersedes the open residence version and inserts the closed old period and the new one;
    emits ``population.address_changed.v1``. A move dated before the latest registered move is
    a correction of history: use :func:`correct_residence`.
    """
    problems = Problems()
    person = _person_and_address(session, problems, person_id, address_id)
    problems.raise_if_any()
    assert person is not None
    moved = dates([moved_on])
    check_not_future(problems, "moved_on", moved, today())
    check_order(problems, "moved_on", dates([person.birth_date]), moved, "is before the birth date")
    if person.date_of_death is not None:
        problems.add("person_id", "the person has died")
    latest = session.scalar(
        select(func.max(Residence.valid_from)).where(
            Residence.person_id == person_id, Residence.superseded_at.is_(None)
        )
    )
    if latest is not None and moved_on <= latest:
        problems.add(
            "moved_on",
            "is not after the latest registered move: to change history use correct_residence",
        )
    previous = residence_of(session, person_id=person_id, valid=moved_on, known=None)
    if previous is not None and previous.address.id == address_id:
        problems.add("address_id", "the person already lives at this address")
    problems.raise_if_any()
    _, new = bitemporal.replace_period(
        session,
        Residence,
        key={"person_id": person_id},
        valid_from=moved_on,
        valid_to=None,
        values={"address_id": address_id},
        now=utcnow(),
        actor=actor,
    )
    assert new is not None
    emit(
        session,
        AddressChanged(
            person_id=person_id,
            address_id=address_id,
            moved_on=moved_on,
            municipality_code=municipality_code_of(session, address_id) or "",
            previous_address_id=previous.address.id if previous else None,
            previous_municipality_code=previous.address.municipality_code if previous else None,
        ),
    )
    record = residence_of(session, person_id=person_id, valid=moved_on)
    assert record is not None
    return record


def correct_residence(
    session: Session,
    *,
    person_id: int,
    address_id: int | None,
    valid_from: date,
    valid_to: date | None,
    actor: str,
) -> list[ResidenceRecord]:
    """Correct the residence history: over ``[valid_from, valid_to)`` the person lived at
    ``address_id`` (None: had no registered residence). Periods outside stay as they were.

    The versions it replaces are superseded, not changed: queries with an earlier ``known``
    still see what the register believed then. Emits ``population.residence_corrected.v1``
    and returns the corrected history.
    """
    problems = Problems()
    person = _person_and_address(session, problems, person_id, address_id)
    problems.raise_if_any()
    assert person is not None
    start, end = dates([valid_from]), dates([valid_to])
    check_not_future(problems, "valid_from", start, today())
    check_order(problems, "valid_to", start, end, "must be after valid_from", strict=True)
    check_order(
        problems, "valid_from", dates([person.birth_date]), start, "is before the birth date"
    )
    if person.date_of_death is not None and address_id is not None:
        if valid_from >= person.date_of_death:
            problems.add("valid_from", "is on or after the person's death")
        elif valid_to is None or valid_to > person.date_of_death:
            problems.add("valid_to", "a residence ends at the latest on the date of death")
    problems.raise_if_any()
    bitemporal.replace_period(
        session,
        Residence,
        key={"person_id": person_id},
        valid_from=valid_from,
        valid_to=valid_to,
        values={"address_id": address_id} if address_id is not None else None,
        now=utcnow(),
        actor=actor,
    )
    emit(session, ResidenceCorrected(person_id=person_id, valid_from=valid_from, valid_to=valid_to))
    return residence_history(session, person_id=person_id)
