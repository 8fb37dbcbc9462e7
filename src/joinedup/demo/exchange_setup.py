"""The demo country's data exchange: the registries' services, the agencies' API clients and
signing keys, and realistic access rights — who may read what, for which purpose, under which
law (the laws are the demo country's own, named like their real-world models).

The policy (:data:`DEMO_RIGHTS`) follows once-only practice: the Social Insurance Board reads
parents' and children's birth data and relations for the child and parental benefits, a
birth date for the old-age pension, and the whole population in bulk
(``population-extract``) to re-evaluate child benefit and pensions when a law changes;
municipalities read the residence of their own residents for school enrolment and social
welfare; income is readable only as monthly totals and only for means-tested benefits (and
by the Tax Board for taxation, with employments); the Police read under a law-enforcement
right whose use the person sees only after 180 days; the bank reads public business data
and nothing about persons; the citizen portal reads data usage (``findUsage``) and, to
establish who may act for whom (purpose ``mandate-check``), persons' names and deaths,
parents' children and persons' roles in businesses. Administration is the Central Digital
Office's.

Civil registration: the Population Register Office's ``civil-registration`` subsystem (the
system OpenCRVS would be) may call the population register's four write services
(``record-birth``, ``record-death``, ``record-marriage``, ``record-move``) for the purpose
``civil-registration``. Consent: the Food Bank Foundation (a voluntary partner) may read a
person's residence address to deliver food parcels only with the person's consent to its data
agreement :data:`~joinedup.demo.purposes.FOOD_PARCELS_AGREEMENT` (no law gives it that right).

Client secrets are derived from the seed so that demo tools and benchmarks can sign in
(:func:`demo_client_credentials`); a real deployment's secrets are random and shown once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

import structlog
from sqlalchemy.orm import Session

from joinedup.consent import DataItem, LawfulBasis, publish_data_agreement
from joinedup.core.errors import NotFound, ValidationFailed
from joinedup.core.settings import get_settings
from joinedup.demo.agencies import ACTOR, REGISTRY_OWNERS, organisation, organisations
from joinedup.demo.purposes import (
    BENEFIT_ELIGIBILITY,
    BUSINESS_REGISTRATION,
    CHILD_BENEFIT,
    CIVIL_REGISTRATION,
    CRIMINAL_INVESTIGATION,
    DATA_USAGE,
    DUE_DILIGENCE,
    FOOD_PARCEL_DELIVERY,
    FOOD_PARCELS_AGREEMENT,
    HEALTH_INSURANCE,
    IDENTITY_DOCUMENTS,
    LIFE_EVENT_ROUTING,
    MANDATE_CHECK,
    MEANS_TESTED,
    OLD_AGE_PENSION,
    PARENTAL_BENEFIT,
    POSTAL_DELIVERY,
    SCHOOL_ENROLMENT,
    SOCIAL_WELFARE,
    SUBJECT_ACCESS,
    TAXATION,
    UNEMPLOYMENT_BENEFIT,
    UNEMPLOYMENT_MEANS_TESTED,
    VEHICLE_REGISTRATION,
    describe_demo_purposes,
)
from joinedup.exchange import (
    REGISTRY_SERVICES,
    WRITE_SERVICES,
    PurposeGrant,
    ServiceRef,
    SubsystemRef,
    appoint_administrator,
    create_member_keys,
    get_member,
    get_service,
    grant_access_right,
    hash_secret,
    publish_registry_services,
    purposes_ever_granted,
    register_api_client,
    register_rest_service,
)

log = structlog.get_logger(__name__)

RIGHTS_FROM = date(2000, 1, 1)
ADMIN = ("digital-office", "exchange-admin")
TRACKER = ("digital-office", "data-tracker")
REGISTRAR = ("population-register", "civil-registration")
FOOD_BANK = ("food-bank", "food-aid")
#: The digital mailbox's system: reads postal addresses for paper letters.
MAILBOX = ("digital-office", "mailbox")
PORTAL = ("digital-office", "portal")
#: Routes life events to the services they concern (reads personal codes only).
LIFE_EVENTS = ("digital-office", "life-events")
USAGE_SERVICE = "findUsage"
WRITE_SERVICE_CODES = ("record-birth", "record-death", "record-marriage", "record-move")

#: The registry service code → the registry keeping it.
_SERVICE_REGISTRY = {
    "person": "population",
    "relations": "population",
    "residence": "addresses",
    "income-totals": "employment",
    "employment": "employment",
    "payment-account": "payment-accounts",
    "business": "businesses",
    **dict.fromkeys(WRITE_SERVICE_CODES, "population"),
    "representations": "businesses",
    "population-extract": "population",
    "person-codes": "population",
}


_IDENTITY = ["personalCode", "givenNames", "familyName"]
_INCOME_TOTALS = ["monthlyTotals", "total"]
_RESIDENCE = ["address", "municipalityCode", "residentSince"]


@dataclass(frozen=True)
class DemoRight:
    """One right of the demo policy: (organisation key, subsystem) may call ``service``."""

    client: tuple[str, str]
    service: str  # a registry service code, or findUsage
    fields: tuple[str, ...]
    purposes: tuple[PurposeGrant, ...]
    law_enforcement_delay_days: int | None = None
    own_residents_only: bool = False


def _municipal_rights() -> list[DemoRight]:
    found = []
    for org in organisations():
        if org.municipality_code is None:
            continue
        school = (org.key, "school-enrolment")
        social = (org.key, "social-services")
        found += [
            DemoRight(
                school,
                "person",
                (*_IDENTITY, "birthDate", "dateOfDeath"),
                (SCHOOL_ENROLMENT,),
                own_residents_only=True,
            ),
            DemoRight(
                school,
                "residence",
                tuple(_RESIDENCE),
                (SCHOOL_ENROLMENT,),
                own_residents_only=True,
            ),
            DemoRight(
                social,
                "person",
                (*_IDENTITY, "birthDate", "residenceAddress", "dateOfDeath"),
                (SOCIAL_WELFARE, MEANS_TESTED),
                own_residents_only=True,
            ),
            DemoRight(
                social,
                "income-totals",
                tuple(_INCOME_TOTALS),
                (MEANS_TESTED,),
                own_residents_only=True,
            ),
        ]
    return found


def demo_rights() -> list[DemoRight]:
    """The whole demo policy."""
    sib = ("social-insurance", "benefits")
    fund = ("unemployment-fund", "unemployment-benefits")
    tax = ("tax-board", "tax")
    police = ("police", "investigations")
    return [
        DemoRight(
            sib,
            "person",
            (*_IDENTITY, "birthDate", "residenceAddress", "dateOfDeath"),
            (CHILD_BENEFIT, PARENTAL_BENEFIT),
        ),
        DemoRight(sib, "person", ("personalCode", "birthDate", "dateOfDeath"), (OLD_AGE_PENSION,)),
        DemoRight(sib, "relations", ("parents", "children"), (CHILD_BENEFIT, PARENTAL_BENEFIT)),
        DemoRight(sib, "income-totals", tuple(_INCOME_TOTALS), (MEANS_TESTED,)),
        # Proactive benefits: what the rules of child benefit, the birth grant, parental
        # benefit and the old-age pension read, for the purpose of deciding without application.
        DemoRight(
            sib, "person", ("personalCode", "birthDate", "dateOfDeath"), (BENEFIT_ELIGIBILITY,)
        ),
        DemoRight(sib, "residence", ("address",), (BENEFIT_ELIGIBILITY,)),
        DemoRight(sib, "relations", ("parents", "children"), (BENEFIT_ELIGIBILITY,)),
        DemoRight(sib, "income-totals", ("monthlyTotals",), (BENEFIT_ELIGIBILITY,)),
        # Re-evaluating every recipient when a law changes: the whole population in bulk.
        DemoRight(
            sib,
            "population-extract",
            ("personRef", "personalCode", "birthDate", "dateOfDeath", "householdRef", "parentRefs"),
            (BENEFIT_ELIGIBILITY, CHILD_BENEFIT, OLD_AGE_PENSION),
        ),
        DemoRight(
            sib,
            "payment-account",
            ("iban",),
            (CHILD_BENEFIT, PARENTAL_BENEFIT, OLD_AGE_PENSION, MEANS_TESTED),
        ),
        DemoRight(fund, "person", (*_IDENTITY, "birthDate"), (UNEMPLOYMENT_BENEFIT,)),
        DemoRight(fund, "income-totals", tuple(_INCOME_TOTALS), (UNEMPLOYMENT_MEANS_TESTED,)),
        DemoRight(fund, "payment-account", ("iban",), (UNEMPLOYMENT_BENEFIT,)),
        DemoRight(tax, "person", (*_IDENTITY, "residenceAddress"), (TAXATION,)),
        DemoRight(tax, "income-totals", tuple(_INCOME_TOTALS), (TAXATION,)),
        DemoRight(
            tax,
            "employment",
            ("employerCode", "employerName", "startDate", "endDate"),
            (TAXATION,),
        ),
        DemoRight(
            ("health-fund", "health-insurance"),
            "person",
            (*_IDENTITY, "birthDate", "residenceAddress", "dateOfDeath"),
            (HEALTH_INSURANCE,),
        ),
        DemoRight(
            ("health-fund", "health-insurance"),
            "employment",
            ("employerCode", "startDate", "endDate"),
            (HEALTH_INSURANCE,),
        ),
        DemoRight(
            ("passport-office", "identity-documents"),
            "person",
            (*_IDENTITY, "birthDate", "birthPlace", "sex", "citizenship"),
            (IDENTITY_DOCUMENTS,),
        ),
        DemoRight(
            ("business-register", "businesses"),
            "person",
            tuple(_IDENTITY),
            (BUSINESS_REGISTRATION,),
        ),
        DemoRight(
            ("vehicle-registry", "vehicles"),
            "residence",
            ("address",),
            (VEHICLE_REGISTRATION,),
        ),
        DemoRight(
            police,
            "person",
            (
                *_IDENTITY,
                "birthDate",
                "birthPlace",
                "sex",
                "citizenship",
                "residenceAddress",
                "dateOfDeath",
            ),
            (CRIMINAL_INVESTIGATION,),
            law_enforcement_delay_days=180,
        ),
        DemoRight(
            police,
            "residence",
            tuple(_RESIDENCE),
            (CRIMINAL_INVESTIGATION,),
            law_enforcement_delay_days=180,
        ),
        DemoRight(
            police,
            "relations",
            ("parents", "children", "partners"),
            (CRIMINAL_INVESTIGATION,),
            law_enforcement_delay_days=180,
        ),
        DemoRight(
            ("bank", "payments"),
            "business",
            ("registrationCode", "name", "legalForm", "registeredOn", "deregisteredOn", "address"),
            (DUE_DILIGENCE,),
        ),
        *(
            DemoRight(REGISTRAR, code, _write_fields(code), (CIVIL_REGISTRATION,))
            for code in WRITE_SERVICE_CODES
        ),
        DemoRight(FOOD_BANK, "residence", ("address",), (FOOD_PARCEL_DELIVERY,)),
        # The portal establishes who may act for whom: parents for their minor children,
        # representatives for their businesses, a power of attorney's grantee exists.
        DemoRight(
            PORTAL,
            "person",
            ("personalCode", "givenNames", "familyName", "birthDate", "dateOfDeath"),
            (MANDATE_CHECK,),
        ),
        DemoRight(PORTAL, "relations", ("children",), (MANDATE_CHECK,)),
        DemoRight(
            PORTAL,
            "representations",
            ("registrationCode", "businessName", "role", "validFrom", "validTo", "deregisteredOn"),
            (MANDATE_CHECK,),
        ),
        # The portal's "My overview": what each registry holds about the person acted for.
        *_portal_overview_rights(),
        DemoRight(
            PORTAL,
            USAGE_SERVICE,
            ("logtime", "action", "receiverCode", "receiverName", "receiverSystem"),
            (DATA_USAGE,),
        ),
        # whom a batch of life events concerns: the personal codes of the events' references
        DemoRight(
            LIFE_EVENTS, "person-codes", ("personRef", "personalCode"), (LIFE_EVENT_ROUTING,)
        ),
        DemoRight(LIFE_EVENTS, "person", ("personalCode",), (LIFE_EVENT_ROUTING,)),
        DemoRight(
            MAILBOX,
            "person",
            ("givenNames", "familyName", "residenceAddress"),
            (POSTAL_DELIVERY,),
        ),
        *_municipal_rights(),
    ]


def _portal_overview_rights() -> list[DemoRight]:
    """Every registry's facts about the person (or business) the portal's user acts for,
    read for the purpose ``subject-access`` (the right of access)."""
    business_fields = ("registrationCode", "name", "legalForm", "registeredOn")
    return [
        DemoRight(PORTAL, code, fields, (SUBJECT_ACCESS,))
        for code, fields in (
            ("person", tuple(REGISTRY_SERVICES["person"].field_names)),
            ("relations", ("parents", "children", "partners")),
            ("residence", tuple(_RESIDENCE)),
            ("representations", tuple(REGISTRY_SERVICES["representations"].field_names)),
            ("employment", tuple(REGISTRY_SERVICES["employment"].field_names)),
            ("income-totals", tuple(_INCOME_TOTALS)),
            ("payment-account", tuple(REGISTRY_SERVICES["payment-account"].field_names)),
            ("business", (*business_fields, "deregisteredOn", "address")),
        )
    ]


def _write_fields(code: str) -> tuple[str, ...]:
    return WRITE_SERVICES[code].field_names


def publish_demo_agreements(session: Session) -> None:
    """The food bank's data agreement (consent to reading the residence address)."""
    food_bank = organisation(FOOD_BANK[0])
    residence = _service_ref("residence")
    publish_data_agreement(
        session,
        controller=f"{food_bank.member_class}/{food_bank.member_code}",
        code="food-parcel-delivery",
        title="Food parcels delivered to your home",
        purpose="The Food Bank Foundation reads your registered residence address from the "
        "population register to deliver the food parcels you asked for to your home.",
        lawful_basis=LawfulBasis.CONSENT,
        data_items=[DataItem(service=str(residence), field="address")],
        retention_days=90,
        agreement_id=FOOD_PARCELS_AGREEMENT,
        actor=ACTOR,
    )


