"""Running the registries' write services (:mod:`joinedup.exchange.registry_writes`):
parsing the body, idempotency on the caller's reference, the write's transaction.

**Idempotent on the reference.** ``(client subsystem, reference)`` is unique
(``exchange_write_request``). A request whose reference is new runs the registry's use case and
stores the answer in the same transaction as the registration. The same reference again, with
the same body (compared as canonical JSON) to the same service, is answered with the stored
answer (``replayed``) and writes nothing; with another body or service it is a 409 problem.
The request row is inserted *after* the use case: on PostgreSQL a concurrent request with the
same reference blocks on the unique index until the first commits, then fails, is rolled back
(its registration with it) and replays the first; on SQLite writers queue anyway.

**Nothing partial.** The registration and the row are written in one transaction (in the
caller's, inside a SAVEPOINT): a refusal (every bad input is a
:class:`~joinedup.core.errors.ValidationFailed` naming the body's field) rolls both back, so a
corrected request may reuse its reference.

Two entry points share this: :func:`mediate_write` (``/r1``: its own unit of work, committed
before the mediator's recorder writes the message log) and :func:`run_write` in the caller's
session (the in-process exchange client, the CLI).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any, Protocol, cast

from pydantic import ValidationError
from sqlalchemy import Table, bindparam, insert, make_url, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from joinedup.core.bulk_writes import insert_rows
from joinedup.core.clock import utcnow
from joinedup.core.db import Database
from joinedup.core.errors import Conflict, DomainError, NotFound, ValidationFailed
from joinedup.core.logging import get_logger
from joinedup.exchange.access import Authorization, ClientIdentity, ServiceDescriptor
from joinedup.exchange.calls import provider_refused
from joinedup.exchange.protocol import MediationError
from joinedup.exchange.records import WriteRequest
from joinedup.exchange.registry_services import MethodNotAllowed
from joinedup.exchange.registry_writes import WRITE_SERVICES, WriteOutcome, WriteService

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: SQLite's busy handler alone
    fcntl = None  # type: ignore[assignment]


class MediatedCall(Protocol):
    """What :func:`mediate_write` reads and sets of the mediator's call (its ``Call``)."""

    method: str
    path: str
    body: bytes
    message_id: str
    client: ClientIdentity | None
    service: ServiceDescriptor | None
    authorization: Authorization | None
    status: int
    response_body: bytes
    media_type: str
    error_type: str | None
    subjects: tuple[str, ...]
    returned_fields: tuple[str, ...]
    provider_us: int
    extra_headers: dict[str, str]

    @property
    def service_xroad_id(self) -> str: ...


log = get_logger(__name__)

#: The header a replayed answer carries.
REPLAY_HEADER = "Idempotent-Replay"
#: Attempts of a mediated write whose transaction lost a race (PostgreSQL: two births taking
#: the same personal code, or the same reference sent twice at once).
ATTEMPTS = 3


@dataclass(frozen=True)
class WriteAnswer:
    """What a write service answered (a first answer, or the stored one replayed)."""

    status: int
    body: bytes  # JSON
    data_subjects: tuple[str, ...]
    fields: tuple[str, ...]
    replayed: bool
    registration_id: uuid.UUID

    def json(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.body)
        return value


def is_write_service(service: ServiceDescriptor) -> bool:
    """Whether ``service`` is one of the registries' write services."""
    return service.kind == "registry" and service.code in WRITE_SERVICES


def _field(location: tuple[int | str, ...]) -> str:
    name = ""
    for part in location:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name or "body"


def parse_body(declared: WriteService, body: bytes | None) -> tuple[Any, bytes]:
    """The validated body and the SHA-256 of its canonical JSON (``ValidationFailed`` naming
    each bad field, never echoing its value)."""
    try:
        document = json.loads(body or b"")
    except (ValueError, UnicodeDecodeError):
        raise ValidationFailed(
            "body: must be a JSON object", errors=[{"field": "body", "message": "not JSON"}]
        ) from None
    if not isinstance(document, dict):
        raise ValidationFailed(
            "body: must be a JSON object",
            errors=[{"field": "body", "message": "must be a JSON object"}],
        )
    try:
        parsed = declared.body.model_validate(document)
    except ValidationError as exc:
        errors = [
            {"field": _field(tuple(e["loc"])), "message": e["msg"]}
            for e in exc.errors(include_url=False, include_input=False)
        ]
        raise ValidationFailed(
            "; ".join(f"{e['field']}: {e['message']}" for e in errors), errors=errors
        ) from None
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return parsed, hashlib.sha256(canonical.encode()).digest()


