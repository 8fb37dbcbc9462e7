"""The entitlements API of the front doors: the person's own (the portal's "My entitlements")
and an agency's staff view of one person's entitlements from their agency's services.

- ``GET /api/v1/me/entitlements`` — the signed-in person's (or, acting for someone, that
  person's, with a mandate covering ``data:entitlements``), newest first, keyset pages.
- ``GET /api/v1/me/entitlements/{id}`` — one, with its revision history.
- ``POST /api/v1/me/entitlements/{id}/decision`` — accept or decline an offer, opt out of an
  automatic grant (CSRF token required; the mandate must cover the service).
- ``POST /api/v1/me/services/{code}/applications`` — apply online for a service given on
  application (or one the person was told of) for the signed-in person or whom they act
  for (CSRF token required; the mandate must cover the service); the body holds only what
  no register holds (the service's ``applicant_inputs``); an ``Idempotency-Key`` header
  makes a repeated request one application. Bad answers are a 422 problem naming each field.
- ``GET /api/v1/me/applications/{id}`` — one of the person's applications and its outcome.
- ``POST /api/v1/staff/{member_class}/{member_code}/entitlement-lookups`` — for that
  agency's caseworkers and supervisors: a person's entitlements from its services of one
  purpose (the personal code, purpose and case in the body, never in the address); each
  lookup is a data-usage record the person sees.

Each entitlement's ``reason`` (and its revisions') is in the request's language (``lang``,
the language cookie, then ``Accept-Language``), as the service's name already is: the rules'
verdict is put together again from its stored parts (:func:`proactive.reason_in_language`).

The use cases are :mod:`joinedup.proactive`'s; nothing here decides anything.
"""

from __future__ import annotations

import uuid
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, Header, Query
from sqlalchemy.orm import Session

from joinedup import proactive
from joinedup.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page, PageRequest
from joinedup.proactive import (
    ApplicationBody,
    ApplicationView,
    DecisionBody,
    EntitlementDetail,
    EntitlementStatus,
    EntitlementView,
    StaffEntitlementLookup,
)
from joinedup.web.auth import Citizen, CitizenContext
from joinedup.web.csrf import csrf_protect
from joinedup.web.deps import ReadSession, WriteSession
from joinedup.web.endpoint_thread import PageRoute
from joinedup.web.staff_access import PATH_MEMBER, StaffContext, check_case_role
from joinedup.web.staff_access import require_staff as _require_staff

router = APIRouter(
    route_class=PageRoute,
    prefix="/api/v1",
    tags=["entitlements"],
    dependencies=[Depends(csrf_protect)],
)

Cursor = Annotated[str | None, Query(description="`next_cursor` of the previous page.")]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
Statuses = Annotated[list[EntitlementStatus] | None, Query(description="Only these statuses.")]
_STAFF = Depends(_require_staff(member=PATH_MEMBER))
_View = TypeVar("_View", bound=EntitlementView)


def _in_language(view: _View) -> _View:
    """``view`` with its reasons in the request's language."""
    update: dict[str, object] = {
        "reason": proactive.reason_in_language(view.reason, view.explanation)
    }
    if isinstance(view, EntitlementDetail):
        update["history"] = [
            h.model_copy(
                update={"reason": proactive.reason_in_language(h.reason, view.explanation)}
            )
            for h in view.history
        ]
    return view.model_copy(update=update)


def _page_in_language(page: Page[EntitlementView]) -> Page[EntitlementView]:
    return page.model_copy(update={"items": [_in_language(item) for item in page.items]})


def _subject(session: Session, citizen: CitizenContext) -> str:
    """Whose entitlements the citizen sees: their own, or (with a mandate covering
    ``data:entitlements``) the person they act for."""
    if not citizen.acting_for.is_self:
        citizen.authorise(session, "data:entitlements")
    return citizen.subject_code


@router.get("/me/entitlements", summary="My entitlements (or those of whom I act for)")
def my_entitlements(
    citizen: Citizen,
    session: ReadSession,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
    status: Statuses = None,
) -> Page[EntitlementView]:
    return _page_in_language(
        proactive.list_entitlements(
            session,
            person_code=_subject(session, citizen),
            status=status,
            page=PageRequest(cursor=cursor, limit=limit),
        )
    )


@router.get("/me/entitlements/{entitlement_id}", summary="One of my entitlements, with history")
def my_entitlement(
    entitlement_id: uuid.UUID, citizen: Citizen, session: ReadSession
) -> EntitlementDetail:
    return _in_language(
        proactive.get_entitlement(
            session, entitlement_id=entitlement_id, person_code=_subject(session, citizen)
        )
    )


@router.post(
    "/me/entitlements/{entitlement_id}/decision",
    summary="Accept or decline an offer, or opt out of an automatic grant",
)
def decide(
    entitlement_id: uuid.UUID, body: DecisionBody, citizen: Citizen, session: WriteSession
) -> EntitlementDetail:
    # Only the subject's own entitlement is found; the use case checks the mandate covers it.
    proactive.get_entitlement(
        session, entitlement_id=entitlement_id, person_code=citizen.subject_code
    )
    return _in_language(
        proactive.decide(
            session,
            entitlement_id=entitlement_id,
            decision=body.decision,
            actor_code=citizen.actor_code,
        )
    )


@router.post(
    "/me/services/{code}/applications",
    summary="Apply online for a service (for myself or whom I act for)",
    status_code=201,
)
def apply(
    code: str,
    body: ApplicationBody,
    citizen: Citizen,
    session: WriteSession,
    idempotency_key: Annotated[
        str | None,
        Header(
            max_length=64,
            description="A UUID of the client's: the same key again returns the application "
            "it made, without applying twice.",
        ),
    ] = None,
) -> ApplicationView:
    # The use case checks the actor's mandate covers the service (for whom they act).
    return proactive.apply_for_service(
        session,
        service_code=code[:64],
        person_code=citizen.subject_code,
        actor_code=citizen.actor_code,
        answers=body.answers,
        submission=idempotency_key,
    )


@router.get("/me/applications/{application_id}", summary="One of my applications")
def my_application(
    application_id: uuid.UUID, citizen: Citizen, session: ReadSession
) -> ApplicationView:
    return proactive.get_application(
        session, application_id=application_id, person_code=_subject(session, citizen)
    )


@router.post(
    "/staff/{member_class}/{member_code}/entitlement-lookups",
    summary="A person's entitlements from this agency's services (its caseworkers only)",
)
def look_up_entitlements(
    member_class: str,
    member_code: str,
    body: StaffEntitlementLookup,
    session: WriteSession,
    staff: StaffContext = _STAFF,
) -> Page[EntitlementView]:
    """For the agency's caseworkers and supervisors: one person's entitlements from the
    agency's services of the purpose given, recorded as a view of the person that they see
    under Who used my data (who, which agency, why, for which case)."""
    check_case_role(staff, member_class, member_code)
    return _page_in_language(
        proactive.look_up_entitlements(
            session,
            member_class=member_class,
            member_code=member_code,
            staff_user=staff.principal.personal_code,
            lookup=body,
        )
    )
