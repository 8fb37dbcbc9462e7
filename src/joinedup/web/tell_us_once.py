"""Tell Us Once for the Central Digital Office's staff, as a JSON API: the overall status, a
life event's notifications, the dead-letter list and replays.

Signed-in staff of the office that runs Tell Us Once (the member of
``JOINEDUP_TELL_US_ONCE_SUBSYSTEM``), at the substantial level, any role; a replay (``POST``)
carries the session's CSRF token in ``X-CSRF-Token``. Nothing here names a person: the
notifications show agencies, states and the agencies' answers.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request

from joinedup import tellusonce
from joinedup.core.pagination import Page, PageRequest
from joinedup.core.settings import Settings
from joinedup.web.csrf import csrf_protect
from joinedup.web.deps import ReadSession, WriteSession
from joinedup.web.endpoint_thread import PageRoute
from joinedup.web.staff_access import StaffContext, require_staff

router = APIRouter(
    route_class=PageRoute,
    prefix="/api/v1/tell-us-once",
    tags=["Tell Us Once"],
    dependencies=[Depends(csrf_protect)],
)


def _operator(request: Request) -> StaffContext:
    settings: Settings = request.app.state.settings
    office = "/".join(settings.tell_us_once_subsystem.split("/")[:2])
    return require_staff(member=office)(request)


Operator = Annotated[StaffContext, Depends(_operator)]
#: A row id: a 64-bit integer (a larger one is no id, and the database cannot compare it).
RowId = Annotated[int, Path(ge=1, le=2**63 - 1)]


@router.get("/status", summary="Life events and notifications by state")
def get_status(operator: Operator, session: ReadSession) -> tellusonce.StatusRecord:
    return tellusonce.tell_us_once_status(session)


@router.get("/life-events/{life_event_id}", summary="A life event: each agency's notification")
def get_life_event(
    life_event_id: RowId, operator: Operator, session: ReadSession
) -> tellusonce.LifeEventRecord:
    return tellusonce.life_event_status(session, life_event_id=life_event_id)


@router.get("/dead-letters", summary="Notifications no agency acknowledged after the last attempt")
def get_dead_letters(
    operator: Operator,
    session: ReadSession,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Page[tellusonce.NotificationRecord]:
    return tellusonce.list_dead_letters(session, page=PageRequest(cursor=cursor, limit=limit))


@router.post(
    "/dead-letters/{notification_id}/replay",
    summary="Queue a dead-lettered notification again (same message id)",
)
def post_replay(
    notification_id: RowId, operator: Operator, session: WriteSession
) -> tellusonce.NotificationRecord:
    """A worker delivers it again; an agency that did handle it answers the repeat without
    acting twice. 404 for an unknown notification, 409 for one not in the dead-letter list."""
    return tellusonce.replay_notification(
        session,
        notification_id=notification_id,
        actor=f"staff:{operator.principal.personal_code}",
    )


@router.get("/subscriptions", summary="Which agencies' services are told of which life events")
def get_subscriptions(
    operator: Operator, session: ReadSession
) -> list[tellusonce.SubscriptionRecord]:
    return tellusonce.list_subscriptions(session)
