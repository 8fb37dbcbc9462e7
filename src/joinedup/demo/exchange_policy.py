"""The demo country's access-rights policy: its subsystems, and who may read what, for which
purpose, under which law (the laws are the demo country's own, named like their real-world
models); :mod:`joinedup.demo.exchange_setup` grants it.

The policy (:func:`demo_rights`) follows once-only practice: the Social Insurance Board reads
parents' and children's birth data and relations for the child and parental benefits, a
birth date for the old-age pension, and the whole population in bulk
(``population-extract``) to re-evaluate child benefit and pensions when a law changes;
municipalities read the residence of their own residents for school enrolment and social
welfare; income is readable only as monthly totals and only for means-tested benefits (and
by the Tax Board for taxation, with employments); the Police read under a law-enforcement
right whose use the person sees only after 180 days; the bank reads public business data
and nothing about persons; the citizen portal reads data usage (``findUsage``) and, to
establish who may act for whom (purpose ``mandate-check``), persons' names and deaths,
parents' children and persons' roles in businesses; the Central Digital Office's
``life-events`` subsystem reads personal codes only, to route life events. Administration is
the Central Digital Office's.

Civil registration: the Population Register Office's ``civil-registration`` subsystem (the
system OpenCRVS would be) may call the population register's four write services
(``record-birth``, ``record-death``, ``record-marriage``, ``record-move``) for the purpose
``civil-registration``. Consent: the Food Bank Foundation (a voluntary partner) may read a
person's residence address to deliver food parcels only with the person's consent to its data
agreement :data:`~joinedup.demo.purposes.FOOD_PARCELS_AGREEMENT` (no law gives it that right).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from joinedup.demo.agencies import organisations
from joinedup.demo.purposes import (
    BENEFIT_ELIGIBILITY,
    BUSINESS_REGISTRATION,
    CHILD_BENEFIT,
    CIVIL_REGISTRATION,
    CRIMINAL_INVESTIGATION,
    DATA_USAGE,
    DUE_DILIGENCE,
    FOOD_PARCEL_DELIVERY,
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
)
from joinedup.exchange import REGISTRY_SERVICES, WRITE_SERVICES, PurposeGrant

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
SERVICE_REGISTRY = {
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
    "relatives": "population",
    "incomes": "employment",
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
        # the same for the parents of a batch of births in one call (their households)
        DemoRight(sib, "relatives", ("personRef", "parents", "children"), (BENEFIT_ELIGIBILITY,)),
        DemoRight(sib, "income-totals", ("monthlyTotals",), (BENEFIT_ELIGIBILITY,)),
        # the same for the incomes a batch of births' decisions ask for, in one call
        DemoRight(sib, "incomes", ("personRef", "monthlyTotals"), (BENEFIT_ELIGIBILITY,)),
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
        # whose powers and sessions a batch of deaths ends: the deceased's personal codes
        DemoRight(PORTAL, "person-codes", ("personRef", "personalCode"), (MANDATE_CHECK,)),
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
