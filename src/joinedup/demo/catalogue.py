"""Joinland's service catalogue: the services of its agencies at three levels, each decided by
a real rule of the demo rulesets (:mod:`joinedup.rules.rulesets.demo`).

| service | owner | delivery | life events (whom) |
|---|---|---|---|
| child benefit | Social Insurance Board | automatic | birth, turning 18, moving home (parents) |
| birth grant | Social Insurance Board | proactive offer, per birth | birth (parents) |
| parental benefit | Social Insurance Board | inform (apply) | birth (parents) |
| old-age pension | Social Insurance Board | proactive offer | pension age (person), death |
| school place at six | each municipality | proactive offer | turning 6 (the child) |
| housing support | each municipality | application (rent declared) | moving home (person) |
| food parcels | Food Bank Foundation | proactive offer, on consent | losing a job (person) |

The Social Insurance Board decides under its access rights for ``benefit-eligibility``; the
municipalities under ``school-enrolment`` (their own residents only); the Food Bank reads a
residence address only with the person's consent to its data agreement.
"""

from __future__ import annotations

import contextlib

from sqlalchemy.orm import Session

from joinedup.catalogue import Concerns, LawfulBasis, LifeEvent, catalogue_service
from joinedup.catalogue import get_catalogued_service as _get
from joinedup.core.errors import NotFound
from joinedup.demo.agencies import ACTOR, Organisation, organisation, organisations
from joinedup.demo.exchange_policy import FOOD_BANK
from joinedup.demo.purposes import FOOD_PARCELS_AGREEMENT

LAWS = "https://laws.joinland.example/"
RULESET = "demo"


def _owner(org: Organisation, subsystem: str) -> str:
    return f"{org.member_class}/{org.member_code}/{subsystem}"


def _national(session: Session) -> None:
    sib = _owner(organisation("social-insurance"), "benefits")
    catalogue_service(
        session,
        code="child-benefit",
        names={"en": "Child benefit", "et": "Lapsetoetus"},
        descriptions={
            "en": "A monthly benefit for every child under 18 living in Joinland, paid to the "
            "parents without an application from the month the child is born.",
            "et": "Igakuine toetus iga alla 18-aastase Joinlandis elava lapse kohta, mida "
            "makstakse vanematele ilma taotluseta alates lapse sünnikuust.",
        },
        owner=sib,
        level="national",
        delivery_mode="automatic",
        life_events=[
            (LifeEvent.BIRTH, Concerns.PARENTS),
            (LifeEvent.AGE_18, Concerns.PARENTS),
            # a child moving to another parent takes the benefit with it; a parent moving out
            # leaves it to the parent the children stay with
            (LifeEvent.ADDRESS_CHANGE, Concerns.PARENTS),
        ],
        ruleset=RULESET,
        variable="child_benefit",
        purpose="benefit-eligibility",
        legal_basis="Family Benefits Act 2019 §4 and §5",
        legal_basis_url=LAWS + "family-benefits-act-2019#s4",
        actor=ACTOR,
    )
    catalogue_service(
        session,
        code="birth-grant",
        names={"en": "Birth grant", "et": "Sünnitoetus"},
        descriptions={
            "en": "A one-off grant for each child born, offered to the parents as soon as the "
            "birth is registered: confirm it in one step.",
            "et": "Ühekordne toetus iga sündinud lapse kohta, mida pakutakse vanematele kohe "
            "pärast sünni registreerimist: kinnitage see ühe sammuga.",
        },
        owner=sib,
        level="national",
        delivery_mode="proactive_offer",
        life_events=[(LifeEvent.BIRTH, Concerns.PARENTS)],
        ruleset=RULESET,
        variable="birth_grant",
        per_occasion=True,
        purpose="benefit-eligibility",
        legal_basis="Family Benefits Act 2019 §8",
        legal_basis_url=LAWS + "family-benefits-act-2019#s8",
        respond_within_days=365,
        actor=ACTOR,
    )
    catalogue_service(
        session,
        code="parental-benefit",
        names={"en": "Parental benefit", "et": "Vanemahüvitis"},
        descriptions={
            "en": "Replaces 80% of a parent's income while caring for a child under one. We "
            "tell you when you may be entitled; you choose when to apply.",
            "et": "Asendab 80% vanema tulust alla üheaastase lapse eest hoolitsemise ajal. "
            "Anname teada, kui teil võib olla õigus; taotlemise aja valite ise.",
        },
        owner=sib,
        level="national",
        delivery_mode="inform",
        life_events=[(LifeEvent.BIRTH, Concerns.PARENTS)],
        ruleset=RULESET,
        variable="parental_benefit",
        purpose="benefit-eligibility",
        legal_basis="Parental Benefit Act 2020 §3 and §6",
        legal_basis_url=LAWS + "parental-benefit-act-2020#s3",
        apply_url="/portal/services/parental-benefit",
        actor=ACTOR,
    )
    catalogue_service(
        session,
        code="old-age-pension",
        names={"en": "Old-age pension", "et": "Vanaduspension"},
        descriptions={
            "en": "The state pension, offered in the month you reach pension age and paid "
            "monthly; it ends at death.",
            "et": "Riiklik pension, mida pakutakse pensioniikka jõudmise kuul ja makstakse "
            "igakuiselt; see lõpeb surmaga.",
        },
        owner=sib,
        level="national",
        delivery_mode="proactive_offer",
        life_events=[(LifeEvent.PENSION_AGE, Concerns.PERSON), (LifeEvent.DEATH, Concerns.ESTATE)],
        ruleset=RULESET,
        variable="old_age_pension",
        purpose="benefit-eligibility",
        legal_basis="State Pension Act 2001 §7 and §9",
        legal_basis_url=LAWS + "state-pension-act-2001#s7-1",
        actor=ACTOR,
    )
    food_bank = organisation(FOOD_BANK[0])
    catalogue_service(
        session,
        code="food-parcels",
        names={"en": "Food parcels delivered home", "et": "Toidupakid koju"},
        descriptions={
            "en": "The Food Bank Foundation offers food parcels delivered to your home when "
            "you lose your job, if you agreed that it may read your home address.",
            "et": "Toidupanga Sihtasutus pakub töö kaotamisel koju toodavaid toidupakke, kui "
            "olete nõustunud, et see võib lugeda teie kodust aadressi.",
        },
        owner=_owner(food_bank, FOOD_BANK[1]),
        level="national",
        delivery_mode="proactive_offer",
        life_events=[(LifeEvent.EMPLOYMENT_ENDED, Concerns.PERSON)],
        ruleset=RULESET,
        variable="food_parcel_delivery",
        per_occasion=True,
        purpose="food-parcel-delivery",
        legal_basis="Consent of the data subject (General Data Protection Regulation Art. 6 "
        "(1) (a))",
        lawful_basis=LawfulBasis.CONSENT,
        data_agreement_id=FOOD_PARCELS_AGREEMENT,
        respond_within_days=60,
        actor=ACTOR,
    )


