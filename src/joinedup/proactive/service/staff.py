"""An agency's staff look at one person's entitlements from the agency's own services: a
caseworker or supervisor (the web layer checks the role), for a purpose of those services
and, where there is one, a case. Every lookup is a data-usage record the person sees under
"Who used my data" (the staff member, the agency, the purpose and the services' legal basis),
found or not."""

from __future__ import annotations

from sqlalchemy.orm import Session

from joinedup import catalogue, exchange
from joinedup.core.errors import ValidationFailed
from joinedup.core.pagination import Page, PageRequest
from joinedup.proactive.schemas import EntitlementView, StaffEntitlementLookup
from joinedup.proactive.service.decisions import list_entitlements
from joinedup.registries import is_valid_personal_code

#: What a lookup shows, as the person reads it in the data-usage record.
SHOWN = "entitlements"


def look_up_entitlements(
    session: Session,
    *,
    member_class: str,
    member_code: str,
    staff_user: str,
    lookup: StaffEntitlementLookup,
) -> Page[EntitlementView]:
    """The person's entitlements from the agency's services of ``lookup.purpose``, newest
    first, recorded as a back-office view of the person (``exchange.record_staff_view``).
    ``ValidationFailed`` naming the field for a malformed personal code or a purpose none of
    the agency's services has. Changes the person's data-usage records."""
    problems: list[dict[str, str]] = []
    person = lookup.personal_code.strip()
    if not is_valid_personal_code(person):
        problems.append({"field": "personal_code", "message": "is not a personal code"})
    services = [
        s
        for s in catalogue.active_services(
            session, owner_member_class=member_class, owner_member_code=member_code
        )
        if s.purpose == lookup.purpose
    ]
    if not services:
        problems.append(
            {"field": "purpose", "message": "none of your agency's services has this purpose"}
        )
    if problems:
        raise ValidationFailed("The lookup cannot be made as given.", errors=problems)
    page = list_entitlements(
        session,
        person_code=person,
        status=lookup.status,
        owner_member_class=member_class,
        owner_member_code=member_code,
        service_codes=[s.code for s in services],
        page=PageRequest(cursor=lookup.cursor, limit=lookup.limit),
    )
    exchange.record_staff_view(
        session,
        staff_member=f"{member_class}/{member_code}",
        staff_user=staff_user,
        person_code=person,
        fields=[SHOWN],
        purpose=lookup.purpose,
        legal_basis="; ".join(sorted({s.legal_basis for s in services})),
        case_reference=(lookup.case_reference or "").strip() or None,
    )
    return page
