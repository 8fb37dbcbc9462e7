"""The exchange's directory in process memory: services, access rights, active API clients,
administrators and signing keys, as one immutable snapshot per database.

The mediation path must decide in microseconds, so it never queries these tables per call.
Every change to them (publishing a service, granting or revoking a right, creating or
revoking a client, creating a key, describing a purpose) increments the one-row counter
``exchange_directory_version.generation`` in the same transaction (:func:`bump_generation`).
A process re-reads that counter **at most once per second** (:data:`POLL_SECONDS`) and
reloads the snapshot when it changed. So a change committed by another process is seen
within about a second (the staleness bound); a change made in this process marks the local
snapshot stale at once, so the next call reloads it.

Snapshots are kept per engine, so two databases in one process (tests, or a tool that
compares two) never share one; a local change marks stale every engine of its database.
"""

from __future__ import annotations

import threading
import time
import uuid
import weakref
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import CursorResult, Engine, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from joinedup.core.keys import SigningKey, VerifyingKey
from joinedup.core.settings import get_settings
from joinedup.exchange.models import (
    AccessRight,
    AccessRightPurpose,
    Administrator,
    ApiClient,
    DirectoryVersion,
    Member,
    MemberKey,
    Purpose,
    Service,
    Subsystem,
    TokenKey,
)

if TYPE_CHECKING:
    from joinedup.exchange.access import ClientIdentity, ServiceDescriptor

#: How often (seconds) a process checks whether the directory changed: the staleness bound.
POLL_SECONDS = 1.0
#: At most this many local calls' authorisations are kept per snapshot (see
#: ``Directory.decisions``): the clients, services, purposes and days in use, with room to spare.
MAX_DECISIONS = 4096
_VERSION_ROW = 1


@dataclass(frozen=True)
class LegalBasis:
    legal_basis: str
    legal_basis_url: str | None
    #: With lawful basis consent: the data agreement the data subject must consent to.
    data_agreement_id: uuid.UUID | None = None


@dataclass(frozen=True)
class RightEntry:
    """An access right that has not been revoked (its validity dates still apply)."""

    right_id: int
    client_subsystem_id: int
    service_id: int
    fields: tuple[str, ...]
    field_set: frozenset[str]
    valid_from: date
    valid_to: date | None
    purposes: dict[str, LegalBasis]
    law_enforcement: bool
    disclosure_delay_days: int | None
    own_residents_only: bool


@dataclass(frozen=True)
class StoredKey:
    """A signing key as stored: the public half, and the private half still encrypted."""

    key_id: str
    owner_id: int  # the member (member keys) or 0 (the token key)
    public_pem: str
    encrypted: bytes
    created_at: datetime
    retired_at: datetime | None


@dataclass
class Directory:
    """One consistent snapshot of the directory (treat as read-only)."""

    generation: int
    instance: str
    #: (member class, member code, subsystem code, service code) → service
    services: dict[tuple[str, str, str, str], ServiceDescriptor]
    services_by_id: dict[int, ServiceDescriptor]
    #: (client subsystem id, service id) → rights not revoked, oldest first
    rights: dict[tuple[int, int], tuple[RightEntry, ...]]
    #: active (not revoked) API clients by client id
    clients: dict[str, ClientIdentity]
    administrators: frozenset[int]
    member_municipality: dict[int, str | None]
    member_keys: dict[int, StoredKey]  # active key per member id
    token_keys: dict[str, StoredKey]  # by key id, retired ones too
    #: Every registered subsystem: (member class, member code, subsystem code) → (subsystem
    #: id, member id). Members and subsystems are never removed or renamed, so an entry is
    #: never wrong; one another process registered since is found with ``check``.
    subsystems: dict[tuple[str, str, str], tuple[int, int]] = field(default_factory=dict)
    #: Every registered member's name by (member class, member code), as ``subsystems``.
    member_names: dict[tuple[str, str], str] = field(default_factory=dict)
    #: The described purposes' names by language, by purpose code.
    purposes: dict[str, dict[str, str]] = field(default_factory=dict)
    #: Decrypted private keys, filled on first use (by key id).
    unlocked: dict[str, SigningKey] = field(default_factory=dict)
    verifying: dict[str, VerifyingKey] = field(default_factory=dict)
    #: Access tokens verified while this snapshot is current: token → (client id, expiry).
    tokens: dict[str, tuple[str, float]] = field(default_factory=dict)
    #: The local calls authorised while this snapshot is current (an authorisation depends
    #: on the snapshot alone): (client subsystem id, client member id, service id, purpose,
    #: fields, day) → the :class:`~joinedup.exchange.access.Authorization`; refusals are never
    #: kept, and at most :data:`MAX_DECISIONS` are.
    decisions: dict[tuple[Any, ...], Any] = field(default_factory=dict)

    def verifying_key(self, key_id: str) -> VerifyingKey | None:
        found = self.verifying.get(key_id)
        if found is None:
            stored = self.token_keys.get(key_id)
            if stored is None:
                return None
            found = self.verifying[key_id] = VerifyingKey.from_pem(stored.public_pem)
        return found


