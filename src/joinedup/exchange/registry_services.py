"""The base registries' queries, published as exchange services of the registry owner's
subsystem, and run in-process by the mediation path (:func:`call_registry_service`).

Each service declares the fields it can return (what access rights are restricted to), its
data-subject parameter, its other query parameters, and the JSON schema of each field; its
OpenAPI document (``getOpenAPI``) is built from that declaration. Every person service takes
``personalCode`` and the bitemporal ``asOf`` (the day the facts held) and ``knownOn`` (as the
register knew them then) parameters. Query parameters a service does not declare are
ignored (the mediation layer may add its own).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from joinedup import consent
from joinedup.core.clock import today
from joinedup.core.errors import DomainError, NotFound
from joinedup.exchange.access import (
    AccessDenied,
    Authorization,
    ProviderResponse,
    ServiceDescriptor,
)
from joinedup.exchange.registry_answers import (
    ANSWERS,
    MAX_EXTRACT_RANGE,
    Question,
    residence_municipality,
)
from joinedup.exchange.registry_bulk import (
    EXTRACT,
    INCOMES,
    MAX_REFERENCES,
    PERSON_CODES,
    PERSON_REFS,
    RELATIVES,
    bulk_answer,
    date_parameter,
    invalid_parameter,
    known_parameter,
)

_TEXT: dict[str, Any] = {"type": "string"}
_NULLABLE_TEXT: dict[str, Any] = {"type": "string", "nullable": True}
_DATE: dict[str, Any] = {"type": "string", "format": "date"}
_NULLABLE_DATE: dict[str, Any] = {"type": "string", "format": "date", "nullable": True}
_ADDRESS: dict[str, Any] = {
    "type": "object",
    "nullable": True,
    "properties": {
        "oneLine": _TEXT,
        "street": _TEXT,
        "houseNumber": _TEXT,
        "apartment": _NULLABLE_TEXT,
        "postcode": _TEXT,
        "municipalityCode": _TEXT,
        "municipalityName": _TEXT,
    },
}
_RELATIVE: dict[str, Any] = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {
            "personRef": {
                "type": "integer",
                "description": "The relative's register reference (as the register's events "
                "name persons).",
            },
            "personalCode": _TEXT,
            "birthDate": _DATE,
            "validFrom": _DATE,
            "validTo": _NULLABLE_DATE,
        },
    },
}
_PARTNERS: dict[str, Any] = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {
            **_RELATIVE["items"]["properties"],
            "kind": {"type": "string", "enum": ["spouse", "partner"]},
            "endReason": _NULLABLE_TEXT,
        },
    },
}
_MONEY: dict[str, Any] = {
    "type": "object",
    "properties": {
        "amount": {"type": "integer", "description": "In minor units (cents)."},
        "currency": _TEXT,
    },
}
_MONTHLY_TOTALS: dict[str, Any] = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {"month": {"type": "string"}, **_MONEY["properties"]},
    },
}


@dataclass(frozen=True)
class Parameter:
    name: str
    description: str
    schema: dict[str, Any]
    required: bool = False


_PERSONAL_CODE = Parameter(
    "personalCode",
    "The data subject's personal code (required unless personRef is given).",
    {"type": "string"},
)
_PERSON_REF = Parameter(
    "personRef",
    "Instead of personalCode: the register's reference of the person, as the population "
    "register's events carry it.",
    {"type": "string"},
)
_AS_OF = Parameter(
    "asOf",
    "The day the facts held (valid time, YYYY-MM-DD). Default: today.",
    _DATE,
)
_KNOWN_ON = Parameter(
    "knownOn",
    "As the register knew them at the end of this day (YYYY-MM-DD) or at this instant "
    "(ISO 8601 with a time zone). Default: now.",
    {"type": "string"},
)
_BITEMPORAL = (_AS_OF, _KNOWN_ON)
_PERSON_REFS = Parameter(
    PERSON_REFS,
    f"Register references, separated by commas (at most {MAX_REFERENCES:,}).",
    {"type": "string", "example": "1041,1042,1057"},
)
_PERSON_REFS_REQUIRED = Parameter(
    PERSON_REFS, _PERSON_REFS.description, _PERSON_REFS.schema, required=True
)
#: Instead of ``personalCode``: the register's reference of the person (the ``person_id`` of
#: the registries' events), for subscribers resolving an event's persons.
PERSON_REF = "personRef"


@dataclass(frozen=True)
class RegistryService:
    """One registry query as a service: what it answers and how it is asked."""

    code: str
    registry: str  # the code of the base registry it reads
    title: str
    description: str
    fields: dict[str, dict[str, Any]]  # field → JSON schema, in answer order
    parameters: tuple[Parameter, ...]
    #: Whether ``asOf`` absent means "at any time" (histories) rather than "today".
    history_by_default: bool = False
    #: Answer fields are the keys of each item of this list rather than of the answer.
    item_list: str | None = None
    #: A bulk extract: the answer holds many persons, as columns (one list per field) under
    #: ``columns``; every person in it is a data subject.
    bulk: bool = False

    @property
    def subject_parameter(self) -> str:
        return self.parameters[0].name

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(self.fields)


REGISTRY_SERVICES: dict[str, RegistryService] = {
    s.code: s
    for s in (
        RegistryService(
            "person",
            "population",
            "Person",
            "A person as the population register knows them: names, birth, sex, "
            "citizenship, residence address and death, on a day, as known at a time.",
            {
                "personalCode": _TEXT,
                "givenNames": _NULLABLE_TEXT,
                "familyName": _NULLABLE_TEXT,
                "birthDate": _DATE,
                "birthPlace": _TEXT,
                "sex": {"type": "string", "enum": ["F", "M"]},
                "citizenship": {"type": "string", "description": "ISO 3166-1 alpha-2"},
                "residenceAddress": _ADDRESS,
                "dateOfDeath": _NULLABLE_DATE,
            },
            (_PERSONAL_CODE, _PERSON_REF, *_BITEMPORAL),
        ),
        RegistryService(
            "relations",
            "population",
            "Family relations",
            "A person's parents, children and spouses or registered partners, each with the "
            "relative's personal code and birth date and the relation's dates. Without "
            "asOf: every relation over time.",
            {"parents": _RELATIVE, "children": _RELATIVE, "partners": _PARTNERS},
            (_PERSONAL_CODE, _PERSON_REF, *_BITEMPORAL),
            history_by_default=True,
        ),
        RegistryService(
            "residence",
            "addresses",
            "Residence",
            "Where a person lives (their registered residence address) on a day.",
            {"address": _ADDRESS, "municipalityCode": _NULLABLE_TEXT, "residentSince": _DATE},
            (_PERSONAL_CODE, _PERSON_REF, *_BITEMPORAL),
        ),
        RegistryService(
            "income-totals",
            "employment",
            "Monthly income totals",
            "A person's income per month summed over every employer (never the amounts per "
            "employer), for a range of at most 36 months; months without income are 0.",
            {"monthlyTotals": _MONTHLY_TOTALS, "total": _MONEY},
            (
                _PERSONAL_CODE,
                _PERSON_REF,
                Parameter("from", "First month, YYYY-MM. Default: 12 months to `to`.", _TEXT),
                Parameter("to", "Last month, YYYY-MM. Default: the previous month.", _TEXT),
                _KNOWN_ON,
            ),
        ),
        RegistryService(
            "employment",
            "employment",
            "Employments",
            "A person's employments (employer, start and end). Without asOf: every "
            "employment over time.",
            {
                "employerCode": _TEXT,
                "employerName": _TEXT,
                "startDate": _DATE,
                "endDate": _NULLABLE_DATE,
            },
            (_PERSONAL_CODE, _PERSON_REF, *_BITEMPORAL),
            history_by_default=True,
            item_list="employments",
        ),
        RegistryService(
            "payment-account",
            "payment-accounts",
            "Payment account",
            "The account a person registered for payments from the public sector.",
            {"iban": _NULLABLE_TEXT, "validFrom": _NULLABLE_DATE},
            (_PERSONAL_CODE, _PERSON_REF, *_BITEMPORAL),
        ),
        RegistryService(
            "business",
            "businesses",
            "Business",
            "A business and the persons who represent it.",
            {
                "registrationCode": _TEXT,
                "name": _TEXT,
                "legalForm": _TEXT,
                "registeredOn": _DATE,
                "deregisteredOn": _NULLABLE_DATE,
                "address": _ADDRESS,
                "representatives": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "personalCode": _TEXT,
                            "role": _TEXT,
                            "validFrom": _DATE,
                            "validTo": _NULLABLE_DATE,
                        },
                    },
                },
            },
            (
                Parameter(
                    "registrationCode",
                    "The business's registration code.",
                    {"type": "string"},
                    required=True,
                ),
                *_BITEMPORAL,
            ),
        ),
        RegistryService(
            "representations",
            "businesses",
            "Roles in businesses",
            "The businesses a person represents (board member, chair, procurator, owner) on "
            "a day, each with its name and the role's dates.",
            {
                "registrationCode": _TEXT,
                "businessName": _TEXT,
                "role": _TEXT,
                "validFrom": _DATE,
                "validTo": _NULLABLE_DATE,
                "deregisteredOn": _NULLABLE_DATE,
            },
            (_PERSONAL_CODE, _PERSON_REF, *_BITEMPORAL),
            item_list="representations",
        ),
        RegistryService(
            EXTRACT,
            "population",
            "Population extract (bulk)",
            "The persons with register references in [fromRef, toRef), or those named in "
            "personRefs, and everyone living at their residence addresses on asOf, as "
            "columns: for re-evaluating a whole population when a law changes, or the "
            "households of a batch of life events. householdRef is the register reference of "
            "the residence address (null: no residence); parentRefs the register references "
            "of the person's parents, in the order registered (first the parent who gave "
            "birth); inRange marks the persons asked for. Every person in the answer is a "
            f"data subject of the call. At most {MAX_EXTRACT_RANGE:,} references per range, "
            f"{MAX_REFERENCES:,} in personRefs.",
            {
                "personRef": {"type": "array", "items": {"type": "integer"}},
                "personalCode": {"type": "array", "items": _TEXT},
                "birthDate": {"type": "array", "items": _DATE},
                "dateOfDeath": {"type": "array", "items": _NULLABLE_DATE},
                "householdRef": {"type": "array", "items": {"type": "integer", "nullable": True}},
                "parentRefs": {
                    "type": "array",
                    "items": {"type": "array", "items": {"type": "integer"}},
                },
            },
            (
                Parameter(
                    "fromRef",
                    "The first register reference of the range (required unless personRefs "
                    "is given).",
                    {"type": "integer"},
                ),
                Parameter(
                    "toRef",
                    "The end of the range (excluded; required with fromRef).",
                    {"type": "integer"},
                ),
                _PERSON_REFS,
                _AS_OF,
            ),
            item_list=None,
            bulk=True,
        ),
        RegistryService(
            PERSON_CODES,
            "population",
            "Personal codes of register references (bulk)",
            "The personal code of each register reference named in personRefs (the person_id "
            "the population register's events carry), for a subscriber resolving whom a batch "
            "of events concerns. A reference that names nobody is left out. Every person in "
            f"the answer is a data subject of the call. At most {MAX_REFERENCES:,} references.",
            {"personRef": {"type": "integer"}, "personalCode": _TEXT},
            (_PERSON_REFS_REQUIRED,),
            item_list="persons",
            bulk=True,
        ),
        RegistryService(
            RELATIVES,
            "population",
            "Parents and children of register references (bulk)",
            "The parents and children of each register reference named in personRefs on asOf "
            "(each with personal code, birth date and the relation's dates, as relations "
            "answers them), for a subscriber deciding a batch of life events together. A "
            "reference that names nobody is left out. Every person in the answer is a data "
            f"subject of the call. At most {MAX_REFERENCES:,} references.",
            {
                "personRef": {"type": "integer"},
                "personalCode": _TEXT,
                "parents": _RELATIVE,
                "children": _RELATIVE,
            },
            (_PERSON_REFS_REQUIRED, *_BITEMPORAL),
            item_list="persons",
            bulk=True,
        ),
        RegistryService(
            INCOMES,
            "employment",
            "Monthly income totals of register references (bulk)",
            "The income per month of each register reference named in personRefs, summed "
            "over every employer (never the amounts per employer), from `from` to `to` (as "
            "income-totals answers them, the register as it knows it now), for a subscriber "
            "deciding a batch of life events together. A reference that names nobody is "
            "left out. Every person in the answer is a data subject of the call. At most "
            f"{MAX_REFERENCES:,} references and 36 months.",
            {
                "personRef": {"type": "integer"},
                "personalCode": _TEXT,
                "monthlyTotals": _MONTHLY_TOTALS,
                "total": _MONEY,
            },
            (
                _PERSON_REFS_REQUIRED,
                Parameter("from", "First month, YYYY-MM. Default: 12 months to `to`.", _TEXT),
                Parameter("to", "Last month, YYYY-MM. Default: the previous month.", _TEXT),
            ),
            item_list="persons",
            bulk=True,
        ),
    )
}


def services_of_registry(registry_code: str) -> list[RegistryService]:
    """The services that read one registry."""
    return [s for s in REGISTRY_SERVICES.values() if s.registry == registry_code]


class MethodNotAllowed(DomainError):
    slug = "method-not-allowed"
    title = "Method not allowed"
    status = 405


def _subject(session: Session, declared: RegistryService, query: Mapping[str, str]) -> str:
    from joinedup import registries

    name = declared.subject_parameter
    value = (query.get(name) or "").strip()
    reference = (query.get(PERSON_REF) or "").strip()
    if name == "personalCode" and reference and not value:
        # The register's reference of a person, as its events carry it (events hold no
        # personal codes): a subscriber resolves the event's persons through the exchange.
        if not (reference.isascii() and reference.isdigit()) or len(reference) > 18:
            raise invalid_parameter(PERSON_REF, "is not a register reference")
        found = registries.personal_codes_of(session, person_ids=[int(reference)])
        if not found:
            raise NotFound("no person has this register reference")
        return found[int(reference)]
    if not value:
        raise invalid_parameter(name, "is required")
    if name == "personalCode" and not registries.is_valid_personal_code(value):
        raise invalid_parameter(name, "is not a valid personal code")
    if name == "registrationCode" and not registries.is_valid_business_code(value):
        raise invalid_parameter(name, "is not a valid registration code")
    return value


def call_registry_service(
    session: Session,
    *,
    service: ServiceDescriptor,
    method: str,
    path: str,
    query: Mapping[str, str],
    body: bytes | None,
    authorization: Authorization,
) -> ProviderResponse:
    """Run the registry query behind ``service`` in-process and answer with the authorised
    fields only. Bad input raises ``ValidationFailed``; an unknown data subject, or one outside
    a residents-only right's municipality, ``NotFound``. Reads only."""
    declared = REGISTRY_SERVICES.get(service.code)
    if service.kind != "registry" or declared is None:
        raise NotFound(f"{service.xroad_id} is not a registry service")
    if method.upper() != "GET":
        raise MethodNotAllowed(f"{service.code} answers GET only", allow="GET")
    if path not in ("", "/"):
        raise NotFound(f"{service.code} has no resource {path}")
    if body:
        raise invalid_parameter("body", "must be empty: the question is in the query parameters")
    if declared.bulk:
        return _bulk(session, declared, query, authorization)
    subject = _subject(session, declared, query)
    if authorization.residents_of is not None:
        on = today()
        if residence_municipality(session, subject, on) != authorization.residents_of:
            raise NotFound("no resident of your municipality has this personal code")
    legal_basis = None
    if authorization.consent_agreement is not None:  # before anything is read about them
        legal_basis = _require_consent(session, declared, authorization, subject)
    valid = date_parameter(query, "asOf")
    if valid is None and not declared.history_by_default:
        valid = today()
    allowed = set(authorization.fields)
    fields = tuple(f for f in declared.fields if f in allowed)
    answer, subjects = ANSWERS[declared.code](
        session,
        Question(
            subject=subject, valid=valid, known=known_parameter(query), query=query, fields=fields
        ),
    )
    return ProviderResponse(
        status=200, body=answer, data_subjects=subjects, fields=fields, legal_basis=legal_basis
    )


