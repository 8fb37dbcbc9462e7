"""Consents: the data agreements that rest on the person's consent (who wants which data,
for what, for how long), whether the person acted for has given, withdrawn or never given
consent to each, and giving or withdrawing it.

A consent is always looked up by (agreement, the subject acted for): no consent record id
ever appears in a URL, so nobody can reach another person's consent by guessing one. Giving
or withdrawing for someone else (a parent for a child, an attorney) names the actor and the
subject in the consent's revision; a mandate must cover ``service:consent``.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from joinedup import consent
from joinedup.core.errors import Forbidden, NotFound
from joinedup.exchange import member_names
from joinedup.web.auth import Citizen, CitizenContext
from joinedup.web.csrf import csrf_protect
from joinedup.web.deps import ReadSession, WriteSession, read_session
from joinedup.web.endpoint_thread import PageRoute
from joinedup.web.templating import render

router = APIRouter(
    route_class=PageRoute,
    prefix="/portal/consents",
    include_in_schema=False,
    default_response_class=HTMLResponse,
    dependencies=[Depends(csrf_protect)],
)
ACTION = "service:consent"
DONE = {"given": "consent-given", "withdrawn": "consent-withdrawn"}


def _check(
    citizen: CitizenContext, session: ReadSession | WriteSession, *, deciding: bool = False
) -> None:
    """The mandate covers consents (``deciding``: confirmed now, as a consent given or
    withdrawn has legal effect)."""
    if citizen.acting_for.is_business:
        raise Forbidden("Consent is given by persons: a business has no consents here.")
    if deciding:
        citizen.authorise_now(session, ACTION)
    else:
        citizen.authorise(session, ACTION)


def _member_key(controller: str) -> tuple[str, str]:
    member_class, _, member_code = controller.partition("/")
    return member_class, member_code


@router.get("")
def consents(
    request: Request,
    citizen: Citizen,
    done: Annotated[str | None, Query(max_length=20)] = None,
    feedback: Annotated[str | None, Query(max_length=20)] = None,
) -> HTMLResponse:
    # closed before the page is rendered (see read_session)
    with read_session(request) as session:
        _check(citizen, session)
        standings = consent.consent_standings(session, subject_code=citizen.subject_code)
        # the controllers' names in one look-up (not a member and its parent each)
        names = member_names(session, (_member_key(s.controller) for s in standings))
    return render(
        request,
        "portal/consents.html",
        {
            "items": [(s, names.get(_member_key(s.controller), s.controller)) for s in standings],
            "done": done if done in DONE else None,
            "task": DONE.get(done or ""),
            "feedback_given": feedback == "thanks",
        },
    )


def _agreement_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound("there is no such data agreement") from None


@router.post("/{agreement_id}/give")
def give(agreement_id: str, citizen: Citizen, session: WriteSession) -> Response:
    """Consent to the agreement's current version (for the person acted for)."""
    _check(citizen, session, deciding=True)
    consent.give_consent(
        session,
        agreement_id=_agreement_id(agreement_id),
        subject_code=citizen.subject_code,
        actor=f"person:{citizen.actor_code}",
        acting_for=None if citizen.acting_for.is_self else citizen.subject_code,
    )
    return RedirectResponse("/portal/consents?done=given", status_code=303)


@router.post("/{agreement_id}/withdraw")
def withdraw(agreement_id: str, citizen: Citizen, session: WriteSession) -> Response:
    """Withdraw the consent (for the person acted for)."""
    _check(citizen, session, deciding=True)
    consent.withdraw_consent(
        session,
        agreement_id=_agreement_id(agreement_id),
        subject_code=citizen.subject_code,
        actor=f"person:{citizen.actor_code}",
        acting_for=None if citizen.acting_for.is_self else citizen.subject_code,
    )
    return RedirectResponse("/portal/consents?done=withdrawn", status_code=303)