class _Cache:
    __slots__ = ("checked_at", "directory", "loaded_marks", "lock", "marks")

    def __init__(self) -> None:
        self.directory: Directory | None = None
        self.checked_at = 0.0
        #: Times marked stale, and how many of those the snapshot's load began after: a mark
        #: during a load leaves it stale; it is stale while a load runs.
        self.marks = 0
        self.loaded_marks = 0
        self.lock = threading.Lock()

    @property
    def stale(self) -> bool:
        return self.marks != self.loaded_marks

    def mark(self) -> None:
        self.marks += 1


_caches: weakref.WeakKeyDictionary[Engine, _Cache] = weakref.WeakKeyDictionary()
_caches_lock = threading.Lock()


def _engine_of(session: Session) -> Engine:
    return session.get_bind().engine


def _cache_of(session: Session) -> _Cache:
    engine = _engine_of(session)
    cache = _caches.get(engine)
    if cache is None:
        with _caches_lock:
            cache = _caches.setdefault(engine, _Cache())
    return cache


def read_generation(session: Session) -> int:
    """The directory's change counter as this transaction sees it (0 before any change)."""
    value = session.scalar(
        select(DirectoryVersion.generation).where(DirectoryVersion.id == _VERSION_ROW)
    )
    return int(value or 0)


def bump_generation(session: Session) -> None:
    """Count a change to the directory (in the caller's transaction) and mark this process's
    snapshot stale. Every use case that changes services, rights, clients or keys calls it."""
    result = session.execute(
        update(DirectoryVersion)
        .where(DirectoryVersion.id == _VERSION_ROW)
        .values(generation=DirectoryVersion.generation + 1)
    )
    if cast(CursorResult[Any], result).rowcount == 0:
        try:
            with session.begin_nested():
                session.execute(insert(DirectoryVersion).values(id=_VERSION_ROW, generation=1))
        except IntegrityError:  # another transaction created the row first
            session.execute(
                update(DirectoryVersion)
                .where(DirectoryVersion.id == _VERSION_ROW)
                .values(generation=DirectoryVersion.generation + 1)
            )
    mark_stale(session)


def mark_stale(session: Session) -> None:
    """Make the next :func:`current_directory` of this process reload, on every engine of the
    session's database (SQLite has a writer and a reader engine on one file)."""
    url = str(_engine_of(session).url)
    _cache_of(session).mark()
    with _caches_lock:
        for engine, cache in list(_caches.items()):
            if str(engine.url) == url:
                cache.mark()


def current_directory(session: Session, *, check: bool = False) -> Directory:
    """The directory snapshot, reloaded through ``session`` when it may be out of date.
    ``check``: compare its generation with the database's now, not at most once a second
    (a lookup that missed: what another process registered a moment ago is then found)."""
    cache = _cache_of(session)
    now = time.monotonic()
    directory = cache.directory
    recent = now - cache.checked_at < POLL_SECONDS and not check
    if directory is not None and not cache.stale and recent:
        return directory
    generation = read_generation(session)
    if directory is not None and not cache.stale and directory.generation == generation:
        cache.checked_at = now
        return directory
    with cache.lock:
        loaded = cache.directory
        if loaded is not None and not cache.stale and loaded.generation == generation:
            return loaded  # another thread loaded it while this one waited for the lock
        marks = cache.marks  # stale until loaded: the other threads wait, not take the old
        directory = load_directory(session, generation)
        cache.directory = directory
        cache.checked_at = now
        cache.loaded_marks = marks  # marked again meanwhile: still stale
    return directory


def _services(
    session: Session, instance: str
) -> tuple[dict[tuple[str, str, str, str], ServiceDescriptor], dict[int, ServiceDescriptor]]:
    from joinedup.exchange.access import ServiceDescriptor

    by_path: dict[tuple[str, str, str, str], ServiceDescriptor] = {}
    by_id: dict[int, ServiceDescriptor] = {}
    rows = session.execute(
        select(Service, Subsystem, Member)
        .join(Subsystem, Service.subsystem_id == Subsystem.id)
        .join(Member, Subsystem.member_id == Member.id)
    )
    for service, subsystem, member in rows:
        key = (member.member_class, member.member_code, subsystem.code, service.code)
        descriptor = ServiceDescriptor(
            service_id=service.id,
            xroad_id="/".join((instance, *key)),
            code=service.code,
            provider_member_id=member.id,
            provider_subsystem_id=subsystem.id,
            kind=service.kind,
            fields=tuple(service.fields),
            log_bodies=service.log_bodies,
            base_url=service.base_url,
        )
        by_path[key] = descriptor
        by_id[service.id] = descriptor
    return by_path, by_id


