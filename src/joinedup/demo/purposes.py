"""The demo's purposes: each one an access right may be granted for, with the law that allows
it (:class:`~joinedup.exchange.PurposeGrant`), and what it means in words, in English and
Estonian, as "Who used my data" says it."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from joinedup.consent import LawfulBasis
from joinedup.core.pagination import PageRequest
from joinedup.demo.agencies import ACTOR
from joinedup.exchange import PurposeGrant, describe_purpose, list_purposes

#: The food bank's data agreement: a fixed id, so the demo's right can name it.
FOOD_PARCELS_AGREEMENT = uuid.UUID("6d1b5f1e-7a0c-4c55-9d5e-0f00d0ba2c01")

CHILD_BENEFIT = PurposeGrant(purpose="child-benefit", legal_basis="Family Benefits Act § 23 (1)")
PARENTAL_BENEFIT = PurposeGrant(purpose="parental-benefit", legal_basis="Parental Benefit Act § 4")
OLD_AGE_PENSION = PurposeGrant(
    purpose="old-age-pension", legal_basis="State Pension Insurance Act § 7 (1)"
)
MEANS_TESTED = PurposeGrant(purpose="means-tested-benefit", legal_basis="Social Welfare Act § 133")
UNEMPLOYMENT_MEANS_TESTED = PurposeGrant(
    purpose="means-tested-benefit",
    legal_basis="Labour Market Services and Benefits Act § 30 (unemployment allowance)",
)
UNEMPLOYMENT_BENEFIT = PurposeGrant(
    purpose="unemployment-benefit", legal_basis="Unemployment Insurance Act § 6"
)
TAXATION = PurposeGrant(purpose="taxation", legal_basis="Taxation Act § 59 (1)")
HEALTH_INSURANCE = PurposeGrant(purpose="health-insurance", legal_basis="Health Insurance Act § 5")
SCHOOL_ENROLMENT = PurposeGrant(
    purpose="school-enrolment", legal_basis="Basic Schools and Upper Secondary Schools Act § 10"
)
SOCIAL_WELFARE = PurposeGrant(purpose="social-welfare", legal_basis="Social Welfare Act § 14")
CRIMINAL_INVESTIGATION = PurposeGrant(
    purpose="criminal-investigation", legal_basis="Code of Criminal Procedure § 215"
)
IDENTITY_DOCUMENTS = PurposeGrant(
    purpose="identity-documents", legal_basis="Identity Documents Act § 5"
)
BUSINESS_REGISTRATION = PurposeGrant(
    purpose="business-registration", legal_basis="Commercial Code § 59"
)
VEHICLE_REGISTRATION = PurposeGrant(purpose="vehicle-registration", legal_basis="Traffic Act § 73")
DUE_DILIGENCE = PurposeGrant(
    purpose="customer-due-diligence",
    legal_basis="Money Laundering and Terrorist Financing Prevention Act § 20",
)
CIVIL_REGISTRATION = PurposeGrant(
    purpose="civil-registration",
    legal_basis="Population Register Act § 21 (entry of civil status events)",
    lawful_basis=LawfulBasis.LEGAL_OBLIGATION,
)
FOOD_PARCEL_DELIVERY = PurposeGrant(
    purpose="food-parcel-delivery",
    legal_basis="Consent of the data subject (General Data Protection Regulation Art. 6 (1) (a))",
    lawful_basis=LawfulBasis.CONSENT,
    data_agreement_id=FOOD_PARCELS_AGREEMENT,
)
POSTAL_DELIVERY = PurposeGrant(
    purpose="postal-delivery",
    legal_basis="Digital Post Act § 9 (paper letters to persons exempt from digital post)",
)
MANDATE_CHECK = PurposeGrant(
    purpose="mandate-check",
    legal_basis="Administrative Procedure Act § 12 (representation)",
)
#: The portal shows a person (or someone acting for them) what the registries hold about them.
SUBJECT_ACCESS = PurposeGrant(
    purpose="subject-access",
    legal_basis="General Data Protection Regulation Art. 15 (right of access)",
    legal_basis_url="https://eur-lex.europa.eu/eli/reg/2016/679/oj",
)
BENEFIT_ELIGIBILITY = PurposeGrant(
    purpose="benefit-eligibility",
    legal_basis="Social Insurance Board Act § 6 (2) (benefits determined and offered without "
    "application on the registers' data)",
)
LIFE_EVENT_ROUTING = PurposeGrant(
    purpose="life-event-routing",
    legal_basis="Digital Government Act § 14 (life events routed to the services they concern)",
)
DATA_USAGE = PurposeGrant(
    purpose="data-usage-transparency",
    legal_basis="General Data Protection Regulation Art. 15 (right of access)",
    legal_basis_url="https://eur-lex.europa.eu/eli/reg/2016/679/oj",
)


#: What each purpose of the demo's rights means, as "Who used my data" says it (English,
#: Estonian); the provider's own reads of its register are "own-processing".
DEMO_PURPOSES: dict[str, dict[str, str]] = {
    "benefit-eligibility": {
        "en": "Checking whether you are entitled to a benefit",
        "et": "Kontrolliti, kas teil on õigus toetusele",
    },
    "business-registration": {
        "en": "Keeping the business register up to date",
        "et": "Äriregistri andmete ajakohastamine",
    },
    "child-benefit": {"en": "Paying child benefit", "et": "Lapsetoetuse maksmine"},
    "civil-registration": {
        "en": "Registering a birth, death, marriage or move",
        "et": "Sünni, surma, abielu või elukoha muutuse registreerimine",
    },
    "criminal-investigation": {
        "en": "A criminal investigation (shown after the delay the law allows)",
        "et": "Kriminaalmenetlus (näidatakse seadusega lubatud viivitusega)",
    },
    "customer-due-diligence": {
        "en": "Checking a customer's identity, as banks must by law",
        "et": "Kliendi isikusamasuse kontroll, mida pangad peavad seaduse järgi tegema",
    },
    "data-usage-transparency": {
        "en": "Showing you who used your data",
        "et": "Teile näidati, kes teie andmeid kasutas",
    },
    "food-parcel-delivery": {
        "en": "Delivering food parcels (with your consent)",
        "et": "Toidupakkide kohaletoimetamine (teie nõusolekul)",
    },
    "health-insurance": {
        "en": "Your health insurance cover",
        "et": "Teie ravikindlustuse kaitse",
    },
    "identity-documents": {
        "en": "Issuing or checking an identity document",
        "et": "Isikut tõendava dokumendi väljastamine või kontroll",
    },
    "life-event-routing": {
        "en": "Finding whom a registered life event concerns",
        "et": "Leiti, keda registreeritud elusündmus puudutab",
    },
    "mandate-check": {
        "en": "Checking that someone may act for you",
        "et": "Kontrolliti, kas keegi võib teie eest tegutseda",
    },
    "means-tested-benefit": {
        "en": "Working out a benefit that depends on income",
        "et": "Sissetulekust sõltuva toetuse arvutamine",
    },
    "old-age-pension": {"en": "Paying your old-age pension", "et": "Vanaduspensioni maksmine"},
    "own-processing": {
        "en": "The register's own work on its records",
        "et": "Registri enda töö oma andmetega",
    },
    "parental-benefit": {"en": "Paying parental benefit", "et": "Vanemahüvitise maksmine"},
    "postal-delivery": {"en": "Delivering your post", "et": "Teie posti kättetoimetamine"},
    "school-enrolment": {"en": "Offering a school place", "et": "Koolikoha pakkumine"},
    "social-welfare": {
        "en": "Social welfare from your municipality",
        "et": "Omavalitsuse sotsiaalhoolekanne",
    },
    "subject-access": {
        "en": "Showing you your own data",
        "et": "Teile näidati teie enda andmeid",
    },
    "taxation": {"en": "Assessing and collecting tax", "et": "Maksude määramine ja kogumine"},
    "unemployment-benefit": {
        "en": "Paying unemployment benefit",
        "et": "Töötushüvitise maksmine",
    },
    "vehicle-registration": {
        "en": "Keeping the vehicle register up to date",
        "et": "Liiklusregistri andmete ajakohastamine",
    },
}


def describe_demo_purposes(session: Session) -> None:
    """Put the demo's purposes into words (those not described yet)."""
    described = {p.code for p in list_purposes(session, page=PageRequest(limit=500)).items}
    for code, names in DEMO_PURPOSES.items():
        if code not in described:
            describe_purpose(session, code=code, names=names, actor=ACTOR)