_WRITE_REQUESTS = cast(Table, WriteRequest.__table__)
_STORED = select(
    _WRITE_REQUESTS.c.reference,
    _WRITE_REQUESTS.c.registration_id,
    _WRITE_REQUESTS.c.service_xroad_id,
    _WRITE_REQUESTS.c.body_hash,
    _WRITE_REQUESTS.c.status,
    _WRITE_REQUESTS.c.response_body,
    _WRITE_REQUESTS.c.data_subjects,
).where(
    _WRITE_REQUESTS.c.client_subsystem_id == bindparam("client"),
    _WRITE_REQUESTS.c.reference == bindparam("reference"),
)


def _stored(session: Session, client_subsystem_id: int, reference: str) -> Any:
    """The stored request (columns, no ORM object: this runs on every write)."""
    return (
        session.connection()
        .execute(_STORED, {"client": client_subsystem_id, "reference": reference})
        .first()
    )


_STORED_MANY = select(
    _WRITE_REQUESTS.c.client_subsystem_id,
    _WRITE_REQUESTS.c.reference,
    _WRITE_REQUESTS.c.registration_id,
    _WRITE_REQUESTS.c.service_xroad_id,
    _WRITE_REQUESTS.c.body_hash,
    _WRITE_REQUESTS.c.status,
    _WRITE_REQUESTS.c.response_body,
    _WRITE_REQUESTS.c.data_subjects,
).where(
    _WRITE_REQUESTS.c.client_subsystem_id == bindparam("client"),
    _WRITE_REQUESTS.c.reference.in_(bindparam("references", expanding=True)),
)


def _stored_many(session: Session, writes: Sequence[PendingWrite]) -> dict[tuple[int, str], Any]:
    """The stored requests of a group's references (one query per client subsystem)."""
    wanted: dict[int, set[str]] = {}
    for write in writes:
        wanted.setdefault(write.client.subsystem_id, set()).add(write.parsed.reference)
    found: dict[tuple[int, str], Any] = {}
    connection = session.connection()
    for client, references in wanted.items():
        rows = connection.execute(
            _STORED_MANY, {"client": client, "references": sorted(references)}
        )
        found.update({(client, row.reference): row for row in rows})
    return found


def _replay(row: Any, service: ServiceDescriptor, body_hash: bytes) -> WriteAnswer:
    if row.service_xroad_id != service.xroad_id or row.body_hash != body_hash:
        raise Conflict(
            f"the reference {row.reference!r} was used for another request (registration "
            f"{row.registration_id}): a new registration needs a new reference",
            registration_id=str(row.registration_id),
            reference=row.reference,
        )
    answer = json.loads(row.response_body)
    return WriteAnswer(
        status=row.status,
        body=row.response_body,
        data_subjects=tuple(s for s in row.data_subjects.split(",") if s),
        fields=tuple(answer),
        replayed=True,
        registration_id=row.registration_id,
    )


def check_write(
    *, service: ServiceDescriptor, method: str, path: str, body: bytes | None
) -> tuple[WriteService, Any, bytes]:
    """The write service, the validated body and its hash: what can be refused before the
    database is touched (a :class:`DomainError` problem: 404, 405, 422)."""
    declared = WRITE_SERVICES.get(service.code)
    if declared is None or service.kind != "registry":
        raise NotFound(f"{service.xroad_id} is not a write service")
    if method.upper() != "POST":
        raise MethodNotAllowed(f"{service.code} answers POST only", allow="POST")
    if path not in ("", "/"):
        raise NotFound(f"{service.code} has no resource {path}")
    parsed, body_hash = parse_body(declared, body)
    return declared, parsed, body_hash