def life_event_subsystem() -> str:
    """``CLASS/MEMBER/SUBSYSTEM`` of the Central Digital Office's life-event routing."""
    return str(_subsystem(*LIFE_EVENTS))


def portal_subsystem() -> str:
    """``CLASS/MEMBER/SUBSYSTEM`` of the citizen portal (the Central Digital Office's): the
    client the portal reads the registries as."""
    return str(_subsystem(*PORTAL))


def demo_clients() -> list[tuple[str, str]]:
    """The (organisation key, subsystem) pairs that get an API client: every subsystem holding
    a right, the administrator, and a partner holding none (the care provider)."""
    found = [ADMIN]
    for right in demo_rights():
        if right.client not in found:
            found.append(right.client)
    found.append(("care-provider", "care-records"))
    return found


def _demo_secret_key(seed: int) -> bytes:
    return hashlib.sha256(f"joinedup demo exchange clients {seed}".encode()).digest()


def demo_client_credentials(seed: int, key: str) -> tuple[str, str]:
    """The demo client id and secret of ``key`` — ``"organisation/subsystem"`` (e.g.
    ``"social-insurance/benefits"``), or an organisation key alone for its first subsystem
    with a client. Deterministic for the seed: demo only."""
    org_key, _, subsystem = key.partition("/")
    if not subsystem:
        matches = [s for o, s in demo_clients() if o == org_key]
        if not matches:
            raise KeyError(key)
        subsystem = matches[0]
    elif (org_key, subsystem) not in demo_clients():
        raise KeyError(key)
    client_id = f"demo.{org_key}.{subsystem}"[:64]
    digest = hmac.new(_demo_secret_key(seed), client_id.encode(), hashlib.sha256).digest()
    return client_id, base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _subsystem(org_key: str, subsystem: str) -> SubsystemRef:
    org = organisation(org_key)
    return SubsystemRef(str(org.member_class), org.member_code, subsystem)


