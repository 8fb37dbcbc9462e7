"""Powers of attorney in the portal: those you gave and those you hold; give one (a form,
a check-your-answers page, a confirmation); revoke one you gave (a confirmation page).

Powers of attorney are personal: these pages always show the signed-in person's own, whoever
they act for. Giving or revoking one is a legal act, so it needs a sign-in at the
substantial level at least (a lower session is sent to sign in again). A reference that is
not yours is "not found", exactly like one that does not exist.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from joinedup import identity
from joinedup.core.clock import today
from joinedup.core.errors import NotFound, ValidationFailed
from joinedup.core.pagination import PageRequest
from joinedup.exchange import exchange_client
from joinedup.identity import DATA_CATEGORIES, LevelOfAssurance
from joinedup.web.auth import Citizen, CitizenContext, require_citizen
from joinedup.web.csrf import csrf_protect
from joinedup.web.deps import ReadSession, WriteSession
from joinedup.web.endpoint_thread import PageRoute
from joinedup.web.templating import render

router = APIRouter(
    route_class=PageRoute,
    prefix="/portal/powers-of-attorney",
    include_in_schema=False,
    default_response_class=HTMLResponse,
    dependencies=[Depends(csrf_protect)],
)
Substantial = Annotated[
    CitizenContext, Depends(require_citizen(min_loa=LevelOfAssurance.SUBSTANTIAL))
]
PAGE = 20


@router.get("")
def overview(
    request: Request,
    citizen: Citizen,
    session: ReadSession,
    given_cursor: Annotated[str | None, Query(max_length=200)] = None,
    received_cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> HTMLResponse:
    me = citizen.actor_code
    given = identity.powers_given(
        session, grantor_code=me, page=PageRequest(cursor=given_cursor, limit=PAGE)
    )
    received = identity.powers_received(
        session, grantee_code=me, page=PageRequest(cursor=received_cursor, limit=PAGE)
    )
    return render(
        request,
        "portal/attorney_list.html",
        {"given": given, "received": received, "today": today()},
    )


def _form_values(
    grantee_code: str,
    scope: str,
    data_categories: list[str],
    services: str,
    valid_from: str,
    valid_to: str,
) -> dict[str, Any]:
    return {
        "grantee_code": grantee_code.strip(),
        "scope": scope,
        "data_categories": data_categories,
        "services": services.strip(),
        "valid_from": valid_from,
        "valid_to": valid_to,
    }


def _form_page(
    request: Request, values: dict[str, Any], errors: list[dict[str, str]], status: int = 200
) -> HTMLResponse:
    return render(
        request,
        "portal/attorney_new.html",
        {
            "values": values,
            "errors": errors,
            "error_fields": {e["field"] for e in errors},
            "categories": DATA_CATEGORIES,
        },
        status_code=status,
    )


@router.get("/new")
def new(request: Request, citizen: Substantial) -> HTMLResponse:
    values = _form_values("", "selected", [], "", today().isoformat(), "")
    return _form_page(request, values, [])


def _parse(values: dict[str, Any]) -> dict[str, Any]:
    """The use case's arguments from the form (``ValidationFailed`` naming each field)."""
    problems = []
    dates: dict[str, date | None] = {}
    for name in ("valid_from", "valid_to"):
        text = str(values[name]).strip()
        if not text:
            dates[name] = None
            continue
        try:
            dates[name] = date.fromisoformat(text)
        except ValueError:
            problems.append({"field": name, "message": "must be a date like 2027-03-31"})
    if dates.get("valid_from") is None and not any(p["field"] == "valid_from" for p in problems):
        problems.append({"field": "valid_from", "message": "enter the first day"})
    if values["scope"] not in ("everything", "selected"):
        problems.append({"field": "scope", "message": "choose everything or selected data"})
    if problems:
        raise ValidationFailed("the power of attorney cannot be granted", errors=problems)
    services = [s.strip() for s in str(values["services"]).split(",") if s.strip()]
    everything = values["scope"] == "everything"
    return {
        "grantee_code": values["grantee_code"],
        "everything": everything,
        "services": [] if everything else services,
        "data_categories": [] if everything else list(values["data_categories"]),
        "valid_from": dates["valid_from"],
        "valid_to": dates["valid_to"],
    }


