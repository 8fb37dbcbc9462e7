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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

import structlog
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from joinedup import registries
from joinedup.core.clock import utcnow
from joinedup.core.collection import collection_paused
from joinedup.core.db import Database
from joinedup.core.errors import Conflict, DomainError, NotFound, ValidationFailed
from joinedup.core.events import emit
from joinedup.core.keys import SigningKey
from joinedup.proactive.reevaluation.chunk import ChunkResult, chunk_job, process_chunk
from joinedup.proactive.reevaluation.events import ReevaluationCompleted
from joinedup.proactive.reevaluation.law import ruleset_in_force, versions_in_force
from joinedup.proactive.reevaluation.ledger import (
    ServiceSpec,
)
from joinedup.proactive.reevaluation.models import LawVersion, Reevaluation, ReevaluationChunk
from joinedup.proactive.reevaluation.readahead import (
    READ_AHEAD_MIN_PERSONS,
    ReadAhead,
    can_read_ahead,
)

log = structlog.get_logger(__name__)

#: Persons (register references) per chunk: one bulk read and one transaction each.
CHUNK_PERSONS = 50_000
MAX_CHUNK_PERSONS = 200_000
EXTRACT_SERVICE = "population-extract"


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


def _extract_service(session: Session) -> str:
    owner = registries.get_registry(session, code="population")
    return (
        f"{owner.owner_member_class}/{owner.owner_member_code}/"
        f"{owner.owner_subsystem_code}/{EXTRACT_SERVICE}"
    )


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
        pending = session.execute(
            select(ReevaluationChunk.seq, ReevaluationChunk.first_ref, ReevaluationChunk.end_ref)
            .where(ReevaluationChunk.run_id == run_id, ReevaluationChunk.status == "pending")
            .order_by(ReevaluationChunk.seq)
        )
        jobs = [
            chunk_job(run, law, seq=seq, first_ref=first, end_ref=end, specs=specs,
                      extract_service=extract_service, versions=versions)
            for seq, first, end in pending
        ]  # fmt: skip
        if read_ahead is None:
            read_ahead = len(jobs) > 1 and run.chunk_persons >= READ_AHEAD_MIN_PERSONS
    ahead = ReadAhead(database.url) if read_ahead and can_read_ahead(database) else None
    try:
        for position, job in enumerate(jobs):
            seq = job.seq
            if ahead is not None and position + 1 < len(jobs):
                ahead.read(jobs[position + 1])
            prepared = ahead.result(seq) if ahead is not None else None
            with collection_paused(), database.unit_of_work() as session:
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
            if position == 0 and result.changes:
                # the first chunk's writes give the tables they went to their first rows of
                # this kind: PostgreSQL's statistics are read again so that the planner knows
                # them (Database.analyze_after_bulk_load)
                database.analyze_after_bulk_load()
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
