"""The synthetic country's organisations: ministries and agencies at three levels, private and
voluntary partners, their information systems, and which agency keeps which registry.

Codes are fixed (not drawn from the seed) so documentation and tests can name them: government
bodies get registry codes of type 7, partners are registered businesses whose registration
code is also their member code, as in X-Road.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
from sqlalchemy.orm import Session

from joinedup.demo.geography import COUNTRY_NAME, MUNICIPALITIES, REGIONS
from joinedup.exchange import MemberClass, MemberLevel, register_member, register_subsystem
from joinedup.registries import (
    BusinessColumns,
    LegalForm,
    import_businesses,
    issue_business_codes,
    register_municipality,
    register_region,
    register_registry,
)

ACTOR = "demo-seed"

_GOV = 7
_COMPANY, _NON_PROFIT, _FOUNDATION = 1, 8, 9


@dataclass(frozen=True)
class Organisation:
    key: str
    member_class: MemberClass
    member_code: str
    name: str
    level: MemberLevel
    parent_key: str | None = None
    region_code: str | None = None
    municipality_code: str | None = None
    subsystems: tuple[tuple[str, str], ...] = ()
    legal_form: LegalForm | None = None  # partners: their form in the business register


def _codes(kind: int, count: int) -> list[str]:
    return [str(c) for c in issue_business_codes(kind, np.arange(1, 2 * count + 20))[:count]]


_NATIONAL = (
    # key, name, parent, subsystems
    ("ministry-interior", "Ministry of the Interior", None, ()),
    ("ministry-finance", "Ministry of Finance", None, ()),
    ("ministry-social", "Ministry of Social Affairs", None, ()),
    ("ministry-economy", "Ministry of Economic Affairs", None, ()),
    ("population-register", "Population Register Office", "ministry-interior",
     (("population", "Population register"), ("addresses", "Address register"),
      ("civil-registration", "Civil registration (the registrars' system)"))),
    ("tax-board", "Tax and Customs Board", "ministry-finance",
     (("employment", "Employment and income register"), ("payment-accounts", "Payment accounts"),
      ("tax", "Taxation"))),
    ("social-insurance", "Social Insurance Board", "ministry-social",
     (("benefits", "Family benefits and pensions"),)),
    ("unemployment-fund", "Unemployment Insurance Fund", "ministry-social",
     (("unemployment-benefits", "Unemployment benefits"),)),
    ("health-fund", "Health Insurance Fund", "ministry-social",
     (("health-insurance", "Health insurance"),)),
    ("business-register", "Business Register", "ministry-economy",
     (("businesses", "Business register"),)),
    ("vehicle-registry", "Vehicle Registry", "ministry-economy",
     (("vehicles", "Vehicle register"),)),
    ("passport-office", "Passport and Identity Office", "ministry-interior",
     (("identity-documents", "Identity documents"),)),
)  # fmt: skip

#: National bodies added for the data exchange. They come after the municipalities, so the
#: member codes issued before them did not change when they were added.
_EXCHANGE_BODIES = (
    (
        "digital-office",
        "Central Digital Office",
        "ministry-economy",
        (
            ("exchange-admin", "Data exchange administration"),
            ("data-tracker", "Data tracker"),
            ("portal", "Citizen portal"),
            ("mailbox", "Digital mailbox"),
            ("life-events", "Life-event routing (proactive services)"),
            ("tell-us-once", "Tell Us Once"),
        ),
    ),
    (
        "police",
        "Police and Border Guard Board",
        "ministry-interior",
        (("investigations", "Criminal investigations"),),
    ),
)

_PARTNERS = (
    ("bank", MemberClass.COM, f"{COUNTRY_NAME} Savings Bank", LegalForm.PUBLIC_LIMITED,
     (("payments", "Payments"),)),
    ("care-provider", MemberClass.COM, "Evergreen Home Care", LegalForm.PRIVATE_LIMITED,
     (("care-records", "Care records"),)),
    ("volunteer-carers", MemberClass.NGO, "Association of Volunteer Carers", LegalForm.NON_PROFIT,
     (("volunteer-support", "Volunteer support"),)),
    ("food-bank", MemberClass.NGO, "Food Bank Foundation", LegalForm.FOUNDATION,
     (("food-aid", "Food aid"),)),
)  # fmt: skip

#: registry code → (organisation key, subsystem code)
REGISTRY_OWNERS = {
    "population": ("population-register", "population"),
    "addresses": ("population-register", "addresses"),
    "businesses": ("business-register", "businesses"),
    "employment": ("tax-board", "employment"),
    "payment-accounts": ("tax-board", "payment-accounts"),
}


def organisations() -> list[Organisation]:
    """Every organisation of the country, parents before children."""
    regions, municipalities = len(REGIONS), len(MUNICIPALITIES)
    gov_codes = iter(
        _codes(_GOV, len(_NATIONAL) + regions + municipalities + len(_EXCHANGE_BODIES))
    )
    found: list[Organisation] = [
        Organisation(
            key,
            MemberClass.GOV,
            next(gov_codes),
            name,
            MemberLevel.NATIONAL,
            parent,
            subsystems=subs,
        )
        for key, name, parent, subs in _NATIONAL
    ]
    found += [
        Organisation(
            f"health-authority-{code}",
            MemberClass.GOV,
            next(gov_codes),
            f"{name} Regional Health Authority",
            MemberLevel.REGIONAL,
            "ministry-social",
            region_code=code,
            subsystems=(("health-services", "Regional health services"),),
        )
        for code, name in REGIONS
    ]
    found += [
        Organisation(
            f"municipality-{m.code}",
            MemberClass.GOV,
            next(gov_codes),
            f"{m.name} Municipality",
            MemberLevel.LOCAL,
            region_code=m.region_code,
            municipality_code=m.code,
            subsystems=(
                ("social-services", "Social services"),
                ("school-enrolment", "School enrolment"),
            ),
        )
        for m in MUNICIPALITIES
    ]
    found += [
        Organisation(
            key,
            MemberClass.GOV,
            next(gov_codes),
            name,
            MemberLevel.NATIONAL,
            parent,
            subsystems=subs,
        )
        for key, name, parent, subs in _EXCHANGE_BODIES
    ]
    kinds = {LegalForm.NON_PROFIT: _NON_PROFIT, LegalForm.FOUNDATION: _FOUNDATION}
    partner_codes = {kind: iter(_codes(kind, 4)) for kind in (_COMPANY, _NON_PROFIT, _FOUNDATION)}
    for key, member_class, name, form, subs in _PARTNERS:
        code = next(partner_codes[kinds.get(form, _COMPANY)])
        found.append(
            Organisation(
                key,
                member_class,
                code,
                name,
                MemberLevel.NATIONAL,
                subsystems=subs,
                legal_form=form,
            )
        )
    return found


def organisation(key: str) -> Organisation:
    """One organisation of the country by key (e.g. ``"social-insurance"``)."""
    for org in organisations():
        if org.key == key:
            return org
    raise KeyError(key)


def create_government(session: Session, *, founded: date) -> int:
    """Register regions, municipalities, the partners' businesses, every organisation as an
    exchange member with its subsystems, and the registries' owners. Returns the member count."""
    for code, name in REGIONS:
        register_region(session, code=code, name=name, actor=ACTOR)
    for m in MUNICIPALITIES:
        register_municipality(
            session, code=m.code, name=m.name, region_code=m.region_code, actor=ACTOR
        )
    orgs = organisations()
    partners = [o for o in orgs if o.legal_form is not None]
    import_businesses(
        session,
        businesses=BusinessColumns(
            registration_code=np.array([o.member_code for o in partners]),
            name=np.array([o.name for o in partners]),
            legal_form=np.array([str(o.legal_form) for o in partners]),
            address_id=np.zeros(len(partners), dtype=np.int64),
            registered_on=np.full(len(partners), np.datetime64(founded, "D")),
        ),
        actor=ACTOR,
    )
    by_key = {o.key: o for o in orgs}
    for org in orgs:
        parent = by_key[org.parent_key] if org.parent_key else None
        register_member(
            session,
            member_class=org.member_class,
            member_code=org.member_code,
            name=org.name,
            level=org.level,
            parent=(parent.member_class, parent.member_code) if parent else None,
            region_code=org.region_code,
            municipality_code=org.municipality_code,
            actor=ACTOR,
        )
        for code, name in org.subsystems:
            register_subsystem(
                session,
                member_class=org.member_class,
                member_code=org.member_code,
                subsystem_code=code,
                name=name,
                actor=ACTOR,
            )
    for registry, (key, subsystem) in REGISTRY_OWNERS.items():
        owner = by_key[key]
        register_registry(
            session,
            code=registry,
            owner_member_class=owner.member_class,
            owner_member_code=owner.member_code,
            owner_subsystem_code=subsystem,
            actor=ACTOR,
        )
    return len(orgs)
