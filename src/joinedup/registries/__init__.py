"""The base registries: population, addresses, businesses, employment and income, payment
accounts. Each is kept by one member agency and read by others through the exchange.

Public names: the use cases and queries (:mod:`joinedup.registries.service`), the read
models (:mod:`joinedup.registries.schemas`), the events (:mod:`joinedup.registries.events`) and
the identifier rules (:mod:`joinedup.registries.codes`, :mod:`joinedup.registries.iban`).
"""

from joinedup.registries.codes import (
    SERIALS_PER_DAY,
    inspect_personal_codes,
    is_valid_business_code,
    is_valid_personal_code,
    issue_business_codes,
    issue_personal_codes,
    personal_code_prefixes,
)
from joinedup.registries.iban import NATIONAL_COUNTRY, iban_problem, make_ibans, normalise_iban
from joinedup.registries.schemas import (
    AddressRecord,
    BusinessRecord,
    DissolutionReason,
    EmploymentRecord,
    IncomeRecord,
    LegalForm,
    MunicipalityRecord,
    NameRecord,
    PaymentAccountRecord,
    PersonRecord,
    RegionRecord,
    RegistryRecord,
    RelationKind,
    RelationRecord,
    RepresentativeRecord,
    RepresentativeRole,
    ResidenceRecord,
    Sex,
    UnionKind,
)
from joinedup.registries.service import *  # noqa: F403 (the use cases are the public names)
from joinedup.registries.service import __all__ as _service_names

__all__ = [
    "NATIONAL_COUNTRY",
    "SERIALS_PER_DAY",
    "AddressRecord",
    "BusinessRecord",
    "DissolutionReason",
    "EmploymentRecord",
    "IncomeRecord",
    "LegalForm",
    "MunicipalityRecord",
    "NameRecord",
    "PaymentAccountRecord",
    "PersonRecord",
    "RegionRecord",
    "RegistryRecord",
    "RelationKind",
    "RelationRecord",
    "RepresentativeRecord",
    "RepresentativeRole",
    "ResidenceRecord",
    "Sex",
    "UnionKind",
    "iban_problem",
    "inspect_personal_codes",
    "is_valid_business_code",
    "is_valid_personal_code",
    "issue_business_codes",
    "issue_personal_codes",
    "make_ibans",
    "normalise_iban",
    "personal_code_prefixes",
    *_service_names,
]
