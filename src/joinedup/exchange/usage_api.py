"""Data usage over HTTP: Estonia's Data Tracker contract and the portal's JSON API.

``GET /v2/findUsage``, ``/v2/usagePeriod`` and ``/v2/heartbeat`` answer exactly as
``specs/data-tracker-findusage-openapi.yaml`` (v2.1.0) describes: ``X-Road-UserId`` is
required (the person asking, who may differ from ``userCode`` when acting for someone),
``offset``/``limit`` (default 1,000) page the records newest first, and ``totalUsages``
counts them all. ``GET /api/v1/data-usage`` is the portal's richer view: keyset pages, filters
by receiving member and period, and each record with what its reader needs to check it is in
the transparency log. Who may call them: :mod:`joinedup.exchange.guards`. Records of a
law-enforcement right stay out of both until their disclosure date.
"""

from __future__ import annotations

import base64
from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from pydantic import BaseModel, Field

from joinedup.core.clock import utcnow
from joinedup.core.errors import DomainError, ValidationFailed
from joinedup.core.pagination import DEFAULT_LIMIT, Page, PageRequest
from joinedup.core.translog.schemas import InclusionProofOut
from joinedup.exchange.guards import RecordsSession, require_usage_reader
from joinedup.exchange.service.purposes import purpose_names
from joinedup.exchange.usage import UsageItem
from joinedup.exchange.usage_queries import find_usage, list_usage, proofs_for, usage_period

tracker = APIRouter(tags=["data usage (Data Tracker)"])
portal = APIRouter(prefix="/api/v1", tags=["data usage"])


class Usage(BaseModel):
    """One processing of the person's data (the Data Tracker's ``Usage``)."""

    logtime: datetime = Field(description="When the data was processed.")
    action: str = Field(description="Why: the procedure or purpose, in words.")
    receiverCode: str = Field(description="Registry code of the organisation that received it.")  # noqa: N815
    receiverName: str | None = Field(None, description="Its name.")  # noqa: N815
    receiverSystem: str = Field(description="The information system that received it.")  # noqa: N815


class FindUsageResponse(BaseModel):
    totalUsages: int = Field(description="All matching records (offset and limit aside).")  # noqa: N815
    usages: list[Usage]


class UsagePeriodResponse(BaseModel):
    periodStart: datetime  # noqa: N815
    periodEnd: datetime | None = None  # noqa: N815


class HeartbeatResponse(BaseModel):
    status: str = Field(examples=["OK"], description="`OK` or `FAIL`.")
    message: str | None = None


class BadTrackerRequest(DomainError):
    """The Data Tracker contract answers 400 to a request that does not meet it."""

    slug = "bad-request"
    title = "Bad request"
    status = 400


def _aware(value: datetime | None, name: str) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValidationFailed(f"{name} needs a time zone (e.g. 2021-01-31T10:20:30Z)")
    return value


def _instant(text: str | None, name: str) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise BadTrackerRequest(f"{name} must be a date-time (e.g. 2021-01-31T10:20:30Z)") from None
    if value.tzinfo is None:
        raise BadTrackerRequest(f"{name} needs a time zone (e.g. 2021-01-31T10:20:30Z)")
    return value


def _count(text: str | None, name: str, default: int, low: int, high: int) -> int:
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise BadTrackerRequest(f"{name} must be an integer") from None
    if not low <= value <= high:
        raise BadTrackerRequest(f"{name} must be between {low} and {high}")
    return value


@tracker.get(
    "/v2/findUsage",
    summary="Who processed the person's data (Data Tracker)",
    response_model_exclude_none=True,
    responses={400: {"description": "The request does not meet the contract."}},
)
def get_find_usage(
    request: Request,
    session: RecordsSession,
    x_road_userid: Annotated[
        str | None, Header(alias="X-Road-UserId", description="The person asking (required).")
    ] = None,
    user_code: Annotated[
        str | None, Query(alias="userCode", description="The data subject (required).")
    ] = None,
    period_start: Annotated[str | None, Query(alias="periodStart")] = None,
    period_end: Annotated[str | None, Query(alias="periodEnd")] = None,
    offset: Annotated[str | None, Query(description="Records to skip (default 0).")] = None,
    limit: Annotated[str | None, Query(description="At most this many (default 1000).")] = None,
) -> FindUsageResponse:
    require_usage_reader(session, request)
    if not x_road_userid or not x_road_userid.strip():
        raise BadTrackerRequest("the X-Road-UserId header is required")
    if not user_code or not user_code.strip() or len(user_code) > 32:
        raise BadTrackerRequest("userCode is required (the data subject's personal code)")
    total, items = find_usage(
        session,
        subject_code=user_code.strip(),
        since=_instant(period_start, "periodStart"),
        until=_instant(period_end, "periodEnd"),
        offset=_count(offset, "offset", 0, 0, 2**31 - 1),
        limit=_count(limit, "limit", 1000, 1, 1000),
    )
    return FindUsageResponse(
        totalUsages=total,
        usages=[
            Usage(
                logtime=item.logged_at,
                action=item.action,
                receiverCode=item.receiver.member_code,
                receiverName=item.receiver.member_name,
                receiverSystem=item.receiver.system,
            )
            for item in items
        ],
    )