def _service_ref(code: str) -> ServiceRef:
    owner_key, owner_subsystem = (
        TRACKER if code == USAGE_SERVICE else REGISTRY_OWNERS[_SERVICE_REGISTRY[code]]
    )
    org = organisation(owner_key)
    return ServiceRef(str(org.member_class), org.member_code, owner_subsystem, code)


def tracker_openapi() -> dict[str, Any]:
    """The Data Tracker usage service (Estonia's ``findUsage`` contract), as published."""
    usage = {
        "type": "object",
        "properties": {
            "logtime": {"type": "string", "format": "date-time"},
            "action": {"type": "string"},
            "receiverCode": {"type": "string"},
            "receiverName": {"type": "string"},
            "receiverSystem": {"type": "string"},
        },
    }
    query = [
        {"name": "dataSubjectCode", "in": "query", "required": True, "schema": {"type": "string"}},
        {"name": "from", "in": "query", "schema": {"type": "string", "format": "date-time"}},
        {"name": "to", "in": "query", "schema": {"type": "string", "format": "date-time"}},
        {"name": "offset", "in": "query", "schema": {"type": "integer"}},
        {"name": "limit", "in": "query", "schema": {"type": "integer"}},
    ]
    return {
        "openapi": "3.0.3",
        "info": {"title": "Data Tracker usage service", "version": "2"},
        "paths": {
            "/findUsage": {
                "get": {
                    "operationId": "findUsage",
                    "parameters": query,
                    "responses": {
                        "200": {
                            "description": "Who processed the person's data, when and why.",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "properties": {
                                            "totalUsages": {"type": "integer"},
                                            "usages": {"type": "array", "items": usage},
                                        },
                                    }
                                }
                            },
                        }
                    },
                }
            },
            "/usagePeriod": {"get": {"responses": {"200": {"description": "The period kept."}}}},
            "/heartbeat": {"get": {"responses": {"200": {"description": "Alive."}}}},
        },
    }


