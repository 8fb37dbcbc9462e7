"""Applying online for a service given on application (or one the person was told they may
be entitled to): the form shows what the registers already hold that the rules use (read
through the exchange as the service's owner, for its purpose — every read is listed under
Who used my data) and asks only what no register holds; the answer is decided at once, and
the confirmation page shows it with the question after the task.

The application is for whom the signed-in person acts (``citizen.subject_code``), made by
the signed-in person: the proactive services check their mandate covers the service. Bad
answers show the form again with a GOV.UK error summary; nothing is stored then. A hidden
submission key makes a form sent twice one application.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from joinedup import catalogue, proactive
from joinedup.core.clock import today
from joinedup.core.errors import NotFound, ValidationFailed
from joinedup.web.auth import Citizen
from joinedup.web.csrf import csrf_protect
from joinedup.web.deps import ReadSession, WriteSession
from joinedup.web.endpoint_thread import PageRoute
from joinedup.web.templating import render

router = APIRouter(
    route_class=PageRoute,
    prefix="/portal",
    include_in_schema=False,
    default_response_class=HTMLResponse,
    dependencies=[Depends(csrf_protect)],
)
#: The task the question after an application is about (engagement's ``TASKS``).
TASK = "service-applied"
_NOT_ANSWERS = frozenset({"csrf_token", "submission"})


async def _posted(request: Request) -> dict[str, str]:
    """The form's fields (Starlette keeps the form the CSRF check read)."""
    form = await request.form()
    return {key: value for key, value in form.items() if isinstance(value, str)}


Posted = Annotated[dict[str, str], Depends(_posted)]


def _page(
    request: Request,
    form: proactive.ApplicationForm,
    *,
    submission: str,
    values: dict[str, str] | None = None,
    errors: list[dict[str, str]] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "portal/apply.html",
        {
            "form": form,
            "service": form.service,
            "submission": submission,
            "values": values or {},
            "errors": errors or [],
            "error_codes": {e["field"]: e.get("code", "") for e in errors or []},
            "labels": {q.variable: q.label for q in form.questions},
        },
        status_code=status_code,
    )


@router.get("/services/{code}/apply")
def apply_page(
    request: Request, code: str, citizen: Citizen, session: WriteSession
) -> HTMLResponse:
    """The application form (its reads of the registers are recorded: a write session)."""
    form = proactive.prepare_application(
        session,
        service_code=code[:64],
        person_code=citizen.subject_code,
        actor_code=citizen.actor_code,
    )
    return _page(request, form, submission=str(uuid.uuid4()))


@router.post("/services/{code}/apply")
def apply(
    request: Request, code: str, citizen: Citizen, session: WriteSession, posted: Posted
) -> Response:
    answers = {k: v for k, v in posted.items() if k not in _NOT_ANSWERS}
    submission = posted.get("submission", "")[:64] or None
    try:
        done = proactive.apply_for_service(
            session,
            service_code=code[:64],
            person_code=citizen.subject_code,
            actor_code=citizen.actor_code,
            answers=answers,
            submission=submission,
        )
    except ValidationFailed as refused:
        errors: list[dict[str, Any]] = list(refused.extensions.get("errors", []))
        if any(e["field"] == "submission" for e in errors):
            raise  # a tampered form: not the applicant's answers
        service = catalogue.get_catalogued_service(session, code=code[:64])
        form = proactive.ApplicationForm(  # the registers are not read again for it
            service=service,
            person_code=citizen.subject_code,
            period_start=today().replace(day=1),
            questions=proactive.questions_of(service),
            known=[],
        )
        return _page(
            request,
            form,
            submission=submission or str(uuid.uuid4()),
            values=answers,
            errors=errors,
            status_code=400,
        )
    return RedirectResponse(f"/portal/applications/{done.id}", status_code=303)


@router.get("/applications/{application_id}")
def confirmation(
    request: Request,
    application_id: str,
    citizen: Citizen,
    session: ReadSession,
    feedback: Annotated[str | None, Query(max_length=20)] = None,
) -> HTMLResponse:
    """What the application led to, and the question after the task."""
    citizen.authorise(session, "data:entitlements")
    done = proactive.get_application(
        session, application_id=application_id[:64], person_code=citizen.subject_code
    )
    try:
        service = catalogue.get_catalogued_service(session, code=done.service_code)
        questions = proactive.questions_of(service)
    except NotFound:  # withdrawn from the catalogue since
        questions = []
    return render(
        request,
        "portal/application_done.html",
        {
            "item": done,
            "questions": questions,
            "reason_of": proactive.reason_in_language,
            "task": TASK,
            "feedback_given": feedback == "thanks",
        },
    )
