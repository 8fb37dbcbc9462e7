"""The back office's person view: a caseworker (or supervisor) of an organisation looks a
person up, for one of the purposes their organisation holds a right to read the population
register for — and then, one register at a time and only when they ask, reads what else the
organisation's rights allow for that purpose (family, residence, income totals, employment,
the payment account…): nothing is read that was not asked for.

The read goes through the exchange as the organisation's own subsystem (so only with its
access rights, and refused like any other call where it has none, e.g. a municipality asking
about someone who does not live there), naming the staff member as the user; the view is
then recorded with :func:`joinedup.exchange.record_staff_view`, so the person sees both in
"Who used my data". The personal code travels in the form's body, never in a URL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, cast

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from joinedup.core.errors import Forbidden, NotFound
from joinedup.core.pagination import PageRequest
from joinedup.core.settings import Settings
from joinedup.exchange import (
    REGISTRY_SERVICES,
    LocalCallRefused,
    ServiceRef,
    SubsystemRef,
    get_member,
    list_access_rights,
    list_subsystems,
    purpose_names,
    record_staff_view,
)
from joinedup.registries import get_registry, is_valid_personal_code
from joinedup.web.csrf import csrf_protect
from joinedup.web.deps import ReadSession, WriteSession
from joinedup.web.endpoint_thread import PageRoute
from joinedup.web.staff_access import PATH_MEMBER, StaffContext, check_case_role, require_staff
from joinedup.web.templating import render

router = APIRouter(
    route_class=PageRoute,
    prefix="/backoffice/organisations/{member_class}/{member_code}/person",
    include_in_schema=False,
    default_response_class=HTMLResponse,
    dependencies=[Depends(csrf_protect)],
)
OrganisationStaff = Annotated[StaffContext, Depends(require_staff(member=PATH_MEMBER))]


@dataclass(frozen=True)
class Access:
    """A right of the organisation to read the population register's ``person`` service."""

    subsystem: str  # CLASS/MEMBER/SUBSYSTEM
    purpose: str
    legal_basis: str
    fields: tuple[str, ...]

    @property
    def key(self) -> str:
        return f"{self.subsystem}|{self.purpose}"


@dataclass(frozen=True)
class Further:
    """Another registry service the chosen subsystem may read by personal code for the
    chosen purpose (offered after the lookup, read only when asked)."""

    code: str  # the registry service code
    title: str
    service: str  # CLASS/MEMBER/SUBSYSTEM/SERVICE


def further_reads(session: Session, chosen: Access, instance: str) -> list[Further]:
    """What else the chosen subsystem may read about a person for the chosen purpose, in
    the registry services' order (bulk extracts and the ``person`` lookup itself aside)."""
    client = SubsystemRef.parse(chosen.subsystem, instance=instance)
    found: dict[str, Further] = {}
    for right in list_access_rights(session, page=PageRequest(limit=200), client=client).items:
        if chosen.purpose not in {grant.purpose for grant in right.purposes}:
            continue
        service = ServiceRef.parse(right.service, instance=instance)
        declared = REGISTRY_SERVICES.get(service.service_code)
        if (
            declared is None
            or declared.bulk
            or declared.code == "person"
            or not any(p.name == "personalCode" for p in declared.parameters)
        ):
            continue
        found[declared.code] = Further(declared.code, declared.title, str(service))
    order = list(REGISTRY_SERVICES)
    return sorted(found.values(), key=lambda f: order.index(f.code))


def _person_service(session: Session) -> ServiceRef:
    record = get_registry(session, code="population")
    return ServiceRef(
        record.owner_member_class, record.owner_member_code, record.owner_subsystem_code, "person"
    )


def accesses(
    session: Session, settings: Settings, *, member_class: str, member_code: str
) -> list[Access]:
    """Every (subsystem, purpose) of the organisation with a right to read persons (the
    citizen portal's subsystem aside: it reads only for the person signed in)."""
    service = _person_service(session)
    found = []
    for subsystem in list_subsystems(session, member_class=member_class, member_code=member_code):
        ref = SubsystemRef(member_class, member_code, subsystem.code)
        if str(ref) == settings.portal_subsystem:
            continue
        rights = list_access_rights(
            session, page=PageRequest(limit=100), client=ref, service=service
        )
        for right in rights.items:
            for grant in right.purposes:
                found.append(
                    Access(str(ref), grant.purpose, grant.legal_basis, tuple(right.fields))
                )
    return found