def _local(session: Session, org: Organisation) -> None:
    place = org.name.removesuffix(" Municipality")
    owner = _owner(org, "school-enrolment")
    code = org.municipality_code
    catalogue_service(
        session,
        code=f"school-enrolment-{code}",
        names={"en": f"School place at six ({place})", "et": f"Koolikoht kuueaastasele ({place})"},
        descriptions={
            "en": f"{org.name} offers a place in a local school to every resident child who is "
            "six by 1 September.",
            "et": f"{org.name} pakub kohalikus koolis kohta igale elanikust lapsele, kes on "
            "1. septembriks kuueaastane.",
        },
        owner=owner,
        level="local",
        delivery_mode="proactive_offer",
        life_events=[(LifeEvent.AGE_6, Concerns.PERSON)],
        ruleset=RULESET,
        variable="school_enrolment_due",
        per_occasion=True,
        purpose="school-enrolment",
        legal_basis="Basic Schools Act 2010 §9 (1)",
        legal_basis_url=LAWS + "basic-schools-act-2010#s9-1",
        respond_within_days=60,
        actor=ACTOR,
    )
    catalogue_service(
        session,
        code=f"housing-support-{code}",
        names={"en": f"Housing support ({place})", "et": f"Eluasemetoetus ({place})"},
        descriptions={
            "en": "Help with the rent for households on a low income, on application with "
            "the rent you pay.",
            "et": "Abi üüri tasumisel väikese sissetulekuga leibkondadele, taotluse alusel "
            "koos makstava üüriga.",
        },
        owner=_owner(org, "social-services"),
        level="local",
        delivery_mode="application",
        life_events=[(LifeEvent.ADDRESS_CHANGE, Concerns.PERSON)],
        ruleset=RULESET,
        variable="housing_support",
        purpose="means-tested-benefit",
        legal_basis="Housing Support Act 2018 §4",
        legal_basis_url=LAWS + "housing-support-act-2018#s4",
        apply_url=f"/portal/services/housing-support-{code}",
        # no register knows the rent or whether the home is rented: the applicant says
        applicant_inputs=["rent", "housing_tenure"],
        actor=ACTOR,
    )


def seed_catalogue(session: Session) -> bool:
    """Catalogue Joinland's services; does nothing (returns False) when they are there."""
    with contextlib.suppress(NotFound):
        _get(session, code="child-benefit")
        return False
    _national(session)
    for org in organisations():
        if org.municipality_code is not None:
            _local(session, org)
    return True
