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
from sqlalchemy.orm import Session

from joinedup import identity
from joinedup.core.clock import today, utcnow
from joinedup.core.errors import Forbidden
from joinedup.exchange import ExchangeClient, exchange_client
from joinedup.web.auth import Citizen, CitizenContext, require_citizen
from joinedup.web.csrf import csrf_protect
from joinedup.web.deps import WriteSession
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


def _mandate_options(
    session: Session, calls: ExchangeClient, citizen: CitizenContext
) -> identity.MandateOptions:
    principal = citizen.principal
    return identity.mandate_options(
        session,
        calls,
        actor_code=principal.personal_code,
        actor_name=principal.display_name,
        on=today(),
        current=citizen.subject_code,
    )


def _options(session: WriteSession, citizen: CitizenContext) -> identity.MandateOptions:
    with exchange_client(session, client=citizen.portal, user_id=citizen.actor_code) as calls:
        return _mandate_options(session, calls, citizen)


@router.get("/acting-for")
def acting_for_page(request: Request, citizen: Citizen) -> HTMLResponse:
    """The choices read in a read-only transaction; the reads' records committed with the
    process's group commit before the page is shown (:mod:`joinedup.web.recorded_reads`)."""
    with recorded_reads(request, client=citizen.portal, user_id=citizen.actor_code) as (
        session,
        calls,
    ):
        options = _mandate_options(session, calls, citizen)
    return render(request, "portal/acting_for.html", {"options": options})


@router.post("/acting-for")
def switch(
    request: Request,
    citizen: Annotated[CitizenContext, Depends(require_citizen(switching=True))],
    session: WriteSession,
    subject: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Act for ``subject`` from now on (for yourself when it is your own code)."""
    if subject == citizen.actor_code:
        identity.set_acting_for(session, session_id=citizen.principal.session_id, subject_code=None)
        return RedirectResponse("/portal", status_code=303)
    mandate = _options(session, citizen).find(subject) if subject else None
    if mandate is None:
        raise Forbidden("You have no mandate to act for this person or business.")
    identity.set_acting_for(
        session,
        session_id=citizen.principal.session_id,
        subject_code=mandate.subject_code,
        subject_name=mandate.subject_name,
        kind=str(mandate.kind),
        checked_at=utcnow(),
    )
    return RedirectResponse("/portal", status_code=303)
