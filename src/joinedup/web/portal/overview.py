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
from joinedup.exchange import ExchangeClient, LocalCallRefused, member_names
from joinedup.registries import registry_owners
from joinedup.web.auth import Citizen, CitizenContext
from joinedup.web.csrf import csrf_protect
from joinedup.web.endpoint_thread import PageRoute
from joinedup.web.recorded_reads import recorded_reads
from joinedup.web.templating import render

router = APIRouter(
    route_class=PageRoute,
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


@dataclass(frozen=True)
class _Owner:
    """Who keeps a register: the agency's name and the subsystem its services are under."""

    agency: str
    subsystem: str  # CLASS/MEMBER/SUBSYSTEM


def _owners(session: Session, codes: set[str]) -> dict[str, _Owner]:
    """The owners of the registers ``codes``: one query for the page, not two per section (a
    register without a registered owner is left out; its section is then refused)."""
    owners = {code: owner for code, owner in registry_owners(session).items() if code in codes}
    names = member_names(session, ((c, m) for c, m, _ in owners.values()))
    return {
        code: _Owner(names.get((c, m), m), f"{c}/{m}/{subsystem}")
        for code, (c, m, subsystem) in owners.items()
    }


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
    owners = _owners(session, {source.registry for source in sources})
    sections = []
    for source in sources:
        owner = owners.get(source.registry)
        section = Section(
            key=source.key,
            registry=source.registry,
            agency=owner.agency if owner else "",
            state="shown",
        )
        sections.append(section)
        try:
            citizen.authorise(session, f"data:{source.category}")
        except Forbidden:
            section.state = "not-covered"
            continue
        if owner is None:
            section.state = "refused"
            continue
        try:
            section.facts = calls.call(
                f"{owner.subsystem}/{source.service}", purpose=PURPOSE, query=query
            ).body
        except NotFound:
            section.state = "empty"
        except LocalCallRefused:
            section.state = "refused"
    return sections


@router.get("/overview")
def overview(request: Request, citizen: Citizen) -> HTMLResponse:
    """Reads in a read-only transaction; the reads' records are committed with the process's
    group commit before the page is shown (:mod:`joinedup.web.recorded_reads`)."""
    with recorded_reads(
        request,
        client=citizen.portal,
        user_id=citizen.actor_code,
        represented_party=None if citizen.acting_for.is_self else citizen.subject_code,
    ) as (session, calls):
        sections = read_overview(session, citizen, calls)
    return render(request, "portal/overview.html", {"sections": sections})
