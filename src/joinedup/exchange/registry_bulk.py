"""The registry services that answer about many persons in one call, and the parsing of the
registry services' query parameters.

- ``population-extract``: the persons of a range of register references (``fromRef``,
  ``toRef``: a whole population, chunk by chunk, when a law changes) or of chosen references
  (``personRefs``: the households of a batch of life events), and everyone living with them,
  as columns;
- ``person-codes``: the personal codes of chosen register references (``personRefs``), for
  a subscriber resolving whom a batch of the registers' events concerns (the events carry
  references, never personal codes);
- ``relatives``: the parents and children of chosen register references, as ``relations``
  answers them one by one;
- ``incomes``: the monthly income totals of chosen register references over a range of
  months, as ``income-totals`` answers them one by one (the incomes a batch of life events'
  decisions asked for).

Every person in an answer is a data subject of the call (one data-usage record each); a
reference that names nobody is left out. Neither is answered under a right limited to a
municipality's residents or resting on consent, which are decided person by person
(:func:`~joinedup.exchange.registry_services.call_registry_service`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from joinedup.core.clock import today
from joinedup.core.errors import ValidationFailed
from joinedup.exchange.registry_answers import (
    MAX_EXTRACT_RANGE,
    Answer,
    income_values,
    month_range,
    relation_side,
    relative_item,
)

if TYPE_CHECKING:
    from joinedup.registries import PopulationExtract

EXTRACT = "population-extract"
PERSON_CODES = "person-codes"
RELATIVES = "relatives"
INCOMES = "incomes"
#: The parameter naming chosen register references (comma-separated).
PERSON_REFS = "personRefs"
#: The most register references one call names in ``personRefs``.
MAX_REFERENCES = 1_000


def invalid_parameter(name: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{name} {message}", errors=[{"field": name, "message": message}])


def date_parameter(query: Mapping[str, str], name: str) -> date | None:
    text = query.get(name)
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise invalid_parameter(name, "must be a date YYYY-MM-DD") from None


def known_parameter(query: Mapping[str, str]) -> date | datetime | None:
    text = query.get("knownOn")
    if text is None:
        return None
    if "T" not in text:
        return date_parameter(query, "knownOn")
    try:
        instant = datetime.fromisoformat(text)
    except ValueError:
        raise invalid_parameter("knownOn", "must be a date or an ISO 8601 instant") from None
    if instant.tzinfo is None:
        raise invalid_parameter("knownOn", "must name its time zone (e.g. 2025-04-01T12:00:00Z)")
    return instant


def _is_reference(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= 18


def reference_parameter(query: Mapping[str, str], name: str) -> int:
    text = (query.get(name) or "").strip()
    if not text:
        raise invalid_parameter(name, "is required")
    if not _is_reference(text):
        raise invalid_parameter(name, "is not a register reference")
    return int(text)


def references_parameter(query: Mapping[str, str], name: str = PERSON_REFS) -> list[int]:
    """Comma-separated register references, each once, in the order given (1 to
    :data:`MAX_REFERENCES`)."""
    items = [item.strip() for item in (query.get(name) or "").split(",")]
    if items == [""]:
        raise invalid_parameter(name, "is required")
    if any(not _is_reference(item) for item in items):
        raise invalid_parameter(name, "must be register references separated by commas")
    found = list(dict.fromkeys(int(item) for item in items))
    if len(found) > MAX_REFERENCES:
        raise invalid_parameter(name, f"must name at most {MAX_REFERENCES} references")
    return found


def bulk_answer(
    session: Session, *, code: str, query: Mapping[str, str], fields: Collection[str]
) -> Answer:
    """The answer of the bulk service ``code`` (with the authorised ``fields``) and its data
    subjects. Bad parameters raise ``ValidationFailed``."""
    if code == PERSON_CODES:
        return _person_codes(session, references_parameter(query), fields)
    if code == INCOMES:
        return _incomes(session, references_parameter(query), fields, months=month_range(query))
    on = date_parameter(query, "asOf") or today()
    if code == RELATIVES:
        refs = references_parameter(query)
        return _relatives(session, refs, fields, on=on, known=known_parameter(query))
    if PERSON_REFS in query:
        if "fromRef" in query or "toRef" in query:
            raise invalid_parameter(PERSON_REFS, "is instead of fromRef and toRef, not with them")
        return _extract(session, fields, on, refs=references_parameter(query))
    first = reference_parameter(query, "fromRef")
    end = reference_parameter(query, "toRef")
    if end <= first:
        raise invalid_parameter("toRef", "must be greater than fromRef")
    if end - first > MAX_EXTRACT_RANGE:
        raise invalid_parameter("toRef", f"must be at most {MAX_EXTRACT_RANGE} after fromRef")
    return _extract(session, fields, on, first=first, end=end)


def _person_codes(session: Session, refs: list[int], fields: Collection[str]) -> Answer:
    from joinedup import registries

    codes = registries.personal_codes_of(session, person_ids=refs)
    persons = [
        {
            name: value
            for name, value in (("personRef", ref), ("personalCode", codes[ref]))
            if name in fields
        }
        for ref in refs
        if ref in codes
    ]
    return {"persons": persons}, tuple(codes[ref] for ref in refs if ref in codes)


def _incomes(
    session: Session, refs: list[int], fields: Collection[str], *, months: list[str]
) -> Answer:
    """Each named person's income per month of ``months`` summed over every employer (as
    ``income-totals`` answers it, the register as it knows it now), the persons not known
    left out; every person in the answer is a data subject."""
    from joinedup import registries

    codes = registries.personal_codes_of(session, person_ids=refs)
    found = [ref for ref in refs if ref in codes]
    summed = registries.monthly_income_totals_of_many(
        session, person_ids=found, from_period=months[0], to_period=months[-1]
    )
    persons: list[dict[str, Any]] = []
    for ref in found:
        item = {
            "personRef": ref,
            "personalCode": codes[ref],
            **income_values(months, summed.get(ref, {})),
        }
        persons.append({name: value for name, value in item.items() if name in fields})
    return {"persons": persons}, tuple(codes[ref] for ref in found)


def _relatives(
    session: Session,
    refs: list[int],
    fields: Collection[str],
    *,
    on: date,
    known: date | datetime | None,
) -> Answer:
    """Each named person's parents and children on ``on`` (as the single ``relations``
    service answers them: personal code, birth date and the relation's dates), the persons
    not known left out; every person in the answer is a data subject."""
    from joinedup import registries

    codes = registries.personal_codes_of(session, person_ids=refs)
    found = [ref for ref in refs if ref in codes]
    parent = registries.RelationKind.PARENT
    relations = {
        ref: [relation for relation in related if relation.kind is parent]
        for ref, related in registries.relations_of_many(
            session, person_ids=found, valid=on, known=known
        ).items()
    }
    others = sorted({relation_side(r, ref)[1] for ref in found for r in relations[ref]})
    dated = registries.codes_and_birth_dates(session, person_ids=others, known=known)
    persons: list[dict[str, Any]] = []
    subjects = dict.fromkeys(codes[ref] for ref in found)
    for ref in found:
        groups: dict[str, list[dict[str, Any]]] = {"parents": [], "children": []}
        for relation in relations[ref]:
            group, other = relation_side(relation, ref)
            code, birth_date = dated[other]
            groups[group].append(relative_item(group, relation, other, code, birth_date))
            subjects[code] = None
        item: dict[str, Any] = {"personRef": ref, "personalCode": codes[ref], **groups}
        persons.append({name: value for name, value in item.items() if name in fields})
    return {"persons": persons}, tuple(subjects)


def _extract(
    session: Session,
    fields: Collection[str],
    on: date,
    *,
    refs: list[int] | None = None,
    first: int = 0,
    end: int = 0,
) -> Answer:
    """The extract as columns (the fields asked for), with every person as a data subject.
    ``inRange`` marks the persons asked for (the others are co-residents)."""
    from joinedup import registries

    found = (
        registries.population_extract_of(session, person_refs=refs, on=on)
        if refs is not None
        else registries.population_extract(session, first_ref=first, end_ref=end, on=on)
    )
    return extract_answer(found, fields), tuple(found.personal_code)


def extract_answer(
    found: PopulationExtract, fields: Collection[str] | None = None
) -> dict[str, Any]:
    """A registries extract as the ``population-extract`` service answers it: ``count``,
    ``inRange`` and the ``columns`` of ``fields`` (None: all)."""
    columns: dict[str, Any] = {
        "personRef": found.person_ref,
        "personalCode": found.personal_code,
        "birthDate": found.birth_date,
        "dateOfDeath": found.date_of_death,
        "householdRef": found.address_ref,
        "parentRefs": found.parent_refs,
    }
    return {
        "count": len(found),
        "inRange": found.in_range,
        "columns": {
            name: values for name, values in columns.items() if fields is None or name in fields
        },
    }


__all__ = [
    "EXTRACT",
    "INCOMES",
    "MAX_REFERENCES",
    "PERSON_CODES",
    "PERSON_REFS",
    "RELATIVES",
    "bulk_answer",
    "date_parameter",
    "extract_answer",
    "invalid_parameter",
    "known_parameter",
    "reference_parameter",
    "references_parameter",
]