def setup_exchange(session: Session, *, seed: int) -> bool:
    """Publish the services, appoint the administrator, create the demo clients (secrets
    derived from ``seed``), members' signing keys and rights. When the demo exchange exists
    already (the clients keep the secrets of the seed that set them up) it is only brought up
    to date (:func:`update_demo_exchange`). Returns whether it set the exchange up."""
    if update_demo_exchange(session):
        return False
    publish_registry_services(session, actor=ACTOR)
    register_rest_service(
        session,
        provider=_subsystem(*TRACKER),
        code=USAGE_SERVICE,
        title="Data usage (Data Tracker)",
        base_url=get_settings().public_url.rstrip("/") + "/v2",
        openapi=tracker_openapi(),
        fields=["logtime", "action", "receiverCode", "receiverName", "receiverSystem"],
        actor=ACTOR,
    )
    appoint_administrator(session, subsystem=_subsystem(*ADMIN), actor=ACTOR)
    publish_demo_agreements(session)
    for org_key, subsystem in demo_clients():
        client_id, secret = demo_client_credentials(seed, f"{org_key}/{subsystem}")
        register_api_client(
            session,
            subsystem=_subsystem(org_key, subsystem),
            name=f"{organisation(org_key).name}: {subsystem} (demo)",
            client_id=client_id,
            client_secret=secret,
            hasher=_demo_hash,
            actor=ACTOR,
        )
    _grant(session, demo_rights())
    describe_demo_purposes(session)
    member_ids = [
        get_member(session, member_class=o.member_class, member_code=o.member_code).id
        for o in organisations()
    ]
    create_member_keys(session, member_ids=member_ids)
    return True


