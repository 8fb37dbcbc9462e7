"""Consent: data agreements (purpose, lawful basis, data items, retention) and consent records
(given, withdrawn; every revision hash-chained and in the transparency log), used by the
exchange wherever an access right's lawful basis is consent. Shaped after GovStack's Consent
API (data agreements, consent records, revisions; the individual is the data subject).

Public names other contexts may use: the use cases, the read models and the events.
"""

from joinedup.consent.events import (
    ConsentGiven,
    ConsentWithdrawn,
    DataAgreementPublished,
    DataAgreementRetired,
)
from joinedup.consent.schemas import (
    BrokenRevision,
    ChainVerification,
    ConsentAction,
    ConsentChange,
    ConsentHistory,
    ConsentInForce,
    ConsentRecordView,
    ConsentStanding,
    DataAgreementRecord,
    DataItem,
    LawfulBasis,
    RevisionRecord,
    SignedAs,
)
from joinedup.consent.service import *  # noqa: F403 (the use cases are the public names)
from joinedup.consent.service import __all__ as _service_names

__all__ = [
    "BrokenRevision",
    "ChainVerification",
    "ConsentAction",
    "ConsentChange",
    "ConsentGiven",
    "ConsentHistory",
    "ConsentInForce",
    "ConsentRecordView",
    "ConsentStanding",
    "ConsentWithdrawn",
    "DataAgreementPublished",
    "DataAgreementRecord",
    "DataAgreementRetired",
    "DataItem",
    "LawfulBasis",
    "RevisionRecord",
    "SignedAs",
    *_service_names,
]