@dataclass(frozen=True)
class PendingWrite:
    """A write call that passed :func:`check_write`, waiting for its group."""

    service: ServiceDescriptor
    client: ClientIdentity
    authorization: Authorization
    declared: WriteService
    parsed: Any
    body_hash: bytes
    message_id: str


def _answer(
    write: PendingWrite, registration_id: uuid.UUID, outcome: WriteOutcome
) -> tuple[WriteAnswer, dict[str, Any]]:
    """The call's answer and its ``exchange_write_request`` row."""
    allowed = set(write.authorization.fields)
    answer = {"reference": write.parsed.reference, "registrationId": str(registration_id)}
    answer.update(outcome.answer)
    answer = {k: v for k, v in answer.items() if k in allowed}
    response = json.dumps(answer, separators=(",", ":")).encode()
    row = {
        "registration_id": registration_id,
        "client_subsystem_id": write.client.subsystem_id,
        "reference": write.parsed.reference,
        "service_xroad_id": write.service.xroad_id[:400],
        "body_hash": write.body_hash,
        "status": 201,
        "response_body": response,
        "data_subjects": ",".join(outcome.subjects),
        "message_id": write.message_id[:128],
        "created_at": utcnow(),
    }
    written = WriteAnswer(
        status=201,
        body=response,
        data_subjects=outcome.subjects,
        fields=tuple(answer),
        replayed=False,
        registration_id=registration_id,
    )
    return written, row


def run_writes(session: Session, writes: Sequence[PendingWrite]) -> list[WriteAnswer | DomainError]:
    """Run a group of write calls in ``session``'s transaction; one answer or refusal each.

    Each call is what it would be alone (:func:`run_write`): a stored reference is replayed
    (or is a 409), a new one registers and stores its request row, a refusal writes nothing.
    Calls of a service with ``run_many`` (births) are registered together; the others one
    by one, each inside a SAVEPOINT. A reference repeated within the group is answered after
    its first call, as a replay. Anything but a refusal (an ``IntegrityError`` when another
    process registered the same reference meanwhile) raises, and the caller retries the
    calls one at a time.
    """
    results: list[WriteAnswer | DomainError | None] = [None] * len(writes)
    first: set[tuple[int, str]] = set()
    repeated: list[int] = []
    fresh: dict[str, list[int]] = {}  # service code → calls that register
    stored = _stored_many(session, writes)
    for index, write in enumerate(writes):
        key = (write.client.subsystem_id, write.parsed.reference)
        if key in first:
            repeated.append(index)
            continue
        first.add(key)
        found = stored.get(key)
        if found is None:
            fresh.setdefault(write.declared.code, []).append(index)
            continue
        try:
            results[index] = _replay(found, write.service, write.body_hash)
        except DomainError as refusal:
            results[index] = refusal
    rows: list[dict[str, Any]] = []
    for indices in fresh.values():
        declared = writes[indices[0]].declared
        bodies = [(writes[i].parsed, writes[i].client.xroad_id[:100]) for i in indices]
        if declared.run_many is not None:
            outcomes = declared.run_many(session, bodies)
        else:
            outcomes = []
            for body, actor in bodies:
                try:
                    with session.begin_nested():
                        outcomes.append(declared.run(session, body, actor))
                except DomainError as refusal:
                    outcomes.append(refusal)
        for index, outcome in zip(indices, outcomes, strict=True):
            if isinstance(outcome, DomainError):
                results[index] = outcome
                continue
            results[index], row = _answer(writes[index], uuid.uuid4(), outcome)
            rows.append(row)
    if rows:  # on PostgreSQL a reference another process stored meanwhile fails the group here
        names = tuple(rows[0])
        insert_rows(session.connection(), _WRITE_REQUESTS, names, [tuple(r.values()) for r in rows])
    for index in repeated:
        write = writes[index]
        try:
            with session.begin_nested():
                results[index] = _run_checked(session, write)
        except DomainError as refusal:
            results[index] = refusal
    return [result for result in results if result is not None]


def _run_checked(session: Session, write: PendingWrite) -> WriteAnswer:
    """One checked call: the stored answer replayed, or registered now (savepoint owned by
    the caller)."""
    found = _stored(session, write.client.subsystem_id, write.parsed.reference)
    if found is not None:
        return _replay(found, write.service, write.body_hash)
    outcome = write.declared.run(session, write.parsed, write.client.xroad_id[:100])
    answer, row = _answer(write, uuid.uuid4(), outcome)
    session.execute(insert(_WRITE_REQUESTS), row)
    return answer