def _rights(session: Session) -> dict[tuple[int, int], tuple[RightEntry, ...]]:
    purposes: dict[int, dict[str, LegalBasis]] = {}
    purpose_rows = session.execute(
        select(AccessRightPurpose)
        .join(AccessRight, AccessRightPurpose.right_id == AccessRight.id)
        .where(AccessRight.revoked_at.is_(None))
        .order_by(AccessRightPurpose.id)
    )
    for row in purpose_rows.scalars():
        purposes.setdefault(row.right_id, {})[row.purpose] = LegalBasis(
            row.legal_basis, row.legal_basis_url, row.data_agreement_id
        )
    found: dict[tuple[int, int], list[RightEntry]] = {}
    rights = session.scalars(
        select(AccessRight).where(AccessRight.revoked_at.is_(None)).order_by(AccessRight.id)
    )
    for right in rights:
        entry = RightEntry(
            right_id=right.id,
            client_subsystem_id=right.client_subsystem_id,
            service_id=right.service_id,
            fields=tuple(right.fields),
            field_set=frozenset(right.fields),
            valid_from=right.valid_from,
            valid_to=right.valid_to,
            purposes=purposes.get(right.id, {}),
            law_enforcement=right.law_enforcement,
            disclosure_delay_days=right.disclosure_delay_days,
            own_residents_only=right.own_residents_only,
        )
        found.setdefault((right.client_subsystem_id, right.service_id), []).append(entry)
    return {key: tuple(entries) for key, entries in found.items()}


def _clients(session: Session, instance: str) -> dict[str, ClientIdentity]:
    from joinedup.exchange.access import ClientIdentity

    rows = session.execute(
        select(ApiClient.client_id, Subsystem, Member)
        .join(Subsystem, ApiClient.subsystem_id == Subsystem.id)
        .join(Member, Subsystem.member_id == Member.id)
        .where(ApiClient.revoked_at.is_(None))
    )
    return {
        client_id: ClientIdentity(
            client_id=client_id,
            subsystem_id=subsystem.id,
            member_id=member.id,
            member_class=member.member_class,
            member_code=member.member_code,
            subsystem_code=subsystem.code,
            xroad_id=f"{instance}/{member.member_class}/{member.member_code}/{subsystem.code}",
            member_name=member.name,
        )
        for client_id, subsystem, member in rows
    }


def _stored(row: Any, owner_id: int) -> StoredKey:
    return StoredKey(
        key_id=row.key_id,
        owner_id=owner_id,
        public_pem=row.public_key_pem,
        encrypted=row.private_key,
        created_at=row.created_at,
        retired_at=row.retired_at,
    )


def load_directory(session: Session, generation: int) -> Directory:
    """Read the whole directory through ``session`` (a handful of queries)."""
    instance = get_settings().xroad_instance
    services, services_by_id = _services(session, instance)
    member_keys = {
        key.member_id: _stored(key, key.member_id)
        for key in session.scalars(select(MemberKey).where(MemberKey.retired_at.is_(None)))
    }
    token_keys = {key.key_id: _stored(key, 0) for key in session.scalars(select(TokenKey))}
    municipalities = dict(session.execute(select(Member.id, Member.municipality_code)).all())
    return Directory(
        generation=generation,
        instance=instance,
        services=services,
        services_by_id=services_by_id,
        rights=_rights(session),
        clients=_clients(session, instance),
        administrators=frozenset(session.scalars(select(Administrator.subsystem_id))),
        member_municipality=municipalities,
        member_keys=member_keys,
        token_keys=token_keys,
        subsystems=_subsystems(session),
        member_names={
            (cls, code): name
            for cls, code, name in session.execute(
                select(Member.member_class, Member.member_code, Member.name)
            )
        },
        purposes={
            code: dict(names)
            for code, names in session.execute(select(Purpose.code, Purpose.names))
        },
    )


def _subsystems(session: Session) -> dict[tuple[str, str, str], tuple[int, int]]:
    rows = session.execute(
        select(
            Member.member_class, Member.member_code, Subsystem.code, Subsystem.id, Member.id
        ).join(Member, Subsystem.member_id == Member.id)
    )
    return {(cls, member, code): (sid, mid) for cls, member, code, sid, mid in rows}
