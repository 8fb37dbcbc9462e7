"""The catalogue's HTTP API: a public, read-only list of every agency's services.

``GET /api/v1/catalogue/services`` (keyset pages; filters by life event, owner, delivery
mode) and ``GET /api/v1/catalogue/services/{code}``. No sign-in: the catalogue is public
information, like the portal pages built on it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from joinedup.catalogue.schemas import CatalogueService, DeliveryMode, LifeEvent
from joinedup.catalogue.service import get_catalogued_service, list_catalogued_services
from joinedup.core.http import ReadSession
from joinedup.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page, PageRequest

router = APIRouter(prefix="/api/v1/catalogue", tags=["catalogue"])

Cursor = Annotated[str | None, Query(description="`next_cursor` of the previous page.")]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]


@router.get("/services", summary="Catalogued services of every agency and level")
def get_services(
    session: ReadSession,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
    life_event: Annotated[
        LifeEvent | None, Query(alias="lifeEvent", description="Only services this concerns.")
    ] = None,
    owner: Annotated[
        str | None, Query(description="Only the services of this member code.", max_length=64)
    ] = None,
    delivery_mode: Annotated[DeliveryMode | None, Query(alias="deliveryMode")] = None,
) -> Page[CatalogueService]:
    return list_catalogued_services(
        session,
        life_event=life_event,
        owner_member_code=owner,
        delivery_mode=delivery_mode,
        page=PageRequest(cursor=cursor, limit=limit),
    )


@router.get("/services/{code}", summary="One catalogued service")
def get_service(code: str, session: ReadSession) -> CatalogueService:
    return get_catalogued_service(session, code=code)
