"""Re-evaluating a whole population when the law changes.

``start_reevaluation`` plans a run for a published law version: the month it takes effect,
the services to re-evaluate, and chunks of persons by register reference (each a checkpoint).
``run_reevaluation`` works through the chunks not yet done, one transaction each: read the
chunk's persons (and those living with them) in bulk through the exchange, evaluate the
services' rules in columns, compare with the stored entitlements, store only what changed,
send those affected a decision letter, and mark the chunk done. Killed or failed, a run
resumes at its first chunk not done; a chunk is never written twice.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np
import structlog
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from joinedup import registries
from joinedup.core.clock import utcnow
from joinedup.core.db import Database
from joinedup.core.errors import Conflict, DomainError, NotFound, ValidationFailed
from joinedup.core.events import emit
from joinedup.core.keys import SigningKey
from joinedup.exchange import exchange_client
from joinedup.proactive.payees import HOLDING, is_household_benefit, payee_mask
from joinedup.proactive.reevaluation.events import ReevaluationCompleted
from joinedup.proactive.reevaluation.inputs import ChunkInputs, ChunkPersons
from joinedup.proactive.reevaluation.law import ruleset_in_force, versions_in_force
from joinedup.proactive.reevaluation.ledger import (
    Revision,
    ServiceSpec,
    Stored,
    store_revisions,
    stored_entitlements,
)
from joinedup.proactive.reevaluation.letters import send_decision_letters
from joinedup.proactive.reevaluation.models import LawVersion, Reevaluation, ReevaluationChunk
from joinedup.proactive.reevaluation.readahead import (
    READ_AHEAD_MIN_PERSONS,
    ChunkJob,
    ChunkRead,
    ReadAhead,
    by_purpose,
    can_read_ahead,
    client_of,
    evaluate,
    read_group,
    stale,
)
from joinedup.rules import Period, Ruleset

log = structlog.get_logger(__name__)

#: Persons (register references) per chunk: one bulk read and one transaction each.
CHUNK_PERSONS = 50_000
MAX_CHUNK_PERSONS = 200_000
EXTRACT_SERVICE = "population-extract"
ACTOR = "proactive:reevaluation"


@dataclass(frozen=True)
class ReevaluationProgress:
    """Where a run stands."""

    uid: uuid.UUID
    law_version: uuid.UUID
    ruleset: str
    version: str
    effective_from: date
    period: str
    services: tuple[str, ...]
    status: str
    chunks_total: int
    chunks_done: int
    persons_total: int
    persons_done: int
    changes: int
    letters: int
    owner: str
    requested_at: datetime
    requested_by: str
    started_at: datetime | None
    finished_at: datetime | None
    last_error: str | None

    @property
    def fraction_done(self) -> float:
        return self.chunks_done / self.chunks_total if self.chunks_total else 1.0


def _progress(run: Reevaluation, law: LawVersion) -> ReevaluationProgress:
    return ReevaluationProgress(
        uid=run.uid,
        law_version=law.uid,
        ruleset=law.ruleset,
        version=law.version,
        effective_from=law.effective_from,
        period=run.period,
        services=tuple(spec["code"] for spec in run.services),
        status=run.status,
        chunks_total=run.chunks_total,
        chunks_done=run.chunks_done,
        persons_total=run.persons_total,
        persons_done=run.persons_done,
        changes=run.changes,
        letters=run.letters,
        owner=f"{run.owner_member_class}/{run.owner_member_code}",
        requested_at=run.requested_at,
        requested_by=run.requested_by,
        started_at=run.started_at,
        finished_at=run.finished_at,
        last_error=run.last_error,
    )


def _law(session: Session, uid: uuid.UUID) -> LawVersion:
    law = session.scalar(select(LawVersion).where(LawVersion.uid == uid))
    if law is None:
        raise NotFound("no such law version", law_version=str(uid))
    return law


def start_reevaluation(
    session: Session,
    *,
    law_version: uuid.UUID,
    services: Sequence[ServiceSpec],
    actor: str,
    chunk_persons: int = CHUNK_PERSONS,
) -> ReevaluationProgress:
    """Plan the re-evaluation of every person under ``law_version`` for ``services`` (of the
    law's ruleset, all owned by the member that published it), in chunks of
    ``chunk_persons`` register references; evaluated for the month the law takes effect.

    Changes: ``proactive_reevaluation`` and its ``proactive_reevaluation_chunk`` rows. Emits
    nothing (the run's completion does). A second run of one law version is a ``Conflict``
    while the first is not completed."""
    law = _law(session, law_version)
    problems: list[dict[str, str]] = []
    if not services:
        problems.append({"field": "services", "message": "name at least one service"})
    if not 1 <= chunk_persons <= MAX_CHUNK_PERSONS:
        problems.append({"field": "chunk_persons", "message": f"must be 1 to {MAX_CHUNK_PERSONS}"})
    for position, spec in enumerate(services):
        where = f"services[{position}]"
        if spec.ruleset != law.ruleset:
            problems.append({"field": where, "message": f"is not a service of {law.ruleset}"})
        if (spec.owner_member_class, spec.owner_member_code) != (
            law.owner_member_class,
            law.owner_member_code,
        ):
            problems.append({"field": where, "message": "belongs to another agency"})
    if len({spec.code for spec in services}) != len(services):
        problems.append({"field": "services", "message": "a service is named twice"})
    if problems:
        raise ValidationFailed(
            "; ".join(f"{p['field']}: {p['message']}" for p in problems), errors=problems
        )
    ruleset = ruleset_in_force(session, law.ruleset)
    for spec in services:
        ruleset.variable(spec.variable)  # UnknownVariable for a service the ruleset lacks
    unfinished = session.scalar(
        select(Reevaluation.uid).where(
            Reevaluation.law_version_id == law.id, Reevaluation.status != "completed"
        )
    )
    if unfinished is not None:
        raise Conflict(
            "a re-evaluation of this law version is not finished: resume it",
            reevaluation=str(unfinished),
        )
    low, high = registries.person_reference_range(session)
    now = utcnow()
    bounds = list(range(low, high + 1, chunk_persons))
    run = Reevaluation(
        uid=uuid.uuid4(),
        law_version_id=law.id,
        services=[dataclasses.asdict(spec) for spec in services],
        period=f"{law.effective_from:%Y-%m}",
        status="planned",
        chunk_persons=chunk_persons,
        chunks_total=len(bounds),
        chunks_done=0,
        persons_total=max(0, high - low + 1),
        persons_done=0,
        changes=0,
        letters=0,
        owner_member_class=law.owner_member_class,
        owner_member_code=law.owner_member_code,
        requested_at=now,
        requested_by=actor[:100],
        started_at=None,
        finished_at=None,
        last_error=None,
    )
    session.add(run)
    session.flush()
    session.add_all(
        ReevaluationChunk(
            run_id=run.id,
            seq=seq,
            first_ref=first,
            end_ref=min(first + chunk_persons, high + 1),
            status="pending",
            persons=0,
            changes=0,
            letters=0,
            done_at=None,
        )
        for seq, first in enumerate(bounds)
    )
    session.flush()
    return _progress(run, law)


def get_reevaluation(session: Session, *, uid: uuid.UUID) -> ReevaluationProgress:
    run = session.scalar(select(Reevaluation).where(Reevaluation.uid == uid))
    if run is None:
        raise NotFound("no such re-evaluation", reevaluation=str(uid))
    law = session.get(LawVersion, run.law_version_id)
    assert law is not None
    return _progress(run, law)


@dataclass(frozen=True)
class ChunkResult:
    seq: int
    persons: int
    changes: int
    letters: int


def _extract_service(session: Session) -> str:
    owner = registries.get_registry(session, code="population")
    return (
        f"{owner.owner_member_class}/{owner.owner_member_code}/"
        f"{owner.owner_subsystem_code}/{EXTRACT_SERVICE}"
    )


def service_values(
    ruleset: Ruleset,
    inputs: ChunkInputs,
    specs: Sequence[ServiceSpec],
    period: Period,
    holders: Mapping[str, Any] | None = None,
) -> dict[str, tuple[Any, Any]]:
    """Per service: (due, amount in cents or None) per person of the chunk (see
    :func:`decide_values`)."""
    return decide_values(ruleset, inputs, specs, evaluate(ruleset, inputs, specs, period), holders)


def decide_values(
    ruleset: Ruleset,
    persons: ChunkPersons,
    specs: Sequence[ServiceSpec],
    evaluated: Mapping[str, Any],
    holders: Mapping[str, Any] | None = None,
) -> dict[str, tuple[Any, Any]]:
    """Per service: (due, amount in cents or None) per person of the chunk, from the
    evaluated values (:func:`~joinedup.proactive.reevaluation.readahead.evaluate`). A
    household's value is its payee's alone (:mod:`joinedup.proactive.payees`): ``holders``
    gives per service code who holds it already (a boolean column; none when not given)."""
    found: dict[str, tuple[Any, Any]] = {}
    nobody = np.zeros(len(persons.person_ref), dtype=np.bool_)
    for spec in specs:
        variable = ruleset.variable(spec.variable)
        column = evaluated[spec.code]
        if variable.entity != ruleset.person.key:
            payee = payee_mask(
                receiving=persons.parent,
                household=persons.household,
                holder=(holders or {}).get(spec.code, nobody),
                birth_parent=persons.birth_parent,
            )
            column = np.where(payee, column, 0)
        if variable.value_type.value == "money":
            found[spec.code] = (column > 0, column)
        else:
            found[spec.code] = (column.astype(np.bool_), None)
    return found


_HOLDING = frozenset(status.value for status in HOLDING)


def _holders(
    session: Session,
    ruleset: Ruleset,
    inputs: ChunkPersons,
    specs: Sequence[ServiceSpec],
    stored: Mapping[tuple[str, str], Stored],
) -> dict[str, Any]:
    """Per household service of ``specs``: who in the chunk holds it already, as a boolean
    column — the chunk's own persons from ``stored`` (read already), the co-residents outside
    its range read here (unlocked: another chunk decides for them)."""
    wanted = [spec.code for spec in specs if is_household_benefit(ruleset, spec.variable)]
    if not wanted:
        return {}
    everyone = inputs.personal_code.tolist()
    outside = [code for code, mine in zip(everyone, inputs.in_range.tolist(), strict=True)
               if not mine]  # fmt: skip
    held = dict(stored)
    if outside:
        held.update(stored_entitlements(session, person_codes=outside, services=wanted, lock=False))
    position = {code: i for i, code in enumerate(everyone)}
    found = {code: np.zeros(len(everyone), dtype=np.bool_) for code in wanted}
    for (person, service), row in held.items():
        if service in found and row.status in _HOLDING:
            found[service][position[person]] = True
    return found


def chunk_job(
    run: Reevaluation,
    law: LawVersion,
    *,
    seq: int,
    first_ref: int,
    end_ref: int,
    specs: Sequence[ServiceSpec],
    extract_service: str,
    versions: tuple[uuid.UUID, ...],
) -> ChunkJob:
    """What reading the chunk ``seq`` of ``run`` needs."""
    return ChunkJob(
        seq=seq,
        first_ref=first_ref,
        end_ref=end_ref,
        period=run.period,
        issue=f"law-change/{run.uid}",
        extract_service=extract_service,
        ruleset=law.ruleset,
        versions=versions,
        specs=tuple(specs),
    )


def process_chunk(
    session: Session,
    *,
    run: Reevaluation,
    law: LawVersion,
    ruleset: Ruleset,
    chunk: ReevaluationChunk,
    specs: Sequence[ServiceSpec],
    extract_service: str,
    log_signer: SigningKey | None = None,
    prepared: ChunkRead | None = None,
) -> ChunkResult:
    """Re-evaluate one chunk in the caller's transaction (see the module docstring), with
    what was read ahead (``prepared``; :mod:`~joinedup.proactive.reevaluation.readahead`)
    when it is still fresh."""
    job = chunk_job(
        run,
        law,
        seq=chunk.seq,
        first_ref=chunk.first_ref,
        end_ref=chunk.end_ref,
        specs=specs,
        extract_service=extract_service,
        versions=(),
    )
    revisions: list[Revision] = []
    persons = 0
    now = utcnow()
    explanation = {
        "evaluated": "columnar",
        "law_version": str(law.uid),
        "version": law.version,
        "changes": list(law.changes),
        "effective_from": law.effective_from.isoformat(),
        "period": run.period,
        "reevaluation": str(run.uid),
    }
    reason = (
        f"The law changed ({law.citation}) from {law.effective_from.isoformat()}: "
        f"re-evaluated under {law.version}."
    )
    for key, group in by_purpose(specs).items():
        services = [spec.code for spec in group]
        with exchange_client(session, client=client_of(group), log_signer=log_signer) as calls:
            read = prepared.groups.get(key) if prepared is not None else None
            if read is not None:
                decided_rows = np.flatnonzero(read.persons.in_range)
                codes = read.persons.personal_code[decided_rows].tolist()
                stored = stored_entitlements(session, person_codes=codes, services=services)
                if prepared is not None and stale(prepared, stored):
                    log.info("reevaluation_read_again", chunk=chunk.seq, reason="stale")
                    read = None
                else:
                    calls.attach_records(read.recordings)
            if read is None:
                read = read_group(calls, ruleset, job, group)
                decided_rows = np.flatnonzero(read.persons.in_range)
                codes = read.persons.personal_code[decided_rows].tolist()
                stored = stored_entitlements(session, person_codes=codes, services=services)
            inputs = read.persons
            persons = max(persons, len(decided_rows))
            values = decide_values(
                ruleset,
                inputs,
                group,
                read.evaluated,
                holders=_holders(session, ruleset, inputs, group, stored),
            )
            decided: list[tuple[str, ServiceSpec, bool, int | None]] = []
            for spec in group:
                due, amount = values[spec.code]
                due_here = due[decided_rows]
                for position in np.flatnonzero(due_here).tolist():
                    value = None if amount is None else int(amount[decided_rows[position]])
                    decided.append((codes[position], spec, True, value))
                due_codes = set(np.asarray(codes, dtype=object)[due_here].tolist())
                decided.extend(
                    (code, spec, False, None)
                    for code, service in stored
                    if service == spec.code and code not in due_codes
                )
            revisions += store_revisions(
                session,
                decided=decided,
                stored=stored,
                effective_from=law.effective_from,
                ruleset_version=law.version,
                reason=reason,
                explanation=explanation,
                actor=ACTOR,
                now=now,
            )
    letters = send_decision_letters(
        session,
        revisions,
        effective_from=law.effective_from,
        citation=law.citation,
        actor=ACTOR,
        log_signer=log_signer,
    )
    return ChunkResult(chunk.seq, persons, len(revisions), letters)


def _why(exc: BaseException) -> str:
    """Why a run stopped, without personal data: a domain error's detail (written to name
    fields, never values), else only the kind of failure (a database error's text would carry
    the statement's parameters)."""
    if isinstance(exc, DomainError):
        return f"{type(exc).__name__}: {exc.detail}"[:2000]
    return type(exc).__name__


#: Called after each chunk commits: (progress, the chunk's result). Raising stops the run
#: there (what a crash does), leaving the chunks done so far committed.
OnChunk = Callable[[ReevaluationProgress, ChunkResult], None]


def run_reevaluation(
    database: Database,
    *,
    uid: uuid.UUID,
    on_chunk: OnChunk | None = None,
    log_signer: SigningKey | None = None,
    read_ahead: bool | None = None,
) -> ReevaluationProgress:
    """Work through the run's chunks not yet done (resuming a run that stopped), each in a
    transaction of its own; a failure marks the run ``failed`` with the reason and re-raises.
    ``read_ahead``: read the next chunk in a second process while one is written (see
    :mod:`~joinedup.proactive.reevaluation.readahead`; by default when the run has more than
    one large chunk left).

    Per chunk: entitlements and their revisions, letters, data-usage records of the bulk read,
    the chunk row; ``entitlement.revised.v1`` per change and ``notify.letter_sent.v1`` per
    letter. At the end ``proactive.reevaluation_completed.v1``."""
    with database.unit_of_work() as session:
        run = session.scalar(select(Reevaluation).where(Reevaluation.uid == uid))
        if run is None:
            raise NotFound("no such re-evaluation", reevaluation=str(uid))
        law = session.get(LawVersion, run.law_version_id)
        assert law is not None
        if run.status == "completed":
            return _progress(run, law)
        run.status = "running"
        run.started_at = run.started_at or utcnow()
        run.last_error = None
        run_id = run.id
        specs = [ServiceSpec(**spec) for spec in run.services]
        ruleset = ruleset_in_force(session, law.ruleset)
        versions = versions_in_force(session, law.ruleset)
        extract_service = _extract_service(session)
        pending = [
            (seq, first, end)
            for seq, first, end in session.execute(
                select(
                    ReevaluationChunk.seq, ReevaluationChunk.first_ref, ReevaluationChunk.end_ref
                )
                .where(ReevaluationChunk.run_id == run_id, ReevaluationChunk.status == "pending")
                .order_by(ReevaluationChunk.seq)
            )
        ]
        jobs = [
            chunk_job(run, law, seq=seq, first_ref=first, end_ref=end, specs=specs,
                      extract_service=extract_service, versions=versions)
            for seq, first, end in pending
        ]  # fmt: skip
        if read_ahead is None:
            read_ahead = len(pending) > 1 and run.chunk_persons >= READ_AHEAD_MIN_PERSONS
    ahead = ReadAhead(database.url) if read_ahead and can_read_ahead(database) else None
    try:
        for position, job in enumerate(jobs):
            seq = job.seq
            if ahead is not None and position + 1 < len(jobs):
                ahead.read(jobs[position + 1])
            prepared = ahead.result(seq) if ahead is not None else None
            with database.unit_of_work() as session:
                chunk = session.scalar(
                    select(ReevaluationChunk)
                    .where(ReevaluationChunk.run_id == run_id, ReevaluationChunk.seq == seq)
                    .with_for_update()
                )
                if chunk is None or chunk.status == "done":
                    continue  # another runner did it meanwhile
                run = session.get(Reevaluation, run_id)
                assert run is not None
                law = session.get(LawVersion, run.law_version_id)
                assert law is not None
                result = process_chunk(
                    session,
                    run=run,
                    law=law,
                    ruleset=ruleset,
                    chunk=chunk,
                    specs=specs,
                    extract_service=extract_service,
                    log_signer=log_signer,
                    prepared=prepared,
                )
                chunk.status = "done"
                chunk.persons, chunk.changes, chunk.letters = (
                    result.persons,
                    result.changes,
                    result.letters,
                )
                chunk.done_at = utcnow()
                session.execute(
                    update(Reevaluation)
                    .where(Reevaluation.id == run_id)
                    .values(
                        chunks_done=Reevaluation.chunks_done + 1,
                        persons_done=Reevaluation.persons_done + result.persons,
                        changes=Reevaluation.changes + result.changes,
                        letters=Reevaluation.letters + result.letters,
                    )
                )
                session.flush()
                session.refresh(run)
                progress = _progress(run, law)
            if on_chunk is not None:
                on_chunk(progress, result)
    except BaseException as exc:
        with database.unit_of_work() as session:
            session.execute(
                update(Reevaluation)
                .where(Reevaluation.id == run_id)
                .values(status="failed", last_error=_why(exc))
            )
        raise
    finally:
        if ahead is not None:
            ahead.close()
    with database.unit_of_work() as session:
        run = session.get(Reevaluation, run_id)
        assert run is not None
        law = session.get(LawVersion, run.law_version_id)
        assert law is not None
        if run.status != "completed":
            run.status = "completed"
            run.finished_at = utcnow()
            emit(
                session,
                ReevaluationCompleted(
                    reevaluation=str(run.uid),
                    law_version=str(law.uid),
                    persons=run.persons_done,
                    changes=run.changes,
                    letters=run.letters,
                ),
            )
        session.flush()
        return _progress(run, law)
