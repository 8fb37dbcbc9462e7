"""The portal's front door: every service of every agency at every level, organised around
life events, from the service catalogue. Nothing here is personal: no sign-in is needed."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from joinedup import catalogue
from joinedup.catalogue import CatalogueService, LifeEvent
from joinedup.core.errors import NotFound, ValidationFailed
from joinedup.core.pagination import PageRequest
from joinedup.web.auth import OptionalPrincipal, csrf_protect
from joinedup.web.deps import ReadSession
from joinedup.web.templating import render

router = APIRouter(
    prefix="/portal",
    include_in_schema=False,
    default_response_class=HTMLResponse,
    dependencies=[Depends(csrf_protect)],
)
LEVELS = ("national", "regional", "local")


def _all(session: ReadSession) -> list[CatalogueService]:
    found: list[CatalogueService] = []
    cursor = None
    while True:
        page = catalogue.list_catalogued_services(
            session, page=PageRequest(cursor=cursor, limit=500)
        )
        found += page.items
        if page.next_cursor is None:
            return found
        cursor = page.next_cursor


def _by_agency(services: list[CatalogueService]) -> list[tuple[str, list[CatalogueService]]]:
    groups: dict[str, list[CatalogueService]] = {}
    for service in sorted(services, key=lambda s: (s.owner.name, s.name())):
        groups.setdefault(service.owner.name, []).append(service)
    return list(groups.items())


def home_context(session: ReadSession) -> dict[str, object]:
    """What the portal's start page shows of the catalogue: each life event with its
    services, and how many services each level of government has."""
    by_event = catalogue.services_by_life_event(session)
    services = _all(session)
    return {
        "life_events": [(event, len(items)) for event, items in by_event.items() if items],
        "levels": [(level, sum(1 for s in services if s.level.value == level)) for level in LEVELS],
    }


@router.get("/life-events/{event}")
def life_event(
    request: Request, event: str, session: ReadSession, principal: OptionalPrincipal
) -> HTMLResponse:
    try:
        chosen = LifeEvent(event)
    except ValueError:
        raise NotFound("there is no such life event") from None
    services = catalogue.services_for_life_event(session, life_event=chosen)
    return render(
        request,
        "portal/life_event.html",
        {
            "event": chosen,
            "levels": [
                (level, _by_agency([s for s in services if s.level.value == level]))
                for level in LEVELS
            ],
        },
    )


@router.get("/services")
def services(
    request: Request,
    session: ReadSession,
    principal: OptionalPrincipal,
    level: Annotated[str, Query(max_length=20)] = "national",
) -> HTMLResponse:
    if level not in LEVELS:
        raise ValidationFailed("level must be national, regional or local", parameter="level")
    chosen = [s for s in _all(session) if s.level.value == level]
    return render(
        request,
        "portal/services.html",
        {"level": level, "levels": LEVELS, "agencies": _by_agency(chosen)},
    )


@router.get("/services/{code}")
def service(
    request: Request, code: str, session: ReadSession, principal: OptionalPrincipal
) -> HTMLResponse:
    found = catalogue.get_catalogued_service(session, code=code[:100])
    return render(request, "portal/service.html", {"service": found})
