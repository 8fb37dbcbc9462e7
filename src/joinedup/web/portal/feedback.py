"""The short question after a completed task: a rating and an optional comment, stored by
the engagement context. A bad answer (no rating, too long a comment) shows the form again
with the problem named; nothing is written."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from joinedup import engagement
from joinedup.core import i18n
from joinedup.core.errors import ValidationFailed
from joinedup.web.auth import Citizen, local_path
from joinedup.web.csrf import csrf_protect
from joinedup.web.deps import WriteSession
from joinedup.web.endpoint_thread import PageRoute
from joinedup.web.templating import render

router = APIRouter(
    route_class=PageRoute,
    prefix="/portal/feedback",
    include_in_schema=False,
    default_response_class=HTMLResponse,
    dependencies=[Depends(csrf_protect)],
)


@router.post("")
def give(
    request: Request,
    citizen: Citizen,
    session: WriteSession,
    task: Annotated[str, Form(max_length=64)] = "",
    rating: Annotated[str, Form(max_length=2)] = "",
    comment: Annotated[str, Form(max_length=4000)] = "",
    return_to: Annotated[str, Form(max_length=500)] = "/portal",
) -> Response:
    back = local_path(return_to)
    try:
        engagement.give_feedback(
            session,
            task=task,
            # ASCII digits only: "²" is a digit to isdigit() and not a number to int()
            rating=int(rating) if rating.isascii() and rating.isdigit() else 0,
            comment=comment,
            locale=i18n.current_locale(),
            actor=f"person:{citizen.actor_code}",
        )
    except ValidationFailed as refused:
        errors = {e["field"]: e["message"] for e in refused.extensions.get("errors", [])}
        return render(
            request,
            "portal/feedback.html",
            {
                "task": task,
                "return_to": back,
                "errors": errors,
                "values": {"rating": rating, "comment": comment},
            },
            status_code=400,
        )
    separator = "&" if "?" in back else "?"
    return RedirectResponse(f"{back}{separator}feedback=thanks", status_code=303)
