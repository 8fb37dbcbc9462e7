"""The identity context's events.

Unlike the registries' events (which carry register references), a mandate's events carry the
personal codes of the two persons: identity holds no register reference of its own, and the
contexts that react (the digital mailbox telling the grantee) must not import identity to
resolve one. Outbox payloads stay inside the platform's database and bus.
"""

from __future__ import annotations

import dataclasses
from datetime import date

from joinedup.core.events import Event


@dataclasses.dataclass(frozen=True, kw_only=True)
class MandateGranted(Event):
    """A person gave another a power of attorney."""

    name = "mandate.granted.v1"
    reference: str
    kind: str
    grantor_code: str
    grantee_code: str
    everything: bool
    services: list[str]
    data_categories: list[str]
    valid_from: date
    valid_to: date | None


@dataclasses.dataclass(frozen=True, kw_only=True)
class MandateRevoked(Event):
    """A power of attorney was revoked (by its grantor) before it ended."""

    name = "mandate.revoked.v1"
    reference: str
    kind: str
    grantor_code: str
    grantee_code: str
    revoked_by: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class StaffRoleGranted(Event):
    name = "identity.staff_role_granted.v1"
    role_id: int
    member_class: str
    member_code: str
    role: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class StaffRoleRevoked(Event):
    name = "identity.staff_role_revoked.v1"
    role_id: int
    member_class: str
    member_code: str
    role: str
