"""My overview: what every base registry holds about the person (or business) the signed-in
person acts for, which agency keeps each register, and how to get a fact corrected.

Every fact is read **through the exchange** as the portal (purpose ``subject-access``), with
the signed-in person as the user and, when they act for someone else, that person as the
represented party: each read leaves a data-usage record the subject sees in "Who used my
data". A section the mandate does not cover (a power of attorney for some data only) is not
read at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from joinedup.core.errors import Forbidden, NotFound
from joinedup.core.http import get_database
from joinedup.core.keys import load_log_signing_key
from joinedup.core.settings import get_settings
from joinedup.exchange import (
    ExchangeClient,
    LocalCallRefused,
    get_member,
    local_client_identity,
)
from joinedup.registries import get_registry
from joinedup.web.auth import Citizen, CitizenContext, csrf_protect
from joinedup.web.deps import ReadSession
from joinedup.web.templating import render

router = APIRouter(
    prefix="/portal",
    include_in_schema=False,
    default_response_class=HTMLResponse,
    dependencies=[Depends(csrf_protect)],
)

#: The purpose of every read this page makes (a right of the portal in the exchange).
PURPOSE = "subject-access"


@dataclass(frozen=True)
class Source:
    """One registry service shown as one section of the overview."""

    key: str  # the section (template) key
    service: str  # the registry service code
    registry: str  # the registry it reads
    category: str  # the data category a mandate must cover


PERSON_SOURCES = (
    Source("person", "person", "population", "personal-details"),
    Source("family", "relations", "population", "family"),
    Source("residence", "residence", "addresses", "residence"),
    Source("roles", "representations", "businesses", "personal-details"),
    Source("employment", "employment", "employment", "income"),
    Source("income", "income-totals", "employment", "income"),
    Source("account", "payment-account", "payment-accounts", "payment-account"),
)
BUSINESS_SOURCES = (Source("business", "business", "businesses", "personal-details"),)


@dataclass
class Section:
    """What the page shows of one source: its facts, or why there are none."""

    key: str
    registry: str
    agency: str
    state: str  # "shown", "empty" (the register has nothing), "not-covered", "refused"
    facts: dict[str, Any] = field(default_factory=dict)


def _agency(session: Session, registry: str, names: dict[str, str]) -> str:
    if registry not in names:
        record = get_registry(session, code=registry)
        member = get_member(
            session, member_class=record.owner_member_class, member_code=record.owner_member_code
        )
        names[registry] = member.name
    return names[registry]


def _service_ref(session: Session, source: Source) -> str:
    record = get_registry(session, code=source.registry)
    return (
        f"{record.owner_member_class}/{record.owner_member_code}/"
        f"{record.owner_subsystem_code}/{source.service}"
    )


def read_overview(
    session: Session, citizen: CitizenContext, calls: ExchangeClient
) -> list[Section]:
    """Each section of the overview, read through ``calls`` (only what the mandate covers)."""
    business = citizen.acting_for.is_business
    sources = BUSINESS_SOURCES if business else PERSON_SOURCES
    query = (
        {"registrationCode": citizen.subject_code}
        if business
        else {"personalCode": citizen.subject_code}
    )
    names: dict[str, str] = {}
    sections = []
    for source in sources:
        section = Section(
            key=source.key,
            registry=source.registry,
            agency=_agency(session, source.registry, names),
            state="shown",
        )
        sections.append(section)
        try:
            citizen.authorise(session, f"data:{source.category}")
        except Forbidden:
            section.state = "not-covered"
            continue
        try:
            section.facts = calls.call(
                _service_ref(session, source), purpose=PURPOSE, query=query
            ).body
        except NotFound:
            section.state = "empty"
        except LocalCallRefused:
            section.state = "refused"
    return sections


@router.get("/overview")
def overview(request: Request, citizen: Citizen, session: ReadSession) -> HTMLResponse:
    """Reads in a read-only transaction, then writes the reads' records in a short write
    transaction committed before the page is shown (SQLite's write lock is held for the
    writing only, not for the seven reads)."""
    calls = ExchangeClient(
        session=session,
        client=local_client_identity(session, client=citizen.portal),
        log_signer=load_log_signing_key(get_settings()),
        user_id=citizen.actor_code,
        represented_party=None if citizen.acting_for.is_self else citizen.subject_code,
        key_database=get_database(request),
    )
    sections = read_overview(session, citizen, calls)
    with get_database(request).unit_of_work() as records:
        calls.flush(into=records)
    return render(request, "portal/overview.html", {"sections": sections})
