"""The portal's front door: every service of every agency at every level, organised around
life events, from the service catalogue. Nothing here is personal: no sign-in is needed.

The catalogue changes a few times a year and every start page shows it, so each web process
keeps what it read for :data:`CACHE_SECONDS` (on the application's state: one per database),
and with it the start page's part made of it, in each language it was asked in.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Annotated, cast

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from joinedup import catalogue
from joinedup.catalogue import CatalogueService, LifeEvent
from joinedup.core import i18n
from joinedup.core.errors import NotFound, ValidationFailed
from joinedup.web.auth import OptionalPrincipal
from joinedup.web.csrf import csrf_protect
from joinedup.web.deps import ReadSession, get_database
from joinedup.web.endpoint_thread import PageRoute
from joinedup.web.templating import render, templates_for

router = APIRouter(
    route_class=PageRoute,
    prefix="/portal",
    include_in_schema=False,
    default_response_class=HTMLResponse,
    dependencies=[Depends(csrf_protect)],
)
LEVELS = ("national", "regional", "local")
CACHE_SECONDS = 60.0


@dataclass(frozen=True)
class _Copy:
    """What the process keeps of the catalogue: the services, and the start page's counts
    (worked out once per copy, not on every start page) and their HTML in each language it
    was shown in (:func:`_counts_html`; at most one per language the portal speaks)."""

    services: list[CatalogueService]
    life_events: list[tuple[LifeEvent, int]]
    levels: list[tuple[str, int]]
    counts_html: dict[str, Markup] = field(default_factory=dict, compare=False)

    @classmethod
    def of(cls, services: list[CatalogueService]) -> _Copy:
        counts = {
            event: sum(1 for s in services if any(r.life_event is event for r in s.life_events))
            for event in LifeEvent
        }
        return cls(
            services=services,
            life_events=[(event, count) for event, count in counts.items() if count],
            levels=[
                (level, sum(1 for s in services if s.level.value == level)) for level in LEVELS
            ],
        )


def _copy(request: Request) -> _Copy:
    """The process's copy of the catalogue (read again when it is older than
    :data:`CACHE_SECONDS`: only then does a page open a read transaction for it)."""
    cached = getattr(request.app.state, "catalogue_cache", None)
    now = time.monotonic()
    if cached is not None and cached[0] > now:
        return cast(_Copy, cached[1])
    with get_database(request).reading() as session:
        found = _Copy.of(catalogue.active_services(session))
    request.app.state.catalogue_cache = (now + CACHE_SECONDS, found)
    return found


def _all(request: Request) -> list[CatalogueService]:
    """Every active catalogued service (from the process's copy when it is fresh)."""
    return _copy(request).services


def _by_agency(services: list[CatalogueService]) -> list[tuple[str, list[CatalogueService]]]:
    groups: dict[str, list[CatalogueService]] = {}
    for service in sorted(services, key=lambda s: (s.owner.name, s.name())):
        groups.setdefault(service.owner.name, []).append(service)
    return list(groups.items())


def _counts_html(found: _Copy, locale: str) -> Markup:
    """The start page's life events and levels with their counts, in ``locale`` (the current
    language), rendered the first time a copy is shown in it: it is the same for everybody."""
    counts = found.counts_html.get(locale)
    if counts is None:
        template = templates_for(locale).env.get_template("portal/_start_catalogue.html")
        counts = Markup(  # noqa: S704 (our template's output, escaped as it rendered)
            template.render(life_events=found.life_events, levels=found.levels)
        )
        found.counts_html[locale] = counts  # another thread may do the same: same words
    return counts


def home_context(request: Request) -> dict[str, object]:
    """What the portal's start page shows of the catalogue: each life event with how many
    services it concerns, and how many services each level of government has."""
    return {"catalogue_counts": _counts_html(_copy(request), i18n.current_locale())}


@router.get("/life-events/{event}")
def life_event(request: Request, event: str, principal: OptionalPrincipal) -> HTMLResponse:
    try:
        chosen = LifeEvent(event)
    except ValueError:
        raise NotFound("there is no such life event") from None
    services = [s for s in _all(request) if any(r.life_event is chosen for r in s.life_events)]
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
    principal: OptionalPrincipal,
    level: Annotated[str, Query(max_length=20)] = "national",
) -> HTMLResponse:
    if level not in LEVELS:
        raise ValidationFailed("level must be national, regional or local", parameter="level")
    chosen = [s for s in _all(request) if s.level.value == level]
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
