"""Calls through the exchange from inside the platform, in the caller's unit of work.

The platform's own components act for member agencies: the proactive services read the
registries for the Social Insurance Board, the portal reads them for the person signed in, the
identity context reads relations to establish a parent's mandate. They run in the same process
as the registries, but a read across an agency boundary is still a *mediated* read: the same
access right, purpose and field check as ``/r1``, the same message-log record signed by both
members' keys, one data-usage record per data subject, and the same transparency-log entries.
What differs is only the transport: no HTTP and no OAuth token (the component *is* the
subsystem's system; which subsystem it speaks for is configuration, not a credential).

The records are written in the **caller's transaction** (so they exist exactly when the work
they explain exists) and in one batch per unit of work: ``with exchange_client(...) as calls:``
writes everything the block read, with one signed tree head, when the block ends without an
exception (:mod:`joinedup.exchange.local_clients` opens the clients). A refused call raises
after its refusal has been queued, so a caller that handles the refusal and commits leaves the
refusal on record too.

``calls.call(service, purpose=…, query={…})`` reads (``GET`` over ``/r1``);
``calls.write(service, purpose=…, body={…})`` calls one of the registries' write services (civil
registration, ``POST`` with a JSON body over ``/r1``) in the same transaction, with the same
idempotency on the body's ``reference`` (:mod:`joinedup.exchange.write_services`); both bodies
go into the message log.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from joinedup.core.clock import today
from joinedup.core.db import Database
from joinedup.core.errors import Conflict, DomainError, NotFound
from joinedup.core.ids import new_id
from joinedup.core.keys import SigningKey
from joinedup.core.settings import get_settings
from joinedup.core.translog import AppendResult
from joinedup.exchange.access import (
    AccessDenied,
    Authorization,
    ClientIdentity,
    ServiceDescriptor,
    authorize,
    resolve_service,
)
from joinedup.exchange.directory import MAX_DECISIONS, Directory, current_directory
from joinedup.exchange.local_records import LOCAL_METHOD, CallFacts, call_recording
from joinedup.exchange.protocol import DENIALS
from joinedup.exchange.recorder import Recorder, Recording, write_recordings
from joinedup.exchange.registry_services import call_registry_service
from joinedup.exchange.schemas import ServiceRef
from joinedup.exchange.write_services import is_write_service, run_write


@dataclass(frozen=True)
class LocalAnswer:
    """What a service answered a local call."""

    message_id: str
    service: str  # INSTANCE/CLASS/MEMBER/SUBSYSTEM/SERVICE
    purpose: str
    legal_basis: str
    body: dict[str, Any]
    data_subjects: tuple[str, ...]
    fields: tuple[str, ...]
    status: int = 200
    #: A write service answered a repeated reference with its stored answer (nothing written).
    replayed: bool = False


class LocalCallRefused(DomainError):
    """The exchange refused a local call (no right, purpose or fields; unknown service).

    ``error_type`` is the X-Road error the same call over ``/r1`` would have carried."""

    slug = "exchange-call-refused"
    title = "The data exchange refused the call"
    status = 403

    def __init__(self, detail: str, *, error_type: str, status: int, **extensions: Any) -> None:
        super().__init__(detail, error_type=error_type, **extensions)
        self.error_type = error_type
        #: The HTTP status the same call over ``/r1`` would have been answered with.
        self.call_status = status


@dataclass
class ExchangeClient:
    """A client subsystem's calls through the exchange inside one unit of work."""

    session: Session
    client: ClientIdentity
    log_signer: SigningKey
    user_id: str | None = None
    represented_party: str | None = None
    #: For a client reading in a read-only transaction (records written with
    #: ``flush(into=…)``): a member's first signing key is created in a transaction of its
    #: own on this database, as the mediator does, rather than in the read transaction.
    key_database: Database | None = None
    _pending: list[Recording] = field(default_factory=list)
    _keys: dict[int, SigningKey] = field(default_factory=dict)
    #: The services named, parsed once per name for the batch; the directory snapshot the
    #: last call resolved its service in (the calls it authorised are kept with the snapshot
    #: itself, ``Directory.decisions``, for every client of the process).
    _named: dict[tuple[str, str], tuple[ServiceRef, str]] = field(default_factory=dict)
    _directory: Directory | None = None

    def call(
        self,
        service: ServiceRef | str,
        *,
        purpose: str,
        query: Mapping[str, str],
        fields: Sequence[str] | None = None,
        issue: str | None = None,
        user_id: str | None = None,
        represented_party: str | None = None,
        on: date | None = None,
    ) -> LocalAnswer:
        """Call a registry service for ``purpose`` with ``query`` (its parameters); returns the
        answer restricted to the fields the right allows (``fields`` narrows them further).

        Queues the call's message-log record and data-usage records (written by
        :meth:`flush`). Raises :class:`LocalCallRefused` when the exchange refuses (the refusal
        is queued too) and the provider's :class:`DomainError` when it rejects the question
        (``ValidationFailed``, ``NotFound``) — also recorded."""
        started = time.perf_counter_ns()
        instance = get_settings().xroad_instance
        ref, xroad_id = self._name(service, instance)
        message_id = str(new_id())
        user = user_id if user_id is not None else self.user_id
        party = represented_party if represented_party is not None else self.represented_party
        facts = CallFacts(
            message_id=message_id,
            service_xroad_id=xroad_id,
            purpose=purpose,
            query=dict(query),
            fields=tuple(fields) if fields is not None else None,
            issue=issue,
            user_id=user,
            represented_party=party,
        )
        descriptor: ServiceDescriptor | None = None
        authorization: Authorization | None = None
        try:
            descriptor = self._resolve(ref, instance)
            if descriptor.kind != "registry":
                raise LocalCallRefused(
                    f"{descriptor.xroad_id} is a member's REST service: call it over /r1",
                    error_type="Server.ServerProxy.UnknownService",
                    status=404,
                )
            if is_write_service(descriptor):
                raise LocalCallRefused(
                    f"{descriptor.xroad_id} is a write service: use write()",
                    error_type="Client.InvalidRequest",
                    status=400,
                )
            authorization = self._authorize(descriptor, purpose, facts.fields, on)
            try:
                answer = call_registry_service(
                    self.session,
                    service=descriptor,
                    method=LOCAL_METHOD,
                    path="",
                    query=facts.query,
                    body=None,
                    authorization=authorization,
                )
            except AccessDenied as exc:  # decided by the provider call (consent)
                raise LocalCallRefused(
                    exc.detail, error_type=DENIALS[exc.reason], status=403, **exc.extensions
                ) from exc
            if answer.legal_basis:  # the consent the answer was given under
                authorization = replace(authorization, legal_basis=answer.legal_basis)
        except LocalCallRefused as refused:
            self._queue(facts, descriptor, authorization, started, status=refused.call_status,
                        error_type=refused.error_type, body=b"")  # fmt: skip
            raise
        except DomainError as rejected:
            self._queue(facts, descriptor, authorization, started, status=rejected.status,
                        error_type=f"Provider.{rejected.slug}", body=b"")  # fmt: skip
            raise
        body = json.dumps(answer.body, separators=(",", ":"), default=str).encode()
        returned = answer.fields or authorization.fields
        self._queue(
            facts, descriptor, authorization, started, status=answer.status, error_type=None,
            body=body, subjects=answer.data_subjects, returned=returned,
        )  # fmt: skip
        return LocalAnswer(
            message_id=message_id,
            service=descriptor.xroad_id,
            purpose=authorization.purpose,
            legal_basis=authorization.legal_basis,
            body=answer.body,
            data_subjects=answer.data_subjects,
            fields=returned,
        )

    def _name(self, service: ServiceRef | str, instance: str) -> tuple[ServiceRef, str]:
        """The service a call names, and its X-Road identifier (``ValidationFailed`` for a
        malformed name)."""
        if isinstance(service, ServiceRef):
            return service, f"{instance}/{service}"
        named = self._named.get((instance, service))
        if named is None:
            ref = ServiceRef.parse(service, instance=instance)
            named = self._named[(instance, service)] = (ref, f"{instance}/{ref}")
        return named

    def _resolve(self, ref: ServiceRef, instance: str) -> ServiceDescriptor:
        """The service ``ref`` as the directory in force publishes it (a refusal when it
        publishes none)."""
        self._directory = directory = current_directory(self.session)
        try:
            return resolve_service(
                self.session,
                instance=instance,
                member_class=ref.member_class,
                member_code=ref.member_code,
                subsystem_code=ref.subsystem_code,
                service_code=ref.service_code,
                directory=directory,
            )
        except NotFound as exc:
            raise LocalCallRefused(
                exc.detail, error_type="Server.ServerProxy.UnknownService", status=404
            ) from exc

    def _authorize(
        self,
        descriptor: ServiceDescriptor,
        purpose: str,
        fields: tuple[str, ...] | None,
        on: date | None,
    ) -> Authorization:
        """The decision of :func:`~joinedup.exchange.access.authorize`, made once per
        directory snapshot for a client, service, purpose, fields and day (kept with the
        snapshot :meth:`_resolve` found, for every client of the process; a refusal is not
        remembered)."""
        day = on or today()
        directory = self._directory
        assert directory is not None  # (resolved first)
        client = self.client
        shape = (client.subsystem_id, client.member_id, descriptor.service_id, purpose, fields, day)
        found: Authorization | None = directory.decisions.get(shape)
        if found is not None:
            return found
        try:
            found = authorize(
                self.session,
                client=self.client,
                service=descriptor,
                purpose=purpose,
                fields=fields,
                on=day,
            )
        except AccessDenied as exc:
            status = 400 if exc.reason == "no-purpose" else 403
            raise LocalCallRefused(
                exc.detail, error_type=DENIALS[exc.reason], status=status, reason=exc.reason
            ) from exc
        if len(directory.decisions) < MAX_DECISIONS:
            directory.decisions[shape] = found
        return found

    def write(
        self,
        service: ServiceRef | str,
        *,
        purpose: str,
        body: Mapping[str, Any],
        method: str = "POST",
        issue: str | None = None,
        user_id: str | None = None,
        represented_party: str | None = None,
        on: date | None = None,
    ) -> LocalAnswer:
        """Call a registry's write service (civil registration) with the JSON ``body``, in the
        caller's transaction: the registration and its ``population.*`` event, or the stored
        answer when the body's ``reference`` was used before (``replayed``; nothing written).

        Recorded like :meth:`call`, with both bodies in the message log (the write services
        keep them). Raises :class:`LocalCallRefused` when the exchange refuses, and the
        register's :class:`DomainError` (``ValidationFailed`` naming the body's field,
        ``Conflict`` for a reference used for another body) when it rejects the request —
        also recorded; a refused write writes nothing."""
        started = time.perf_counter_ns()
        instance = get_settings().xroad_instance
        ref, xroad_id = self._name(service, instance)
        request_body = json.dumps(dict(body), separators=(",", ":"), default=str).encode()
        facts = CallFacts(
            message_id=str(new_id()),
            service_xroad_id=xroad_id,
            purpose=purpose,
            query={},
            fields=None,
            issue=issue,
            user_id=user_id if user_id is not None else self.user_id,
            represented_party=(
                represented_party if represented_party is not None else self.represented_party
            ),
            method=method.upper(),
            request_body=request_body,
        )
        descriptor: ServiceDescriptor | None = None
        authorization: Authorization | None = None
        try:
            descriptor = self._resolve(ref, instance)
            if not is_write_service(descriptor):
                raise LocalCallRefused(
                    f"{descriptor.xroad_id} is not a write service: use call()",
                    error_type="Client.InvalidRequest",
                    status=400,
                )
            authorization = self._authorize(descriptor, purpose, None, on)
            try:
                written = run_write(
                    self.session,
                    service=descriptor,
                    client=self.client,
                    method=facts.method,
                    path="",
                    body=request_body,
                    authorization=authorization,
                    message_id=facts.message_id,
                )
            except IntegrityError as exc:  # lost a race for what the registration needed
                raise Conflict(
                    "a concurrent registration took what this one needed (e.g. the next "
                    "personal code): send the request again"
                ) from exc
        except LocalCallRefused as refused:
            self._queue(facts, descriptor, authorization, started, status=refused.call_status,
                        error_type=refused.error_type, body=b"")  # fmt: skip
            raise
        except DomainError as rejected:
            self._queue(facts, descriptor, authorization, started, status=rejected.status,
                        error_type=f"Provider.{rejected.slug}", body=b"")  # fmt: skip
            raise
        self._queue(
            facts, descriptor, authorization, started, status=written.status, error_type=None,
            body=written.body, subjects=written.data_subjects, returned=written.fields,
        )  # fmt: skip
        return LocalAnswer(
            message_id=facts.message_id,
            service=descriptor.xroad_id,
            purpose=authorization.purpose,
            legal_basis=authorization.legal_basis,
            body=written.json(),
            data_subjects=written.data_subjects,
            fields=written.fields,
            status=written.status,
            replayed=written.replayed,
        )

    def _key(self, member_id: int) -> SigningKey:
        from joinedup.exchange.service.keys import member_signing_key

        key = self._keys.get(member_id)
        if key is None:
            if (
                self.key_database is not None
                and member_id not in current_directory(self.session).member_keys
            ):
                with self.key_database.unit_of_work() as writing:
                    key = member_signing_key(writing, member_id=member_id)
            else:
                key = member_signing_key(self.session, member_id=member_id)
            self._keys[member_id] = key
        return key

    def _queue(
        self,
        facts: CallFacts,
        service: ServiceDescriptor | None,
        authorization: Authorization | None,
        started_ns: int,
        **outcome: Any,  # status, error_type, body, subjects, returned
    ) -> None:
        self._pending.append(
            call_recording(
                self.client, facts, service, authorization, started_ns, key=self._key, **outcome
            )
        )

    @property
    def pending(self) -> int:
        """Calls made whose records are not yet written."""
        return len(self._pending)

    def detach_records(self) -> list[Recording]:
        """Take the queued records away, without the members' signing keys, for another
        client of the same subsystem to write (:meth:`attach_records`) — a read done in another
        process whose records are written in the transaction that uses what it read."""
        pending, self._pending = self._pending, []
        for recording in pending:
            if recording.message is not None:
                recording.message = replace(recording.message, client_key=None, provider_key=None)
        return pending

    def attach_records(self, recordings: Sequence[Recording]) -> None:
        """Queue records another client of this subsystem made (:meth:`detach_records`),
        to be signed with the members' keys as this client's own calls are."""
        if any(r.message is not None and r.message.row["client_member_id"] != self.client.member_id
               for r in recordings):  # fmt: skip
            raise ValueError("the records were made by another client")
        for recording in recordings:
            message = recording.message
            if message is not None:
                provider = message.row["provider_member_id"]
                recording.message = replace(
                    message,
                    client_key=self._key(self.client.member_id),
                    provider_key=self._key(provider) if provider is not None else None,
                )
            self._pending.append(recording)

    def flush(self, into: Session | None = None) -> AppendResult | None:
        """Write every queued record in the caller's transaction (or, for a caller that only
        read, in the write transaction ``into``, committed before it shows what it read):
        one transparency-log batch (one signed tree head) for all of them. Changes the
        exchange's message-log, data-usage and monitoring tables and the transparency log;
        emits no event."""
        if not self._pending:
            return None
        pending, self._pending = self._pending, []
        return write_recordings(into or self.session, pending, signer=self.log_signer)

    def take_records(self) -> list[Recording]:
        """Take the queued records away as they are, signed-to-be with the members' keys, for
        the caller to write with other clients' (:func:`~joinedup.exchange.local_clients.
        write_read_records`)."""
        pending, self._pending = self._pending, []
        return pending

    def commit_records(self, database: Database, *, recorder: Recorder | None = None) -> None:
        """For a caller that only read: have every queued record committed before it shows
        what it read. With ``recorder`` (the web process's group-commit writer, see
        :func:`~joinedup.exchange.recorder.recorder_of`) they are written together with the
        other requests' records, in its transaction and transparency-log batch, signed with
        the log key it holds, as the records of ``/r1`` calls are; without, in a write
        transaction of their own. Raises what kept a record from being committed."""
        if not self._pending:
            return
        if (
            recorder is None
            or not recorder.running
            or recorder.signer.key_id != self.log_signer.key_id
        ):  # (another log key: an application set up apart from the process's settings)
            with database.unit_of_work() as session:
                self.flush(into=session)
            return
        pending, self._pending = self._pending, []
        recorder.submit_all(pending).result()