def _bulk(
    session: Session,
    declared: RegistryService,
    query: Mapping[str, str],
    authorization: Authorization,
) -> ProviderResponse:
    """A bulk service (:mod:`~joinedup.exchange.registry_bulk`). Not answered under a right
    limited to a municipality's residents or resting on consent (both are decided person by
    person, which a bulk read cannot be)."""
    if authorization.residents_of is not None or authorization.consent_agreement is not None:
        raise AccessDenied(
            f"{declared.code} is a bulk service: it is not answered under a right limited to "
            "residents or resting on consent",
            reason="no-right",
        )
    allowed = set(authorization.fields)
    fields = tuple(f for f in declared.fields if f in allowed)
    answer, subjects = bulk_answer(session, code=declared.code, query=query, fields=fields)
    return ProviderResponse(status=200, body=answer, data_subjects=subjects, fields=fields)


def _require_consent(
    session: Session, declared: RegistryService, authorization: Authorization, subject: str
) -> str:
    """The legal basis naming the subject's consent in force today (``AccessDenied`` with
    reason ``consent-missing`` when there is none, and for a service not about a person)."""
    agreement = authorization.consent_agreement
    found = None
    if declared.subject_parameter == "personalCode" and agreement is not None:
        found = consent.consent_in_force(
            session, agreement=agreement, subject_code=subject, on=today()
        )
    if found is None:
        raise AccessDenied(
            f"the purpose {authorization.purpose!r} rests on the data subject's consent to "
            f"data agreement {agreement}, and that consent is not in force today: nothing "
            "was read",
            reason="consent-missing",
            purpose=authorization.purpose,
            data_agreement_id=str(agreement),
        )
    return found.legal_basis()