@tracker.get(
    "/v2/usagePeriod",
    summary="The period data-usage records are kept for",
    response_model_exclude_none=True,
)
def get_usage_period(request: Request, session: RecordsSession) -> UsagePeriodResponse:
    require_usage_reader(session, request)
    return UsagePeriodResponse(periodStart=usage_period(session) or utcnow())


@tracker.get("/v2/heartbeat", summary="Is the Data Tracker service up")
def get_heartbeat(session: RecordsSession) -> HeartbeatResponse:
    usage_period(session)  # the records can be read
    return HeartbeatResponse(status="OK", message="API is ready")


class ReceiverOut(BaseModel):
    member_class: str
    member_code: str
    name: str
    system: str


class RecordProofOut(BaseModel):
    """What the person needs to check the record is in the transparency log: recompute
    ``leaf_input`` from ``canonical_record`` (``tag || record_id || SHA-256(canonical)``,
    see the exchange's canonical module), then verify ``proof`` against its signed tree head
    with the log's public key (``/api/v1/log/public-key``)."""

    canonical_record: str = Field(description="The record's canonical bytes (UTF-8 JSON).")
    leaf_input: str = Field(description="Base64 of the transparency-log entry.")
    proof: InclusionProofOut | None = Field(
        None, description="Inclusion proof against the latest signed tree head."
    )


class UsageOut(BaseModel):
    id: int
    record_id: str
    logged_at: datetime
    channel: str = Field(description="`exchange` (a mediated call) or `backoffice` (staff).")
    receiver: ReceiverOut
    service: str | None = Field(None, description="X-Road id of the service called.")
    action: str
    fields: list[str]
    purpose: str
    purpose_text: str = Field(
        description="The purpose in words, in the language asked for (Accept-Language), as "
        "the exchange's central office described it; the code where nobody did."
    )
    legal_basis: str
    case_reference: str | None
    on_behalf_of: str | None = Field(None, description="The end user (X-Road-UserId).")
    represented_party: str | None
    message_id: str | None
    law_enforcement: bool
    disclosed_on: date | None = Field(
        None, description="For a law-enforcement use: when it became visible to the person."
    )
    log_index: int
    verification: RecordProofOut

    @classmethod
    def of(
        cls, item: UsageItem, proof: InclusionProofOut | None, purposes: dict[str, str]
    ) -> UsageOut:
        return cls(
            id=item.id,
            record_id=str(item.record_id),
            logged_at=item.logged_at,
            channel=item.channel,
            receiver=ReceiverOut(
                member_class=item.receiver.member_class,
                member_code=item.receiver.member_code,
                name=item.receiver.member_name,
                system=item.receiver.system,
            ),
            service=item.service_xroad_id,
            action=item.action,
            fields=list(item.fields),
            purpose=item.purpose,
            purpose_text=purposes.get(item.purpose, item.purpose),
            legal_basis=item.legal_basis,
            case_reference=item.case_reference,
            on_behalf_of=item.user_id,
            represented_party=item.represented_party,
            message_id=item.message_id,
            law_enforcement=item.law_enforcement,
            disclosed_on=item.hidden_until,
            log_index=item.log_index,
            verification=RecordProofOut(
                canonical_record=item.canonical.decode(),
                leaf_input=base64.b64encode(item.leaf_input).decode(),
                proof=proof,
            ),
        )


@portal.get("/data-usage", summary="Who used a person's data, with proofs (portal)")
def get_data_usage(
    request: Request,
    session: RecordsSession,
    personal_code: Annotated[str, Query(alias="personalCode", min_length=1, max_length=32)],
    period_from: Annotated[datetime | None, Query(alias="from")] = None,
    period_to: Annotated[datetime | None, Query(alias="to")] = None,
    member: Annotated[
        str | None, Query(description="Only records of this receiving member (its code).")
    ] = None,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page.")] = None,
    limit: Annotated[int, Query(description="Records per page (1–500).")] = DEFAULT_LIMIT,
) -> Page[UsageOut]:
    require_usage_reader(session, request)
    page = list_usage(
        session,
        subject_code=personal_code,
        request=PageRequest(cursor=cursor, limit=limit),
        since=_aware(period_from, "from"),
        until=_aware(period_to, "to"),
        member_code=member,
    )
    proofs = proofs_for(session, page.items)
    purposes = purpose_names(session, [item.purpose for item in page.items])
    return Page[UsageOut](
        items=[
            UsageOut.of(
                item,
                InclusionProofOut.of(proofs[item.id]) if item.id in proofs else None,
                purposes,
            )
            for item in page.items
        ],
        next_cursor=page.next_cursor,
    )