def update_demo_exchange(session: Session) -> bool:
    """Bring a demo exchange set up by an earlier version up to date: the purposes' words,
    the registry services declared since published, and each demo right whose client has
    never held a right on its service for one of its purposes granted (a right revoked since
    stays revoked; one whose client subsystem an earlier version did not create is left out,
    logged). False (and nothing done) when the database holds no demo exchange (the data
    tracker's service is not published). A few queries when nothing is missing."""
    try:
        get_service(session, service=_service_ref(USAGE_SERVICE))
    except NotFound:
        return False
    describe_demo_purposes(session)
    publish_registry_services(session, actor=ACTOR)
    held = purposes_ever_granted(session)
    for right in demo_rights():
        client, service = str(_subsystem(*right.client)), str(_service_ref(right.service))
        if any((client, service, p.purpose) in held for p in right.purposes):
            continue
        try:
            _grant(session, [right])
        except ValidationFailed as refused:  # (validated before anything is written)
            log.warning(
                "demo_right_not_granted", client=client, service=service, problem=refused.detail
            )
    return True


def _grant(session: Session, rights: list[DemoRight]) -> None:
    for right in rights:
        grant_access_right(
            session,
            client=_subsystem(*right.client),
            service=_service_ref(right.service),
            fields=list(right.fields),
            purposes=list(right.purposes),
            valid_from=RIGHTS_FROM,
            law_enforcement=right.law_enforcement_delay_days is not None,
            disclosure_delay_days=right.law_enforcement_delay_days,
            own_residents_only=right.own_residents_only,
            actor=ACTOR,
        )


@lru_cache(maxsize=512)
def _demo_hash(secret: str) -> str:
    """scrypt of a demo secret, computed once per process: the demo's secrets are public
    (derived from the seed), so reusing a salt across demo databases protects nothing less."""
    return hash_secret(secret)
