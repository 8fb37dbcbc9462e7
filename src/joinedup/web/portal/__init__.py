"""The citizen portal: one front door for every service of every agency and level.

Its pages sit on :mod:`joinedup.web.auth` (who is signed in, for whom they act, CSRF); every
unsafe request to a portal router is CSRF-checked by the router's dependency.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from joinedup.web.auth import OptionalPrincipal, csrf_protect
from joinedup.web.deps import ReadSession
from joinedup.web.portal import (
    acting,
    applications,
    attorney,
    catalogue,
    consents,
    entitlements,
    feedback,
    labels,
    messages,
    overview,
    signin,
    usage,
)
from joinedup.web.templating import render, templates

templates.env.globals["field_label"] = labels.field_label
start_router = APIRouter(
    prefix="/portal",
    include_in_schema=False,
    default_response_class=HTMLResponse,
    dependencies=[Depends(csrf_protect)],
)


@start_router.get("")
def start(request: Request, principal: OptionalPrincipal, session: ReadSession) -> HTMLResponse:
    return render(request, "portal/start.html", catalogue.home_context(request, session))


#: The portal's routers, included by the application one by one (each found by its path's
#: segments: :mod:`joinedup.web.routing`).
routers: tuple[APIRouter, ...] = (
    start_router,
    signin.router,
    acting.router,
    attorney.router,
    overview.router,
    usage.router,
    messages.router,
    consents.router,
    entitlements.router,
    applications.router,
    catalogue.router,
    feedback.router,
)
