"""Operational monitoring of the exchange: per call and per service.

Each mediated call leaves one ``exchange_call`` row (written by the recorder with the call's
other records): when, who called which service, the status, success and X-Road error type,
the total time and its authorisation and provider parts (microseconds), and the request and
response sizes. Per service, the aggregates are computed from those rows: calls, successes,
failures, the last success and the last failure, and min/avg/max duration. Both are served
under ``/api/v1/exchange/monitoring/`` to exchange administrators.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel
from sqlalchemy import case, func, select, type_coerce
from sqlalchemy.orm import Session

from joinedup.core.db import UTCDateTime
from joinedup.core.pagination import DEFAULT_LIMIT, Page, PageRequest, keyset_page
from joinedup.exchange.guards import RecordsSession, require_administrator
from joinedup.exchange.records import CallRecord


class CallOut(BaseModel):
    id: int
    started_at: datetime
    message_id: str
    client: str
    service: str
    method: str
    status: int
    succeeded: bool
    error_type: str | None
    total_ms: float
    authorization_ms: float
    provider_ms: float
    request_size: int
    response_size: int

    @classmethod
    def of(cls, row: CallRecord) -> CallOut:
        return cls(
            id=row.id,
            started_at=row.started_at,
            message_id=row.message_id,
            client=row.client_xroad_id,
            service=row.service_xroad_id,
            method=row.method,
            status=row.status,
            succeeded=row.succeeded,
            error_type=row.error_type,
            total_ms=row.total_us / 1000,
            authorization_ms=row.authorization_us / 1000,
            provider_ms=row.provider_us / 1000,
            request_size=row.request_size,
            response_size=row.response_size,
        )


class ServiceStatistics(BaseModel):
    service: str
    calls: int
    succeeded: int
    failed: int
    last_success_at: datetime | None
    last_failure_at: datetime | None
    min_ms: float
    avg_ms: float
    max_ms: float


def list_calls(
    session: Session,
    *,
    request: PageRequest,
    service_xroad_id: str | None = None,
    failed_only: bool = False,
) -> Page[CallOut]:
    """Calls, newest first (keyset pages), optionally of one service or only the failed."""
    statement = select(CallRecord)
    if service_xroad_id is not None:
        statement = statement.where(CallRecord.service_xroad_id == service_xroad_id)
    if failed_only:
        statement = statement.where(CallRecord.succeeded.is_(False))
    rows, cursor = keyset_page(
        session, statement, keys=[CallRecord.id.expression], request=request, descending=True
    )
    return Page[CallOut](items=[CallOut.of(row) for row in rows], next_cursor=cursor)


def service_statistics(
    session: Session, *, service_xroad_id: str | None = None
) -> list[ServiceStatistics]:
    """Per service: counts, last success and failure, min/avg/max duration, by service id."""
    ok = case((CallRecord.succeeded.is_(True), 1), else_=0)
    last_success = func.max(case((CallRecord.succeeded.is_(True), CallRecord.started_at)))
    last_failure = func.max(case((CallRecord.succeeded.is_(False), CallRecord.started_at)))
    statement = select(
        CallRecord.service_xroad_id,
        func.count(),
        func.sum(ok),
        type_coerce(last_success, UTCDateTime()),
        type_coerce(last_failure, UTCDateTime()),
        func.min(CallRecord.total_us),
        func.avg(CallRecord.total_us),
        func.max(CallRecord.total_us),
    ).group_by(CallRecord.service_xroad_id)
    if service_xroad_id is not None:
        statement = statement.where(CallRecord.service_xroad_id == service_xroad_id)
    found = []
    for service, calls, succeeded, success_at, failure_at, low, mean, high in session.execute(
        statement.order_by(CallRecord.service_xroad_id)
    ):
        found.append(
            ServiceStatistics(
                service=service,
                calls=calls,
                succeeded=int(succeeded or 0),
                failed=calls - int(succeeded or 0),
                last_success_at=success_at,
                last_failure_at=failure_at,
                min_ms=low / 1000,
                avg_ms=round(float(mean) / 1000, 3),
                max_ms=high / 1000,
            )
        )
    return found


router = APIRouter(prefix="/api/v1/exchange/monitoring", tags=["exchange monitoring"])


@router.get("/calls", summary="Mediated calls, newest first (operational monitoring)")
def get_calls(
    request: Request,
    session: RecordsSession,
    service: Annotated[str | None, Query(description="X-Road id of one service.")] = None,
    failed: Annotated[bool, Query(description="Only calls that failed.")] = False,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page.")] = None,
    limit: Annotated[int, Query(description="Calls per page (1–500).")] = DEFAULT_LIMIT,
) -> Page[CallOut]:
    require_administrator(session, request)
    return list_calls(
        session,
        request=PageRequest(cursor=cursor, limit=limit),
        service_xroad_id=service,
        failed_only=failed,
    )


@router.get("/services", summary="Per-service counts and durations (operational monitoring)")
def get_services(
    request: Request,
    session: RecordsSession,
    service: Annotated[str | None, Query(description="X-Road id of one service.")] = None,
) -> list[ServiceStatistics]:
    require_administrator(session, request)
    return service_statistics(session, service_xroad_id=service)
