"""The citizen portal: one front door for every service of every agency and level.

Its pages sit on :mod:`joinedup.web.auth` (who is signed in, for whom they act, CSRF); every
unsafe request to a portal router is CSRF-checked by the router's dependency.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from joinedup.core import i18n
from joinedup.identity import LevelOfAssurance, MandateKind
from joinedup.web.auth import OptionalPrincipal
from joinedup.web.csrf import csrf_protect
from joinedup.web.endpoint_thread import PageRoute
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
from joinedup.web.templating import macro_words, render, templates

templates.env.globals["field_label"] = labels.field_label
start_router = APIRouter(
    route_class=PageRoute,
    prefix="/portal",
    include_in_schema=False,
    default_response_class=HTMLResponse,
    dependencies=[Depends(csrf_protect)],
)


@start_router.get("")
def start(request: Request, principal: OptionalPrincipal) -> HTMLResponse:
    context = catalogue.home_context(request)
    if principal is not None:
        locale = i18n.current_locale()
        context["mandate_kinds"] = macro_words(locale, "_identity.html", "kind_label", _KINDS)
        context["assurance_levels"] = macro_words(locale, "_identity.html", "level_label", _LEVELS)
    return render(request, "portal/start.html", context)


#: The mandate kinds and levels of assurance the start page names (the shared ``kind_label``
#: and ``level_label`` macros write their names).
_KINDS = tuple(kind.value for kind in MandateKind)
_LEVELS = tuple(level.value for level in LevelOfAssurance)


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
