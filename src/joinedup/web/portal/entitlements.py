"""My entitlements: what the person acted for was granted, offered, or may be entitled to,
each with its plain-language reason, how it was worked out (the rules' sentences, put together
in the reader's language from their parts) and under which law; accepting or declining an
offer, opting out of an automatic grant (then the question after the task).

Only the subject's own entitlements are ever read: another person's id in the URL is "not
found", like one that does not exist. A decision is made by the signed-in person (the
proactive services check their mandate covers the service and name both in the revision).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from joinedup import proactive, rules
from joinedup.core.errors import ValidationFailed
from joinedup.core.pagination import PageRequest
from joinedup.proactive import Decision, EntitlementStatus
from joinedup.web.auth import Citizen
from joinedup.web.csrf import csrf_protect
from joinedup.web.deps import WriteSession, read_session
from joinedup.web.endpoint_thread import PageRoute
from joinedup.web.templating import render

router = APIRouter(
    route_class=PageRoute,
    prefix="/portal/entitlements",
    include_in_schema=False,
    default_response_class=HTMLResponse,
    dependencies=[Depends(csrf_protect)],
)
PAGE = 50
#: The groups of the list, in the order shown.
GROUPS = (
    ("offered", (EntitlementStatus.OFFERED,)),
    ("granted", (EntitlementStatus.GRANTED,)),
    ("eligible", (EntitlementStatus.ELIGIBLE, EntitlementStatus.AWAITING_CONSENT)),
    ("past", (EntitlementStatus.DECLINED, EntitlementStatus.OPTED_OUT, EntitlementStatus.ENDED)),
)
#: What each decision is called afterwards, and the task the feedback question is about.
DONE = {
    Decision.ACCEPT: ("accepted", "entitlement-accepted"),
    Decision.DECLINE: ("declined", "entitlement-declined"),
    Decision.OPT_OUT: ("opted-out", "entitlement-opted-out"),
}
TASKS = dict(DONE.values())


@router.get("")
def entitlements(
    request: Request,
    citizen: Citizen,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> HTMLResponse:
    # the session opened in the page's own thread (:func:`~joinedup.web.deps.read_session`)
    with read_session(request) as session:
        citizen.authorise(session, "data:entitlements")
        page = proactive.list_entitlements(
            session,
            person_code=citizen.subject_code,
            page=PageRequest(cursor=cursor, limit=PAGE),
        )
    groups = [(name, [e for e in page.items if e.status in statuses]) for name, statuses in GROUPS]
    return render(
        request,
        "portal/entitlements.html",
        {
            "groups": [(name, items) for name, items in groups if items],
            "next_href": f"?cursor={page.next_cursor}" if page.next_cursor else None,
            "reason_of": proactive.reason_in_language,
        },
    )


@router.get("/{entitlement_id}")
def entitlement(
    request: Request,
    entitlement_id: str,
    citizen: Citizen,
    done: Annotated[str | None, Query(max_length=20)] = None,
    feedback: Annotated[str | None, Query(max_length=20)] = None,
) -> HTMLResponse:
    with read_session(request) as session:
        citizen.authorise(session, "data:entitlements")
        detail = proactive.get_entitlement(
            session, entitlement_id=entitlement_id[:64], person_code=citizen.subject_code
        )
    return render(
        request,
        "portal/entitlement.html",
        {
            "item": detail,
            "reason_of": proactive.reason_in_language,
            "sentences_of": rules.sentences_in_language,
            "done": done if done in TASKS else None,
            "task": TASKS.get(done or ""),
            "feedback_given": feedback == "thanks",
        },
    )


@router.post("/{entitlement_id}/decision")
def decide(
    entitlement_id: str,
    citizen: Citizen,
    session: WriteSession,
    decision: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Accept or decline the offer, or opt out of the automatic grant."""
    citizen.authorise(session, "data:entitlements")
    mine = proactive.get_entitlement(  # the subject's own, or not found
        session, entitlement_id=entitlement_id[:64], person_code=citizen.subject_code
    )
    try:
        chosen = Decision(decision)
    except ValueError:
        raise ValidationFailed(
            "decision must be accept, decline or opt_out",
            errors=[{"field": "decision", "message": "must be accept, decline or opt_out"}],
        ) from None
    proactive.decide(
        session, entitlement_id=mine.id, decision=chosen, actor_code=citizen.actor_code
    )
    return RedirectResponse(
        f"/portal/entitlements/{mine.id}?done={DONE[chosen][0]}", status_code=303
    )
