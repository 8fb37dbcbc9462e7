"""The citizen portal: one front door for every service of every agency and level.

Its pages sit on :mod:`joinedup.web.auth` (who is signed in, for whom they act, CSRF); every
unsafe request to a portal router is CSRF-checked by the router's dependency.
"""

from __future__ import annotations

from functools import lru_cache

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from joinedup.core import i18n
from joinedup.identity import LevelOfAssurance, MandateKind
from joinedup.web.auth import OptionalPrincipal, csrf_protect
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
from joinedup.web.templating import render, templates, templates_for

templates.env.globals["field_label"] = labels.field_label
start_router = APIRouter(
    prefix="/portal",
    include_in_schema=False,
    default_response_class=HTMLResponse,
    dependencies=[Depends(csrf_protect)],
)


@start_router.get("")
def start(request: Request, principal: OptionalPrincipal) -> HTMLResponse:
    context = catalogue.home_context(request)
    if principal is not None:
        context["mandate_kinds"], context["assurance_levels"] = _identity_words(
            i18n.current_locale()
        )
    return render(request, "portal/start.html", context)


@lru_cache(maxsize=8)  # one per language the portal speaks
def _identity_words(locale: str) -> tuple[dict[str, Markup], dict[str, Markup]]:
    """Each mandate kind's and level of assurance's name in ``locale`` (the current
    language), as the shared ``kind_label`` and ``level_label`` macros write them: made once
    per language, not imported and called on every start page."""
    words = templates_for(locale).env.get_template("_identity.html").module
    return (
        {kind.value: words.kind_label(kind.value) for kind in MandateKind},  # type: ignore[attr-defined]
        {level.value: words.level_label(level.value) for level in LevelOfAssurance},  # type: ignore[attr-defined]
    )


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