def run_write(
    session: Session,
    *,
    service: ServiceDescriptor,
    client: ClientIdentity,
    method: str,
    path: str,
    body: bytes | None,
    authorization: Authorization,
    message_id: str,
    savepoint: bool = True,
) -> WriteAnswer:
    """Run the write service behind ``service`` in ``session``'s transaction (see the module
    docstring): the registration and its request row, or the stored answer replayed.

    Changes the registry (through its use case, which emits its ``population.*`` event) and
    ``exchange_write_request``; a refusal changes nothing. Without ``savepoint`` the caller
    promises to roll its whole transaction back when this raises (the mediator's own unit
    of work), which saves the SAVEPOINT."""
    declared, parsed, body_hash = check_write(service=service, method=method, path=path, body=body)
    reference: str = parsed.reference
    found = _stored(session, client.subsystem_id, reference)
    if found is not None:
        return _replay(found, service, body_hash)
    write = PendingWrite(
        service=service,
        client=client,
        authorization=authorization,
        declared=declared,
        parsed=parsed,
        body_hash=body_hash,
        message_id=message_id,
    )
    try:
        with session.begin_nested() if savepoint else nullcontext():
            outcome = declared.run(session, parsed, client.xroad_id[:100])
            written, row = _answer(write, uuid.uuid4(), outcome)
            # Last, so a refusal above leaves nothing; on PostgreSQL a concurrent request with
            # the same reference blocks here until the first commits, then fails and replays.
            session.execute(insert(_WRITE_REQUESTS), row)
    except IntegrityError:
        if not savepoint:
            raise  # the mediator retries in a new transaction, which replays
        found = _stored(session, client.subsystem_id, reference)
        if found is None:  # another registration took what this one needed (a code)
            raise
        return _replay(found, service, body_hash)
    return written


@contextlib.contextmanager
def writers_lock(database: Database) -> Iterator[None]:
    """On a SQLite file, queue on the same ``flock`` as the exchange's recorders
    (``<file>.recorder-lock``, :class:`~joinedup.exchange.recorder.Recorder`) before taking
    SQLite's write lock: a registration waiting here wakes the moment the other writer is done,
    where SQLite's busy handler would sleep in steps of up to 100 ms."""
    path = _lock_path(database.url)
    if path is None or fcntl is None:
        yield
        return
    with open(path, "a+b") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


@functools.lru_cache(maxsize=16)
def _lock_path(url: str) -> str | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return f"{parsed.database}.recorder-lock"


def mediate_write(database: Database, call: MediatedCall) -> None:
    """The mediator's write call: :func:`run_write` in a unit of work of its own, committed
    (with the registry's event) before the mediator records the call; sets the outcome on
    ``call`` as the mediator's registry calls do. A refusal of the provider is answered as its
    problem document; a failure raises :class:`MediationError`."""
    assert call.service is not None
    assert call.client is not None
    assert call.authorization is not None
    started = time.perf_counter_ns()
    try:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                with writers_lock(database), database.unit_of_work() as session:
                    answer = run_write(
                        session,
                        service=call.service,
                        client=call.client,
                        method=call.method,
                        path=call.path,
                        body=call.body,
                        authorization=call.authorization,
                        message_id=call.message_id,
                        savepoint=False,
                    )
                break
            except IntegrityError:
                if attempt == ATTEMPTS:
                    raise
    except DomainError as exc:  # the register refused the input: passed through unchanged
        provider_refused(call, exc)
        return
    except Exception as exc:
        log.exception("registry write service failed", service=call.service.xroad_id)
        raise MediationError(
            "Server.ServerProxy.ServiceFailed", "the registry service failed to answer"
        ) from exc
    finally:
        call.provider_us = (time.perf_counter_ns() - started) // 1000
    call.status = answer.status
    call.response_body = answer.body
    call.subjects = answer.data_subjects
    call.returned_fields = answer.fields
    if answer.replayed:
        call.extra_headers[REPLAY_HEADER] = "true"
