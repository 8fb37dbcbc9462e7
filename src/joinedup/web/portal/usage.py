"""Who used my data: every use of the data of the person acted for — who (the agency, and
whether it was them, their system or a member of its staff), when, which fields, why and
under which law — filtered by agency and period, in keyset pages; each record can be
checked against the transparency log (the server recomputes the record's log entry, checks
its inclusion proof against the latest signed tree head and that tree head's signature, and
shows each result).

Only the subject's own records are ever read (``citizen.subject_code``): a record id of
someone else's, guessed into the URL, is "not found" exactly like one that does not exist.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time
from typing import Annotated, NamedTuple
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from joinedup.core import i18n
from joinedup.core.errors import NotFound, ValidationFailed
from joinedup.core.pagination import PageRequest
from joinedup.exchange import UsageItem, list_usage, purpose_names, usage_receivers, verify_usage
from joinedup.web.auth import Citizen
from joinedup.web.csrf import csrf_protect
from joinedup.web.deps import ReadSession, read_session
from joinedup.web.endpoint_thread import PageRoute
from joinedup.web.portal.labels import field_labels
from joinedup.web.templating import render

#: The largest record id there can be (a 64-bit signed integer).
MAX_ID = 2**63 - 1

router = APIRouter(
    route_class=PageRoute,
    prefix="/portal/data-usage",
    include_in_schema=False,
    default_response_class=HTMLResponse,
    dependencies=[Depends(csrf_protect)],
)
PAGE = 20


def _day(text: str | None, name: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValidationFailed(
            "the period's days must be dates like 2026-03-31", parameter=name
        ) from None


class UsageCard(NamedTuple):
    """One record as its card on the list shows it, in the order the template unpacks it: the
    page's values worked out once (the time written once for its two places, the fields'
    labels and the purpose in words looked up), the template saying who in words."""

    id: str
    receiver_name: str
    logged_at: str  # as the page writes it, UTC
    user_id: str | None
    channel: str
    system: str
    represented_party: str | None
    fields: str  # their labels, in the current language
    purpose: str  # in words, in the current language
    case_reference: str | None
    legal_basis: str


def usage_cards(items: Sequence[UsageItem], purposes: Mapping[str, str]) -> list[UsageCard]:
    """The cards of ``items`` in the current language (``purposes``: their purposes in words,
    as :func:`purpose_names` gives them)."""
    labels = field_labels(i18n.current_locale())
    return [
        UsageCard(
            str(item.id),
            item.receiver.member_name,
            item.logged_at.strftime("%Y-%m-%d %H:%M:%S"),
            item.user_id,
            item.channel,
            item.receiver.system,
            item.represented_party,
            ", ".join(map(labels.get, item.fields, item.fields)),  # an unknown one as it is
            purposes.get(item.purpose, item.purpose),
            item.case_reference,
            item.legal_basis,
        )
        for item in items
    ]


@router.get("")
def usage_list(
    request: Request,
    citizen: Citizen,
    agency: Annotated[str | None, Query(max_length=40)] = None,
    period_from: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    period_to: Annotated[str | None, Query(alias="to", max_length=10)] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> HTMLResponse:
    # closed before the page is rendered (see read_session)
    with read_session(request) as session:
        citizen.authorise(session, "data:data-usage")
        first, last = _day(period_from, "from"), _day(period_to, "to")
        since = datetime.combine(first, time.min, tzinfo=UTC) if first else None
        # the whole last day (its last instant: the day after it may not exist, 9999-12-31)
        until = datetime.combine(last, time.max, tzinfo=UTC) if last else None
        page = list_usage(
            session,
            subject_code=citizen.subject_code,
            request=PageRequest(cursor=cursor, limit=PAGE),
            since=since,
            until=until,
            member_code=agency or None,
        )
        purposes = purpose_names(session, [item.purpose for item in page.items])
        agencies = usage_receivers(session, subject_code=citizen.subject_code)
    filters = {k: v for k, v in (("agency", agency), ("from", period_from), ("to", period_to)) if v}
    next_href = (
        "?" + urlencode({**filters, "cursor": page.next_cursor}) if page.next_cursor else None
    )
    return render(
        request,
        "portal/usage_list.html",
        {
            "cards": usage_cards(page.items, purposes),
            "agencies": agencies,
            "agency": agency or None,
            "period_from": period_from or "",
            "period_to": period_to or "",
            "next_href": next_href,
            "actor_code": citizen.actor_code,
            "subject_code": citizen.subject_code,
        },
    )


@router.get("/{usage_id}/verify")
def verify(request: Request, usage_id: int, citizen: Citizen, session: ReadSession) -> HTMLResponse:
    citizen.authorise(session, "data:data-usage")
    if not 0 < usage_id <= MAX_ID:  # no such record (and no 64-bit integer to ask about)
        raise NotFound("there is no such data-usage record of this person")
    result = verify_usage(session, usage_id=usage_id, subject_code=citizen.subject_code)
    return render(
        request,
        "portal/usage_verify.html",
        {
            "result": result,
            "item": result.item,
            "purposes": purpose_names(session, [result.item.purpose]),
            "actor_code": citizen.actor_code,
            "subject_code": citizen.subject_code,
        },
    )
