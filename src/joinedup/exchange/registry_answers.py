"""The answers of the registry services: each reads one base registry through the registries'
public queries and returns only the fields asked for, with the personal codes of every person
whose data the answer holds (the data subjects the exchange records usage for).

The registries import the exchange's member directory, so this module imports them inside
the functions: a module-level import would make the two packages' imports circular.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from joinedup.core.clock import today
from joinedup.core.errors import ValidationFailed

if TYPE_CHECKING:
    from joinedup.registries import AddressRecord, Known, RelationRecord

_MONTH = re.compile(r"^\d{4}-\d{2}$")
#: The longest range of months ``income-totals`` answers in one call.
MAX_MONTHS = 36
#: The most register references one ``population-extract`` call covers (the registries').
MAX_EXTRACT_RANGE = 200_000


@dataclass(frozen=True)
class Question:
    """A parsed request to a registry service."""

    subject: str  # the personal code (or a business's registration code)
    valid: date | None  # ``asOf``: the day the facts held (None: the service's default)
    known: Known  # ``knownOn``: as the register knew them then (None: now)
    query: Mapping[str, str]
    fields: Collection[str]


Answer = tuple[dict[str, Any], tuple[str, ...]]


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def address_json(address: AddressRecord | None) -> dict[str, Any] | None:
    if address is None:
        return None
    return {
        "oneLine": address.one_line(),
        "street": address.street,
        "houseNumber": address.house_number,
        "apartment": address.apartment,
        "postcode": address.postcode,
        "municipalityCode": address.municipality_code,
        "municipalityName": address.municipality_name,
    }


def _person_id(session: Session, code: str) -> int:
    from joinedup import registries

    return registries.find_person_id(session, personal_code=code)


def residence_municipality(session: Session, personal_code: str, on: date) -> str | None:
    """The code of the municipality the person lives in on ``on`` (None: no residence)."""
    from joinedup import registries

    residence = registries.residence_of(
        session, person_id=_person_id(session, personal_code), valid=on
    )
    return residence.address.municipality_code if residence else None


def person(session: Session, question: Question) -> Answer:
    from joinedup import registries

    record = registries.get_person(
        session,
        personal_code=question.subject,
        valid=question.valid,
        known=question.known,
        residence="residenceAddress" in question.fields,  # else not read
    )
    residence = record.residence
    values: dict[str, Any] = {
        "personalCode": record.personal_code,
        "givenNames": record.given_names,
        "familyName": record.family_name,
        "birthDate": record.birth_date.isoformat(),
        "birthPlace": record.birth_place,
        "sex": str(record.sex),
        "citizenship": record.citizenship,
        "residenceAddress": address_json(residence.address if residence else None),
        "dateOfDeath": _iso(record.date_of_death),
    }
    return {f: values[f] for f in question.fields}, (record.personal_code,)


def relation_side(relation: RelationRecord, subject_id: int) -> tuple[str, int]:
    """Seen from the person ``subject_id``: the group a relation puts the other person in
    (``children``, ``parents`` or ``partners``), and that person (a ``parent`` relation names
    the parent first)."""
    if relation.kind == "parent":
        group = "children" if relation.person_id == subject_id else "parents"
    else:
        group = "partners"
    other = relation.related_person_id if relation.person_id == subject_id else relation.person_id
    return group, other


def relative_item(
    group: str, relation: RelationRecord, ref: int, code: str, birth_date: date
) -> dict[str, Any]:
    """A relative as ``relations`` (and the bulk ``relatives``) answer one: with the
    relative's register reference (``personRef``), as the population register's events name
    them, so a subscriber can tell which later events concern a relative it read."""
    item: dict[str, Any] = {
        "personRef": ref,
        "personalCode": code,
        "birthDate": birth_date.isoformat(),
        "validFrom": relation.valid_from.isoformat(),
        "validTo": _iso(relation.valid_to),
    }
    if group == "partners":
        item["kind"] = str(relation.kind)
        item["endReason"] = relation.end_reason
    return item


def relations(session: Session, question: Question) -> Answer:
    from joinedup import registries

    subject_id = _person_id(session, question.subject)
    found = registries.relations_of(
        session, person_id=subject_id, valid=question.valid, known=question.known
    )
    wanted = set(question.fields)
    shown: list[tuple[str, int, RelationRecord]] = []  # (group, the other person, relation)
    for relation in found:
        group, other = relation_side(relation, subject_id)
        if group in wanted:
            shown.append((group, other, relation))
    # the relatives' codes and birth dates in one select (not a whole person each)
    codes = registries.codes_and_birth_dates(
        session, person_ids=[other for _, other, _ in shown], known=question.known
    )
    groups: dict[str, list[dict[str, Any]]] = {"parents": [], "children": [], "partners": []}
    subjects = [question.subject]
    for group, other, relation in shown:
        code, birth_date = codes[other]
        groups[group].append(relative_item(group, relation, other, code, birth_date))
        if code not in subjects:
            subjects.append(code)
    return {f: groups[f] for f in question.fields}, tuple(subjects)


def residence(session: Session, question: Question) -> Answer:
    from joinedup import registries

    found = registries.residence_of(
        session,
        person_id=_person_id(session, question.subject),
        valid=question.valid,
        known=question.known,
    )
    values: dict[str, Any] = {
        "address": address_json(found.address) if found else None,
        "municipalityCode": found.address.municipality_code if found else None,
        "residentSince": found.valid_from.isoformat() if found else None,
    }
    return {f: values[f] for f in question.fields}, (question.subject,)


def _month(text: str | None, name: str) -> tuple[int, int] | None:
    if text is None:
        return None
    if _MONTH.match(text) and 1 <= int(text[5:]) <= 12:
        return int(text[:4]), int(text[5:])
    raise ValidationFailed(
        f"{name} must be a month YYYY-MM", errors=[{"field": name, "message": "YYYY-MM"}]
    )


def _months(first: tuple[int, int], last: tuple[int, int]) -> list[str]:
    found = []
    year, month = first
    while (year, month) <= last:
        found.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return found


def month_range(query: Mapping[str, str]) -> list[str]:
    """The months (YYYY-MM) from ``from`` to ``to`` of an income query, both included: ``to``
    by default the previous month, ``from`` 12 months to ``to``; at most :data:`MAX_MONTHS`."""
    now = today()
    last = _month(query.get("to"), "to") or (
        (now.year - 1, 12) if now.month == 1 else (now.year, now.month - 1)
    )
    first = _month(query.get("from"), "from") or (
        (last[0] - 1, last[1] + 1) if last[1] < 12 else (last[0], 1)
    )
    months = _months(first, last)
    if not months or len(months) > MAX_MONTHS:
        raise ValidationFailed(
            f"from must not be after to, and the range at most {MAX_MONTHS} months",
            errors=[{"field": "from", "message": f"1 to {MAX_MONTHS} months up to to"}],
        )
    return months


def income_values(months: list[str], summed: Mapping[str, int]) -> dict[str, Any]:
    """Every field of an income answer: the total of each month of ``months`` (0 where
    ``summed`` has none), and of them all."""
    from joinedup import registries

    totals = {month: summed.get(month, 0) for month in months}
    currency = registries.CURRENCY
    return {
        "monthlyTotals": [
            {"month": m, "amount": amount, "currency": currency} for m, amount in totals.items()
        ],
        "total": {"amount": sum(totals.values()), "currency": currency},
    }


def income_totals(session: Session, question: Question) -> Answer:
    """Monthly totals over every employer, never the amounts per employer."""
    from joinedup import registries

    months = month_range(question.query)
    summed = registries.monthly_income_totals(
        session,
        person_id=_person_id(session, question.subject),
        from_period=months[0],
        to_period=months[-1],
        known=question.known,
    )
    values = income_values(months, summed)
    return {f: values[f] for f in question.fields}, (question.subject,)


def employment(session: Session, question: Question) -> Answer:
    from joinedup import registries

    found = registries.employments_of(
        session,
        person_id=_person_id(session, question.subject),
        valid=question.valid,
        known=question.known,
    )
    employers = registries.business_names(session, (job.business_id for job in found))
    items = []
    for job in found:
        employer = employers[job.business_id]
        values = {
            "employerCode": employer.registration_code,
            "employerName": employer.name,
            "startDate": job.valid_from.isoformat(),
            "endDate": _iso(job.valid_to),
        }
        items.append({f: values[f] for f in question.fields})
    return {"employments": items}, (question.subject,)


def payment_account(session: Session, question: Question) -> Answer:
    from joinedup import registries

    found = registries.payment_account_of(
        session,
        person_id=_person_id(session, question.subject),
        valid=question.valid,
        known=question.known,
    )
    values: dict[str, Any] = {
        "iban": found.iban if found else None,
        "validFrom": found.valid_from.isoformat() if found else None,
    }
    return {f: values[f] for f in question.fields}, (question.subject,)


def business(session: Session, question: Question) -> Answer:
    """A business and (when asked) its representatives: the persons among them are the data
    subjects; a business itself is not one."""
    from joinedup import registries

    record = registries.get_business(session, registration_code=question.subject)
    wanted = set(question.fields)
    values: dict[str, Any] = {
        "registrationCode": record.registration_code,
        "name": record.name,
        "legalForm": str(record.legal_form),
        "registeredOn": record.registered_on.isoformat(),
        "deregisteredOn": _iso(record.deregistered_on),
    }
    if "address" in wanted:
        values["address"] = (
            address_json(registries.get_address(session, address_id=record.address_id))
            if record.address_id
            else None
        )
    subjects: list[str] = []
    if "representatives" in wanted:
        representatives = []
        found = registries.representatives_of(
            session, business_id=record.id, valid=question.valid, known=question.known
        )
        codes = registries.codes_and_birth_dates(
            session, person_ids=[item.person_id for item in found], known=question.known
        )
        for item in found:
            code, _ = codes[item.person_id]
            representatives.append(
                {
                    "personalCode": code,
                    "role": str(item.role),
                    "validFrom": item.valid_from.isoformat(),
                    "validTo": _iso(item.valid_to),
                }
            )
            if code not in subjects:
                subjects.append(code)
        values["representatives"] = representatives
    return {f: values[f] for f in question.fields}, tuple(subjects)


def representations(session: Session, question: Question) -> Answer:
    """The businesses a person represents (roles in the business register), each with its
    name; the person is the only data subject."""
    from joinedup import registries

    found = registries.representations_of(
        session,
        person_id=_person_id(session, question.subject),
        valid=question.valid,
        known=question.known,
    )
    items = []
    businesses = registries.business_names(session, (item.business_id for item in found))
    for item in found:
        business = businesses[item.business_id]
        values = {
            "registrationCode": business.registration_code,
            "businessName": business.name,
            "role": str(item.role),
            "validFrom": item.valid_from.isoformat(),
            "validTo": _iso(item.valid_to),
            "deregisteredOn": _iso(business.deregistered_on),
        }
        items.append({f: values[f] for f in question.fields})
    return {"representations": items}, (question.subject,)


ANSWERS: dict[str, Callable[[Session, Question], Answer]] = {
    "person": person,
    "relations": relations,
    "residence": residence,
    "income-totals": income_totals,
    "employment": employment,
    "payment-account": payment_account,
    "business": business,
    "representations": representations,
}
