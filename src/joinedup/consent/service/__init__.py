"""The consent register's use cases, one module per topic; everything public is re-exported."""

from joinedup.consent.service.agreements import (
    MAX_RETENTION_DAYS,
    get_data_agreement,
    list_agreement_versions,
    list_data_agreements,
    publish_data_agreement,
    retire_data_agreement,
    revise_data_agreement,
)
from joinedup.consent.service.history import (
    consent_history,
    consent_standings,
    list_consents,
    verify_consent_chain,
)
from joinedup.consent.service.in_force import (
    consent_in_force,
    consent_revisions_of,
    has_consent,
)
from joinedup.consent.service.records import (
    agreement_of_record,
    change_consent,
    find_consent_record,
    get_consent_record,
    give_consent,
    withdraw_consent,
)

__all__ = [
    "MAX_RETENTION_DAYS",
    "agreement_of_record",
    "change_consent",
    "consent_history",
    "consent_in_force",
    "consent_revisions_of",
    "consent_standings",
    "find_consent_record",
    "get_consent_record",
    "get_data_agreement",
    "give_consent",
    "has_consent",
    "list_agreement_versions",
    "list_consents",
    "list_data_agreements",
    "publish_data_agreement",
    "retire_data_agreement",
    "revise_data_agreement",
    "verify_consent_chain",
    "withdraw_consent",
]