def _page(
    request: Request,
    session: Session,
    member_class: str,
    member_code: str,
    choices: list[Access],
    **extra: object,
) -> HTMLResponse:
    member = get_member(session, member_class=member_class, member_code=member_code)
    context = {
        "member": member,
        "choices": choices,
        "action": f"/backoffice/organisations/{member_class}/{member_code}/person",
        "person": None,
        "purposes": purpose_names(session, [c.purpose for c in choices]),
        "further": [],
        "extra": None,
        "more": None,
        "more_state": "shown",
        "errors": {},
        "values": {"personal_code": "", "access": "", "case_reference": ""},
        **extra,
    }
    status = 400 if context["errors"] else 200
    return render(request, "backoffice/person.html", context, status_code=status)


@router.get("")
def lookup_form(
    request: Request,
    member_class: str,
    member_code: str,
    staff: OrganisationStaff,
    session: ReadSession,
) -> HTMLResponse:
    check_case_role(staff, member_class, member_code)
    settings = cast(Settings, request.app.state.settings)
    choices = accesses(session, settings, member_class=member_class, member_code=member_code)
    return _page(request, session, member_class, member_code, choices)


@router.post("")
def lookup(
    request: Request,
    member_class: str,
    member_code: str,
    staff: OrganisationStaff,
    session: WriteSession,
    personal_code: Annotated[str, Form(max_length=20)] = "",
    access: Annotated[str, Form(max_length=200)] = "",
    case_reference: Annotated[str, Form(max_length=100)] = "",
    also: Annotated[str, Form(max_length=60)] = "",
) -> HTMLResponse:
    """Read the person through the exchange for the chosen purpose (and, with ``also``, one
    more register the purpose allows) and record the view."""
    check_case_role(staff, member_class, member_code)
    settings = cast(Settings, request.app.state.settings)
    choices = accesses(session, settings, member_class=member_class, member_code=member_code)
    values = {
        "personal_code": personal_code.strip(),
        "access": access,
        "case_reference": case_reference.strip(),
    }
    chosen = next((c for c in choices if c.key == access), None)
    errors: dict[str, str] = {}
    if not is_valid_personal_code(values["personal_code"]):
        errors["personal-code"] = "personal-code"
    if chosen is None:
        if access and choices:
            raise Forbidden("Your organisation holds no such right.")
        errors["access"] = "access"
    if errors or chosen is None:
        return _page(
            request, session, member_class, member_code, choices, errors=errors, values=values
        )
    further = further_reads(session, chosen, settings.xroad_instance)
    extra = next((f for f in further if f.code == also), None)
    if also and extra is None:
        raise Forbidden("Your organisation holds no right to read this for this purpose.")
    service = str(_person_service(session))
    answer = more = None
    more_state = "shown"
    query = {"personalCode": values["personal_code"]}
    issue = values["case_reference"] or None
    with staff.exchange_client(session, client=chosen.subsystem) as calls:
        try:  # a refusal is handled inside the block, so its record is written too
            answer = calls.call(service, purpose=chosen.purpose, query=query, issue=issue)
        except NotFound:
            errors["personal-code"] = "unknown"
        except LocalCallRefused:
            errors["personal-code"] = "refused"
        if answer is not None and extra is not None:
            try:
                more = calls.call(extra.service, purpose=chosen.purpose, query=query, issue=issue)
            except NotFound:
                more_state = "empty"
            except LocalCallRefused:
                more_state = "refused"
    if answer is None:
        return _page(
            request, session, member_class, member_code, choices, errors=errors, values=values
        )
    fields = [*answer.fields, *(more.fields if more is not None else ())]
    record_staff_view(
        session,
        staff_member=f"{member_class}/{member_code}",
        staff_user=staff.principal.personal_code,
        person_code=values["personal_code"],
        fields=list(dict.fromkeys(fields)),
        purpose=chosen.purpose,
        legal_basis=answer.legal_basis,
        case_reference=issue,
    )
    return _page(
        request,
        session,
        member_class,
        member_code,
        choices,
        values=values,
        person=answer.body,
        chosen=chosen,
        further=further,
        extra=extra,
        more=more.body if more is not None else None,
        more_state=more_state,
    )
