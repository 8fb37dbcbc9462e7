"""The population register's write services: the civil-registration entry points.

A registrar's system (OpenCRVS, or any civil-registration system) records a birth, a death, a
marriage or a move by calling the population register's services through the exchange, like
any X-Road service: ``POST /r1/{instance}/GOV/<register>/population/record-birth`` with a JSON
body, under an access right for the purpose ``civil-registration``. Each service declares its
body (a Pydantic model, camelCase), the fields of its answer (what access rights restrict) and
the registries' use case it runs (:func:`joinedup.registries.register_birth`, …), which
validates everything before it writes anything.

Bodies name persons by their personal codes; the answer names what was registered by the
register's references (``personRef``, ``relationId``, …) and, for a birth, the personal code
the register issued. Every refusal names the body's field (``parents[1]``, ``birthDate``), never
the value. The idempotency on ``reference`` and the transaction are
:mod:`joinedup.exchange.write_services`' concern.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from pydantic.alias_generators import to_camel
from sqlalchemy.orm import Session

from joinedup.core.errors import DomainError, ValidationFailed
from joinedup.exchange.registry_write_bodies import (
    AddressIn,
    BirthIn,
    DeathIn,
    MarriageIn,
    MoveIn,
    WriteBody,
)

#: The purpose the demo's registrar calls these services for.
CIVIL_REGISTRATION = "civil-registration"


@dataclass(frozen=True)
class WriteOutcome:
    """What a write service registered: its answer fields and the persons it changed."""

    answer: dict[str, Any]
    subjects: tuple[str, ...]


@dataclass(frozen=True)
class WriteService:
    """One write service of a registry: its body, its answer fields, what it runs."""

    code: str
    registry: str
    title: str
    description: str
    body: type[WriteBody]
    fields: dict[str, dict[str, Any]]  # answer field → JSON schema (``reference`` and the id too)
    run: Callable[[Session, Any, str], WriteOutcome]
    #: Runs many calls' bodies (body, actor) at once; one outcome or refusal per body, in
    #: order. Services without it run their bodies one at a time inside a group.
    run_many: (
        Callable[[Session, Sequence[tuple[Any, str]]], list[WriteOutcome | DomainError]] | None
    ) = None

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(self.fields)


# --- helpers ---------------------------------------------------------------------------------


def _problems(items: Sequence[Mapping[str, str]]) -> ValidationFailed:
    errors = [dict(item) for item in items]
    return ValidationFailed(
        "; ".join(f"{e['field']}: {e['message']}" for e in errors), errors=errors
    )


@contextmanager
def _named(fields: Mapping[str, str]) -> Iterator[None]:
    """Re-raise the registries' refusals naming the body's fields (``parent_ids`` →
    ``parents``; others in camelCase)."""
    try:
        yield
    except ValidationFailed as exc:
        raise _renamed(exc, fields) from exc


def _renamed(refusal: ValidationFailed, fields: Mapping[str, str]) -> ValidationFailed:
    items = [
        {
            "field": fields.get(str(item.get("field")), to_camel(str(item.get("field")))),
            "message": str(item.get("message")),
        }
        for item in refusal.extensions.get("errors", [])
    ]
    return _problems(items) if items else refusal


def _person_ids(session: Session, codes: Sequence[str], field: str) -> list[int]:
    """The register references of the persons with ``codes``; every unknown or malformed code
    is named (``field[i]``) in one refusal."""
    from joinedup import registries

    problems: list[dict[str, str]] = []
    valid = [code for code in codes if registries.is_valid_personal_code(code)]
    known = registries.person_ids_of(session, personal_codes=valid)
    for i, code in enumerate(codes):
        where = f"{field}[{i}]" if len(codes) > 1 or field.endswith("s") else field
        if code not in valid:
            problems.append({"field": where, "message": "is not a valid personal code"})
        elif code not in known:
            problems.append({"field": where, "message": "no person has this personal code"})
    if problems:
        raise _problems(problems)
    return [known[code] for code in codes]


# --- the four services -----------------------------------------------------------------------


def _record_birth(session: Session, body: BirthIn, actor: str) -> WriteOutcome:
    from joinedup import registries

    parent_ids = _person_ids(session, body.parents, "parents")
    with _named(_BIRTH_FIELDS):
        child = registries.register_birth(
            session,
            given_names=body.given_names,
            family_name=body.family_name,
            birth_date=body.birth_date,
            sex=body.sex,
            birth_place=body.birth_place,
            citizenship=body.citizenship,
            parent_ids=parent_ids,
            actor=actor,
        )
    residence = child.residence
    return WriteOutcome(
        answer={
            "personalCode": child.personal_code,
            "personRef": str(child.id),
            "parentRefs": [str(i) for i in parent_ids],
            "municipalityCode": residence.address.municipality_code if residence else None,
        },
        subjects=(child.personal_code, *body.parents),
    )


_BIRTH_FIELDS = {"parent_ids": "parents", "personal_code": "birthDate"}


def _record_births(
    session: Session, bodies: Sequence[tuple[BirthIn, str]]
) -> list[WriteOutcome | DomainError]:
    """Many births in one go (:func:`joinedup.registries.register_births`); a body naming an
    unknown or malformed parent is refused as :func:`_record_birth` refuses it."""
    from joinedup import registries

    codes = {code for body, _ in bodies for code in body.parents}
    known = registries.person_ids_of(
        session, personal_codes=[c for c in codes if registries.is_valid_personal_code(c)]
    )
    results: list[WriteOutcome | DomainError | None] = [None] * len(bodies)
    grouped: list[int] = []
    for index, (body, actor) in enumerate(bodies):
        if all(code in known for code in body.parents):
            grouped.append(index)
            continue
        try:  # refused for its parents' codes, naming each one
            with session.begin_nested():
                results[index] = _record_birth(session, body, actor)
        except DomainError as refusal:
            results[index] = refusal
    registered = registries.register_births(
        session,
        births=[
            registries.BirthRegistration(
                given_names=body.given_names,
                family_name=body.family_name,
                birth_date=body.birth_date,
                sex=body.sex,
                birth_place=body.birth_place,
                citizenship=body.citizenship,
                parent_ids=tuple(known[code] for code in body.parents),
                actor=actor,
            )
            for body, actor in (bodies[i] for i in grouped)
        ],
    )
    for index, outcome in zip(grouped, registered, strict=True):
        body = bodies[index][0]
        if isinstance(outcome, ValidationFailed):
            results[index] = _renamed(outcome, _BIRTH_FIELDS)
            continue
        results[index] = WriteOutcome(
            answer={
                "personalCode": outcome.personal_code,
                "personRef": str(outcome.person_id),
                "parentRefs": [str(i) for i in outcome.parent_ids],
                "municipalityCode": outcome.municipality_code,
            },
            subjects=(outcome.personal_code, *body.parents),
        )
    return [result for result in results if result is not None]


def _record_death(session: Session, body: DeathIn, actor: str) -> WriteOutcome:
    from joinedup import registries

    (person_id,) = _person_ids(session, [body.personal_code], "personalCode")
    with _named({"person_id": "personalCode"}):
        registries.register_death(
            session, person_id=person_id, date_of_death=body.date_of_death, actor=actor
        )
    return WriteOutcome(
        answer={"personRef": str(person_id), "dateOfDeath": body.date_of_death.isoformat()},
        subjects=(body.personal_code,),
    )


def _record_deaths(
    session: Session, bodies: Sequence[tuple[DeathIn, str]]
) -> list[WriteOutcome | DomainError]:
    """Many deaths in one go (:func:`joinedup.registries.register_deaths`); a body naming
    an unknown or malformed personal code is refused as :func:`_record_death` refuses it."""
    from joinedup import registries

    codes = [body.personal_code for body, _ in bodies]
    known = registries.person_ids_of(
        session, personal_codes=[c for c in codes if registries.is_valid_personal_code(c)]
    )
    results: list[WriteOutcome | DomainError | None] = [None] * len(bodies)
    grouped: list[int] = []
    for index, (body, actor) in enumerate(bodies):
        if body.personal_code in known:
            grouped.append(index)
            continue
        try:
            with session.begin_nested():
                results[index] = _record_death(session, body, actor)
        except DomainError as refusal:
            results[index] = refusal
    registered = registries.register_deaths(
        session,
        deaths=[
            registries.DeathRegistration(
                person_id=known[body.personal_code],
                date_of_death=body.date_of_death,
                actor=actor,
            )
            for body, actor in (bodies[i] for i in grouped)
        ],
    )
    for index, outcome in zip(grouped, registered, strict=True):
        body = bodies[index][0]
        if isinstance(outcome, ValidationFailed):
            results[index] = _renamed(outcome, {"person_id": "personalCode"})
            continue
        results[index] = WriteOutcome(
            answer={
                "personRef": str(outcome.person_id),
                "dateOfDeath": outcome.date_of_death.isoformat(),
            },
            subjects=(body.personal_code,),
        )
    return [result for result in results if result is not None]


def _record_marriage(session: Session, body: MarriageIn, actor: str) -> WriteOutcome:
    from joinedup import registries

    first, second = _person_ids(session, body.spouses, "spouses")
    kind = (
        registries.UnionKind.MARRIAGE
        if body.kind == "marriage"
        else registries.UnionKind.REGISTERED_PARTNERSHIP
    )
    fields = {
        "person_id": "spouses[0]",
        "spouse_id": "spouses[1]",
        "married_on": "marriedOn",
        "valid_from": "marriedOn",
        "valid_to": "spouses",  # an open union with someone who has died
    }
    with _named(fields):
        relation = registries.register_marriage(
            session,
            person_id=first,
            spouse_id=second,
            married_on=body.married_on,
            kind=kind,
            actor=actor,
        )
    return WriteOutcome(
        answer={
            "relationId": str(relation.id),
            "personRefs": [str(first), str(second)],
            "kind": body.kind,
        },
        subjects=tuple(body.spouses),
    )


def _address_id(session: Session, address: AddressIn, actor: str) -> int:
    """A registered address with these details: found, or registered now."""
    from joinedup import registries

    found = registries.find_address(
        session,
        municipality_code=address.municipality_code,
        street=address.street,
        house_number=address.house_number,
        postcode=address.postcode,
        apartment=address.apartment,
    )
    if found is not None:
        return found.id
    fields = {
        "municipality_code": "address.municipalityCode",
        "street": "address.street",
        "house_number": "address.houseNumber",
        "apartment": "address.apartment",
        "postcode": "address.postcode",
    }
    with _named(fields):
        return registries.register_address(
            session,
            municipality_code=address.municipality_code,
            street=address.street,
            house_number=address.house_number,
            postcode=address.postcode,
            apartment=address.apartment,
            actor=actor,
        ).id


def _record_move(session: Session, body: MoveIn, actor: str) -> WriteOutcome:
    from joinedup import registries

    (person_id,) = _person_ids(session, [body.personal_code], "personalCode")
    if body.address is not None:
        address_id = _address_id(session, body.address, actor)
        address_field = "address"
    else:
        assert body.address_id is not None
        address_id = body.address_id
        address_field = "addressId"
    fields = {"person_id": "personalCode", "address_id": address_field, "moved_on": "movedOn"}
    with _named(fields):
        residence = registries.change_address(
            session, person_id=person_id, address_id=address_id, moved_on=body.moved_on, actor=actor
        )
    return WriteOutcome(
        answer={
            "personRef": str(person_id),
            "residenceId": str(residence.id),
            "addressId": str(residence.address.id),
            "municipalityCode": residence.address.municipality_code,
        },
        subjects=(body.personal_code,),
    )


_TEXT: dict[str, Any] = {"type": "string"}
_NULLABLE_TEXT: dict[str, Any] = {"type": "string", "nullable": True}
_TEXTS: dict[str, Any] = {"type": "array", "items": _TEXT}
_COMMON: dict[str, dict[str, Any]] = {
    "reference": {**_TEXT, "description": "The registrar's reference, as sent."},
    "registrationId": {**_TEXT, "format": "uuid", "description": "The exchange's id of it."},
}

WRITE_SERVICES: dict[str, WriteService] = {
    s.code: s
    for s in (
        WriteService(
            "record-birth",
            "population",
            "Record a birth",
            "Register a child born here to one or two registered parents (the first gave "
            "birth; the child lives at that parent's address). The register issues the "
            "child's personal code.",
            BirthIn,
            {
                **_COMMON,
                "personalCode": _TEXT,
                "personRef": _TEXT,
                "parentRefs": _TEXTS,
                "municipalityCode": _NULLABLE_TEXT,
            },
            _record_birth,
            run_many=_record_births,
        ),
        WriteService(
            "record-death",
            "population",
            "Record a death",
            "Register a person's death; their residence and marriage or partnership end on "
            "that date.",
            DeathIn,
            {**_COMMON, "personRef": _TEXT, "dateOfDeath": {**_TEXT, "format": "date"}},
            _record_death,
            run_many=_record_deaths,
        ),
        WriteService(
            "record-marriage",
            "population",
            "Record a marriage",
            "Register a marriage or a registered partnership between two registered adults.",
            MarriageIn,
            {**_COMMON, "relationId": _TEXT, "personRefs": _TEXTS, "kind": _TEXT},
            _record_marriage,
        ),
        WriteService(
            "record-move",
            "population",
            "Record a move",
            "Register that a person lives at an address from a day on (an address given by "
            "its details is registered when the register has no such address).",
            MoveIn,
            {
                **_COMMON,
                "personRef": _TEXT,
                "residenceId": _TEXT,
                "addressId": _TEXT,
                "municipalityCode": _TEXT,
            },
            _record_move,
        ),
    )
}
