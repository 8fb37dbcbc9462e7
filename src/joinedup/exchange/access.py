"""Who may call what: the identities and decisions of the mediation path.

The mediation path (``exchange.mediation``) asks, for every call: who is calling
(:func:`joinedup.exchange.oauth.authenticate_client`), which service is called
(:func:`resolve_service`), and may this client read these fields of it for this purpose
today (:func:`authorize`). All three answer from the in-memory directory
(:mod:`joinedup.exchange.directory`): no database query on the hot path but the
once-a-second check of the directory's change counter.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy.orm import Session

from joinedup.core.errors import Forbidden, NotFound
from joinedup.core.settings import get_settings
from joinedup.exchange.directory import Directory, RightEntry, current_directory

#: Why :func:`authorize` refused a call (``AccessDenied.reason``).
DENIAL_REASONS = frozenset(
    {
        "no-purpose",
        "no-right",
        "purpose-not-allowed",
        "fields-not-allowed",
        "right-expired",
        "consent-missing",
    }
)


@dataclass(frozen=True)
class ClientIdentity:
    """The subsystem an access token was issued to."""

    client_id: str  # the OAuth client id
    subsystem_id: int
    member_id: int
    member_class: str  # GOV | COM | NGO
    member_code: str
    subsystem_code: str
    xroad_id: str  # "INSTANCE/CLASS/MEMBER/SUBSYSTEM"
    member_name: str


@dataclass(frozen=True)
class ServiceDescriptor:
    """A published service, as the mediation path needs it."""

    service_id: int
    xroad_id: str  # "INSTANCE/CLASS/MEMBER/SUBSYSTEM/SERVICE"
    code: str
    provider_member_id: int
    provider_subsystem_id: int
    kind: str  # "registry" (in-process provider) | "rest" (HTTP provider by OpenAPI)
    fields: tuple[str, ...]  # every field the service can return
    log_bodies: bool  # store bodies in the message log (else hashes only)
    base_url: str | None  # for kind == "rest"


@dataclass(frozen=True)
class Authorization:
    """A call :func:`authorize` allowed: under which right, purpose and legal basis, for
    which fields."""

    right_id: int
    purpose: str
    legal_basis: str
    fields: tuple[str, ...]  # the fields this call may receive (requested ∩ allowed)
    law_enforcement: bool
    hidden_until: date | None  # usage hidden from the person until this date (law enforcement)
    #: The right is limited to residents of this municipality (code): the provider answers
    #: only about persons living there (a local authority reading its own residents).
    residents_of: str | None = None
    legal_basis_url: str | None = None
    #: The purpose's lawful basis is consent: the provider answers only about a data subject
    #: whose consent to this data agreement is in force (checked before any data is read).
    consent_agreement: uuid.UUID | None = None


class AccessDenied(Forbidden):
    """The client may not make this call. ``reason`` is one of :data:`DENIAL_REASONS`.

    ``consent-missing`` is raised by the provider call itself (only it knows the data
    subject): the mediator answers it like the other refusals."""

    slug = "access-denied"
    title = "Access denied"

    def __init__(self, detail: str, *, reason: str, **extensions: Any) -> None:
        assert reason in DENIAL_REASONS, reason
        super().__init__(detail, reason=reason, **extensions)
        self.reason = reason


@dataclass(frozen=True)
class ProviderResponse:
    """What a registry service answered."""

    status: int
    body: dict[str, Any]  # JSON answer, already restricted to the authorised fields
    data_subjects: tuple[str, ...]  # personal codes whose data the answer holds
    fields: tuple[str, ...]  # fields actually returned
    #: The legal basis of this answer when it is more precise than the right's (the consent
    #: it was given under); the mediator records it instead.
    legal_basis: str | None = None


def resolve_service(
    session: Session,
    *,
    instance: str,
    member_class: str,
    member_code: str,
    subsystem_code: str,
    service_code: str,
    directory: Directory | None = None,
) -> ServiceDescriptor:
    """The service at ``INSTANCE/CLASS/MEMBER/SUBSYSTEM/SERVICE`` (``NotFound`` if this
    federation publishes none there), in ``directory`` (default: the snapshot in force)."""
    directory = directory or current_directory(session)
    found = None
    if instance == get_settings().xroad_instance:
        found = directory.services.get((member_class, member_code, subsystem_code, service_code))
    if found is None:
        raise NotFound(
            f"no service {instance}/{member_class}/{member_code}/{subsystem_code}/{service_code} "
            "is published",
            service=f"{instance}/{member_class}/{member_code}/{subsystem_code}/{service_code}",
        )
    return found


def _in_force(right: RightEntry, on: date) -> bool:
    return right.valid_from <= on and (right.valid_to is None or on < right.valid_to)


def authorize(
    session: Session,
    *,
    client: ClientIdentity,
    service: ServiceDescriptor,
    purpose: str | None,
    fields: Sequence[str] | None,
    on: date,
) -> Authorization:
    """May ``client`` call ``service`` on the day ``on``, for ``purpose``, receiving ``fields``
    (None: every field its right allows)? Returns the :class:`Authorization`, or raises
    :class:`AccessDenied` naming the reason. Changes nothing (the caller records refusals)."""
    if not purpose or not purpose.strip():
        raise AccessDenied(
            "name the purpose of the call (the X-Road-Purpose header or the purpose parameter): "
            "no personal data is disclosed without one",
            reason="no-purpose",
        )
    directory = current_directory(session)
    rights = directory.rights.get((client.subsystem_id, service.service_id), ())
    if not rights:
        raise AccessDenied(
            f"{client.xroad_id} has no access right to {service.xroad_id}", reason="no-right"
        )
    in_force = [r for r in rights if _in_force(r, on)]
    if not in_force:
        raise AccessDenied(
            f"the access right of {client.xroad_id} to {service.xroad_id} is not in force "
            f"on {on.isoformat()}",
            reason="right-expired",
        )
    for_purpose = [r for r in in_force if purpose in r.purposes]
    if not for_purpose:
        allowed = sorted({p for r in in_force for p in r.purposes})
        raise AccessDenied(
            f"{client.xroad_id} may not call {service.xroad_id} for the purpose {purpose!r}",
            reason="purpose-not-allowed",
            purpose=purpose,
            allowed_purposes=allowed,
        )
    if fields is None:
        chosen = max(for_purpose, key=lambda r: (len(r.fields), -r.right_id))
        granted = chosen.fields
    else:
        requested = frozenset(fields)
        fitting = [r for r in for_purpose if requested <= r.field_set]
        if not fitting:
            best = min(for_purpose, key=lambda r: (len(requested - r.field_set), r.right_id))
            refused = sorted(requested - best.field_set)
            unknown = sorted(requested - set(service.fields))
            detail = f"{client.xroad_id} may not receive the field(s) {', '.join(refused)}"
            if unknown:
                detail += f" ({', '.join(unknown)}: not a field of {service.code})"
            raise AccessDenied(detail, reason="fields-not-allowed", fields=refused, purpose=purpose)
        chosen = min(fitting, key=lambda r: (len(r.fields), r.right_id))
        granted = tuple(f for f in service.fields if f in requested)
    basis = chosen.purposes[purpose]
    hidden_until = None
    if chosen.law_enforcement:
        hidden_until = on + timedelta(days=chosen.disclosure_delay_days or 0)
    residents_of = None
    if chosen.own_residents_only:
        residents_of = directory.member_municipality.get(client.member_id)
        if residents_of is None:  # fail closed: a right for residents needs a municipality
            raise AccessDenied(
                f"{client.xroad_id} serves no municipality: its residents-only right "
                f"to {service.xroad_id} cannot be used",
                reason="no-right",
            )
    return Authorization(
        right_id=chosen.right_id,
        purpose=purpose,
        legal_basis=basis.legal_basis,
        fields=granted,
        law_enforcement=chosen.law_enforcement,
        hidden_until=hidden_until,
        residents_of=residents_of,
        legal_basis_url=basis.legal_basis_url,
        consent_agreement=basis.data_agreement_id,
    )
