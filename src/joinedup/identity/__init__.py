"""Identity: who is signed in, how surely, and for whom they may act.

- **Sign-in** (:mod:`joinedup.identity.relying_party`): joinedup is a relying party of any
  OpenID Connect provider (the national eID); the embedded provider
  (:mod:`joinedup.identity.provider`) stands in for it in the demo and in tests.
- **Web sessions**: server-side rows, revocable, with idle and absolute timeouts; sign-in
  throttling per account and per address, shared by every process.
- **Levels of assurance**: eIDAS low, substantial, high, carried from the provider's ``acr``.
- **Staff roles** per organisation (an exchange member).
- **Mandates**: parents for their minor children and business representatives (derived from
  the registries through the exchange when used), powers of attorney (kept here), and
  :func:`authorise`, the one check made before acting for someone else.

Public names: the use cases (:mod:`joinedup.identity.service`), the read models
(:mod:`joinedup.identity.schemas`) and the events (:mod:`joinedup.identity.events`).
"""

from joinedup.identity.events import (
    MandateGranted,
    MandateRevoked,
    StaffRoleGranted,
    StaffRoleRevoked,
)
from joinedup.identity.relying_party import (
    RelyingParty,
    SignInRefused,
    forget_provider_metadata,
)
from joinedup.identity.schemas import (
    DATA_CATEGORIES,
    EVERYTHING,
    ActingOption,
    LevelOfAssurance,
    Mandate,
    MandateKind,
    MandateOptions,
    PowerOfAttorneyRecord,
    ProviderAccountRecord,
    StaffMembership,
    StaffRoleName,
    StaffRoleRecord,
    VerifiedIdentity,
)
from joinedup.identity.service import *  # noqa: F403 (the use cases are the public names)
from joinedup.identity.service import __all__ as _service_names

__all__ = [
    "DATA_CATEGORIES",
    "EVERYTHING",
    "ActingOption",
    "LevelOfAssurance",
    "Mandate",
    "MandateGranted",
    "MandateKind",
    "MandateOptions",
    "MandateRevoked",
    "PowerOfAttorneyRecord",
    "ProviderAccountRecord",
    "RelyingParty",
    "SignInRefused",
    "StaffMembership",
    "StaffRoleGranted",
    "StaffRoleName",
    "StaffRoleRecord",
    "StaffRoleRevoked",
    "VerifiedIdentity",
    "forget_provider_metadata",
    *_service_names,
]