Text = Annotated[str, Form(max_length=40)]


@router.post("/new")
def review(
    request: Request,
    citizen: Substantial,
    session: WriteSession,
    grantee_code: Text = "",
    scope: Text = "",
    data_categories: Annotated[list[str], Form(max_length=40)] = [],  # noqa: B006 (FastAPI copies)
    services: Annotated[str, Form(max_length=400)] = "",
    valid_from: Text = "",
    valid_to: Text = "",
) -> HTMLResponse:
    """Check the answers (the grantee is looked up in the population register)."""
    values = _form_values(grantee_code, scope, data_categories, services, valid_from, valid_to)
    try:
        arguments = _parse(values)
        with exchange_client(session, client=citizen.portal, user_id=citizen.actor_code) as calls:
            draft = identity.review_power_of_attorney(
                session, grantor_code=citizen.actor_code, calls=calls, **arguments
            )
    except ValidationFailed as refused:
        return _form_page(request, values, list(refused.extensions.get("errors", [])), 400)
    return render(request, "portal/attorney_check.html", {"draft": draft, "values": values})


@router.post("/confirm")
def confirm(
    request: Request,
    citizen: Substantial,
    session: WriteSession,
    grantee_code: Text = "",
    scope: Text = "",
    data_categories: Annotated[list[str], Form(max_length=40)] = [],  # noqa: B006
    services: Annotated[str, Form(max_length=400)] = "",
    valid_from: Text = "",
    valid_to: Text = "",
) -> Response:
    """Grant it (every check again: the form is the person's, not trusted)."""
    values = _form_values(grantee_code, scope, data_categories, services, valid_from, valid_to)
    try:
        arguments = _parse(values)
        with exchange_client(session, client=citizen.portal, user_id=citizen.actor_code) as calls:
            granted = identity.grant_power_of_attorney(
                session,
                grantor_code=citizen.actor_code,
                grantor_name=citizen.principal.display_name,
                calls=calls,
                actor=f"person:{citizen.actor_code}",
                **arguments,
            )
    except ValidationFailed as refused:
        return _form_page(request, values, list(refused.extensions.get("errors", [])), 400)
    return RedirectResponse(
        f"/portal/powers-of-attorney/{granted.reference}?granted=1", status_code=303
    )


@router.get("/{reference}")
def detail(
    request: Request,
    reference: str,
    citizen: Citizen,
    session: ReadSession,
    granted: Annotated[bool, Query()] = False,
) -> HTMLResponse:
    power = identity.get_power_of_attorney(
        session, reference=reference, person_code=citizen.actor_code
    )
    return render(
        request,
        "portal/attorney_detail.html",
        {
            "power": power,
            "status": power.status_on(today()),
            "mine": power.grantor_code == citizen.actor_code,
            "granted": granted,
        },
    )


@router.get("/{reference}/revoke")
def revoke_page(
    request: Request, reference: str, citizen: Substantial, session: ReadSession
) -> HTMLResponse:
    power = identity.get_power_of_attorney(
        session, reference=reference, person_code=citizen.actor_code
    )
    if power.grantor_code != citizen.actor_code:
        raise NotFound("You have no power of attorney with this reference.")
    return render(request, "portal/attorney_revoke.html", {"power": power})


@router.post("/{reference}/revoke")
def revoke(
    request: Request, reference: str, citizen: Substantial, session: WriteSession
) -> Response:
    identity.revoke_power_of_attorney(
        session,
        reference=reference,
        grantor_code=citizen.actor_code,
        actor=f"person:{citizen.actor_code}",
    )
    return RedirectResponse("/portal/powers-of-attorney?revoked=1", status_code=303)
