"""HTTP for re-evaluation when the law changes, for the owning agency's systems and the
central digital office (OAuth 2.0 client credentials of an exchange subsystem).

- ``POST /api/v1/proactive/law-versions`` publishes a parameter version (the caller's member
  owns it, and must own a catalogued service that each changed parameter decides);
  ``GET …/law-versions/{uid}`` reads one.
- ``POST /api/v1/proactive/reevaluations`` plans a run and starts it in the background
  (``202``); ``GET …/reevaluations/{uid}`` is its progress; ``POST …/{uid}/resume`` starts a
  run that stopped again where it stopped.

The owner of the law version, or an exchange administrator (the central digital office), may
start and read a run; anyone else gets ``403``. Every error is an RFC 9457 problem document.
"""

from __future__ import annotations

import threading
import uuid
from typing import Annotated

import structlog
from fastapi import APIRouter, Depends, Request, Response, status
from sqlalchemy.orm import Session

from joinedup import catalogue, exchange
from joinedup.core.db import Database
from joinedup.core.errors import Conflict, Forbidden
from joinedup.core.http import ReadSession, WriteSession, get_database
from joinedup.proactive.reevaluation.law import (
    EARLIEST_EFFECTIVE,
    changed_parameters,
    get_law_version,
    parameter_owners,
    publish_law_version,
)
from joinedup.proactive.reevaluation.schemas import (
    LawVersionIn,
    LawVersionOut,
    ReevaluationIn,
    ReevaluationOut,
)
from joinedup.proactive.reevaluation.service import (
    get_reevaluation,
    run_reevaluation,
    start_reevaluation,
)
from joinedup.proactive.reevaluation.services import catalogued_specs
from joinedup.rules import get_ruleset

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/api/v1/proactive", tags=["proactive: law changes"])


def _client(request: Request) -> exchange.ClientIdentity:
    with get_database(request).reading() as session:
        client: exchange.ClientIdentity = exchange.authenticate_client(
            session, authorization=request.headers.get("authorization")
        )
    return client


Client = Annotated[exchange.ClientIdentity, Depends(_client)]


def _actor(client: exchange.ClientIdentity) -> str:
    return f"client:{client.client_id}"


def _allowed(session: Session, client: exchange.ClientIdentity, owner: str) -> None:
    if owner == f"{client.member_class}/{client.member_code}":
        return
    if exchange.is_administrator(session, client=client):
        return
    raise Forbidden("Only the agency that published the law version, or the central digital "
                    "office, may do this.")  # fmt: skip


def _may_change(session: Session, client: exchange.ClientIdentity, body: LawVersionIn) -> None:
    """Only the agencies whose catalogued services a parameter decides change it: a version
    is in force for every later decision of every service the parameter decides
    (:func:`~joinedup.proactive.reevaluation.law.parameter_owners`; a parameter that another
    agency's decision merely reads through that decision is not theirs). A malformed change
    or an unknown parameter is left to the publication's own checks (``422``)."""
    get_ruleset(body.ruleset)  # an unknown ruleset is named as such, whoever asks
    member = f"{client.member_class}/{client.member_code}"
    services = [s for s in catalogue.active_services(session) if s.ruleset == body.ruleset]
    if not any(f"{s.owner.member_class}/{s.owner.member_code}" == member for s in services):
        raise Forbidden("Only an agency whose services this ruleset decides may change its law.")
    if body.effective_from < EARLIEST_EFFECTIVE:
        return  # refused as such by publish_law_version
    owners = parameter_owners(services, ruleset=body.ruleset, on=body.effective_from)
    for path in changed_parameters(body.ruleset, body.changes):
        deciding = owners.get(path, set())
        if member not in deciding:
            raise Forbidden(
                f"{path} decides "
                + (f"the services of {', '.join(sorted(deciding))}" if deciding else "no service")
                + f" from {body.effective_from.isoformat()}: only "
                + ("their owners" if deciding else "an agency whose service it decides")
                + " may change it."
            )


_RUNNING: set[uuid.UUID] = set()
_RUNNING_LOCK = threading.Lock()


def _run_in_background(database: Database, uid: uuid.UUID) -> bool:
    """Start the run in a thread of this process (False: it runs here already)."""
    with _RUNNING_LOCK:
        if uid in _RUNNING:
            return False
        _RUNNING.add(uid)

    def work() -> None:
        try:
            run_reevaluation(database, uid=uid)
        except Exception as exc:  # recorded on the run (failed, last_error); resumable
            log.warning("reevaluation_stopped", reevaluation=str(uid), error=type(exc).__name__)
        finally:
            with _RUNNING_LOCK:
                _RUNNING.discard(uid)

    threading.Thread(target=work, name=f"reevaluation-{uid}", daemon=True).start()
    return True


@router.post(
    "/law-versions",
    status_code=status.HTTP_201_CREATED,
    response_model=LawVersionOut,
    summary="Publish a parameter version of a ruleset, in force from a date",
)
def post_law_version(body: LawVersionIn, client: Client, session: WriteSession) -> LawVersionOut:
    _may_change(session, client, body)
    record = publish_law_version(
        session,
        ruleset=body.ruleset,
        changes=list(body.changes),
        effective_from=body.effective_from,
        citation=body.citation,
        owner=f"{client.member_class}/{client.member_code}",
        actor=_actor(client),
    )
    return LawVersionOut.of(record)


@router.get("/law-versions/{uid}", response_model=LawVersionOut, summary="A law version")
def read_law_version(uid: uuid.UUID, client: Client, session: ReadSession) -> LawVersionOut:
    return LawVersionOut.of(get_law_version(session, uid=uid))


@router.post(
    "/reevaluations",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ReevaluationOut,
    summary="Re-evaluate the whole population under a law version (runs in the background)",
)
def post_reevaluation(
    body: ReevaluationIn, client: Client, request: Request, response: Response
) -> ReevaluationOut:
    database = get_database(request)
    # committed before the background run starts (it reads the planned chunks)
    with database.unit_of_work() as session:
        law = get_law_version(session, uid=body.law_version)
        _allowed(session, client, law.owner)
        progress = start_reevaluation(
            session,
            law_version=law.uid,
            services=catalogued_specs(session, codes=body.services),
            actor=_actor(client),
            chunk_persons=body.chunk_persons,
        )
    _run_in_background(database, progress.uid)
    response.headers["Location"] = f"/api/v1/proactive/reevaluations/{progress.uid}"
    return ReevaluationOut.of(progress)


@router.get(
    "/reevaluations/{uid}", response_model=ReevaluationOut, summary="A re-evaluation's progress"
)
def read_reevaluation(uid: uuid.UUID, client: Client, session: ReadSession) -> ReevaluationOut:
    progress = get_reevaluation(session, uid=uid)
    _allowed(session, client, progress.owner)
    return ReevaluationOut.of(progress)


@router.post(
    "/reevaluations/{uid}/resume",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ReevaluationOut,
    summary="Resume a re-evaluation that stopped, at its first chunk not done",
)
def resume_reevaluation(uid: uuid.UUID, client: Client, request: Request) -> ReevaluationOut:
    database = get_database(request)
    with database.reading() as session:
        progress = get_reevaluation(session, uid=uid)
        _allowed(session, client, progress.owner)
    if progress.status == "completed":
        raise Conflict("this re-evaluation is completed", reevaluation=str(uid))
    _run_in_background(database, uid)
    return ReevaluationOut.of(progress)
