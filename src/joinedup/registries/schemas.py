"""Read models of the registries (what queries return and the API will serialise)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class Sex(StrEnum):
    FEMALE = "F"
    MALE = "M"


class RelationKind(StrEnum):
    PARENT = "parent"
    SPOUSE = "spouse"
    PARTNER = "partner"


class UnionKind(StrEnum):
    """What ``register_marriage`` registers: a marriage or a registered partnership."""

    MARRIAGE = "spouse"
    REGISTERED_PARTNERSHIP = "partner"


class DissolutionReason(StrEnum):
    DIVORCE = "divorce"
    ANNULMENT = "annulment"


class LegalForm(StrEnum):
    PRIVATE_LIMITED = "private_limited"
    PUBLIC_LIMITED = "public_limited"
    SOLE_PROPRIETOR = "sole_proprietor"
    PARTNERSHIP = "partnership"
    COOPERATIVE = "cooperative"
    NON_PROFIT = "non_profit"
    FOUNDATION = "foundation"


class RepresentativeRole(StrEnum):
    BOARD_MEMBER = "board_member"
    CHAIR = "chair"
    PROCURATOR = "procurator"
    OWNER = "owner"


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)


class RegionRecord(_Record):
    id: int
    code: str
    name: str


class MunicipalityRecord(_Record):
    id: int
    code: str
    name: str
    region_code: str
    region_name: str


class AddressRecord(_Record):
    id: int
    street: str
    house_number: str
    apartment: str | None
    postcode: str
    municipality_code: str
    municipality_name: str
    region_code: str

    def one_line(self) -> str:
        flat = f"-{self.apartment}" if self.apartment else ""
        return f"{self.street} {self.house_number}{flat}, {self.postcode} {self.municipality_name}"


class NameRecord(_Record):
    given_names: str
    family_name: str
    valid_from: date
    valid_to: date | None


class ResidenceRecord(_Record):
    id: int
    person_id: int
    address: AddressRecord
    valid_from: date
    valid_to: date | None
    recorded_at: datetime


class PersonRecord(_Record):
    """A person as the register knew them at a moment, with their name and residence then."""

    id: int
    personal_code: str
    given_names: str | None
    family_name: str | None
    birth_date: date
    birth_place: str
    sex: Sex
    citizenship: str
    date_of_death: date | None
    residence: ResidenceRecord | None


class RelationRecord(_Record):
    id: int
    kind: RelationKind
    person_id: int
    related_person_id: int
    valid_from: date
    valid_to: date | None
    end_reason: str | None


class BusinessRecord(_Record):
    id: int
    registration_code: str
    name: str
    legal_form: LegalForm
    address_id: int | None
    registered_on: date
    deregistered_on: date | None


class RepresentativeRecord(_Record):
    id: int
    business_id: int
    person_id: int
    role: RepresentativeRole
    valid_from: date
    valid_to: date | None


class EmploymentRecord(_Record):
    id: int
    person_id: int
    business_id: int
    valid_from: date
    valid_to: date | None


class IncomeRecord(_Record):
    id: int
    person_id: int
    business_id: int
    period: str
    amount: int  # minor units (cents)
    currency: str


class PaymentAccountRecord(_Record):
    id: int
    person_id: int
    iban: str
    valid_from: date
    valid_to: date | None


class RegistryRecord(_Record):
    code: str
    name: str
    owner_member_class: str
    owner_member_code: str
    owner_subsystem_code: str
