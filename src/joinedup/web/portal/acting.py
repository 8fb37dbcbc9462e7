"""Whom the signed-in person acts for: the switcher.

The choices are worked out when the page is shown (their own self, minor children,
grantors of valid powers of attorney, businesses they represent — the registries read
through the exchange). A choice posted back is checked again the same way, so a personal
code or business code typed into the form, or a stale choice, is refused.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from joinedup import identity
from joinedup.core.clock import today, utcnow
from joinedup.core.errors import Forbidden
from joinedup.web.auth import Citizen, CitizenContext, require_citizen
from joinedup.web.csrf import csrf_protect
from joinedup.web.deps import get_database
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


def _options(request: Request, citizen: CitizenContext) -> identity.MandateOptions:
    """Whom the person may act for, read as :mod:`joinedup.web.recorded_reads` reads: in a
    read-only transaction, the reads' records committed whatever comes of them (a refused
    choice included: someone trying other people's codes leaves the reads on record)."""
    with recorded_reads(request, client=citizen.portal, user_id=citizen.actor_code) as (
        session,
        calls,
    ):
        return identity.mandate_options(
            session,
            calls,
            actor_code=citizen.actor_code,
            actor_name=citizen.principal.display_name,
            on=today(),
            current=citizen.subject_code,
        )


@router.get("/acting-for")
def acting_for_page(request: Request, citizen: Citizen) -> HTMLResponse:
    return render(request, "portal/acting_for.html", {"options": _options(request, citizen)})


@router.post("/acting-for")
def switch(
    request: Request,
    citizen: Annotated[CitizenContext, Depends(require_citizen(switching=True))],
    subject: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Act for ``subject`` from now on (for yourself when it is your own code). The choices
    are read first (their records committed then); the choice is written in a short write
    transaction of its own."""
    mandate = None  # oneself
    if subject != citizen.actor_code:
        mandate = _options(request, citizen).find(subject) if subject else None
        if mandate is None:
            raise Forbidden("You have no mandate to act for this person or business.")
    with get_database(request).unit_of_work() as session:
        identity.set_acting_for(
            session,
            session_id=citizen.principal.session_id,
            subject_code=mandate.subject_code if mandate else None,
            subject_name=mandate.subject_name if mandate else None,
            kind=str(mandate.kind) if mandate else None,
            checked_at=utcnow(),
        )
    return RedirectResponse("/portal", status_code=303)
