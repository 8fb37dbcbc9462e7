"""The back office: where staff of agencies at every level work on joined-up cases.

Staff sign in like anyone, at the substantial level at least; what they see comes from the
roles their own organisation gave them (:func:`joinedup.web.staff_access.require_staff`), and what
they may read from their organisation's access rights in the exchange.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from joinedup import identity
from joinedup.exchange import get_member
from joinedup.identity import LevelOfAssurance, StaffRoleName
from joinedup.web.auth import OptionalPrincipal, sign_in_url
from joinedup.web.backoffice import person
from joinedup.web.csrf import csrf_protect
from joinedup.web.deps import ReadSession
from joinedup.web.endpoint_thread import PageRoute
from joinedup.web.staff_access import PATH_MEMBER, StaffContext, require_staff
from joinedup.web.templating import render

router = APIRouter(
    route_class=PageRoute,
    prefix="/backoffice",
    include_in_schema=False,
    default_response_class=HTMLResponse,
    dependencies=[Depends(csrf_protect)],
)


@router.get("")
def start(request: Request, principal: OptionalPrincipal, session: ReadSession) -> HTMLResponse:
    organisations = []
    if principal is not None:
        seen: dict[tuple[str, str], list[str]] = {}
        for role in principal.staff_roles:
            seen.setdefault((role.member_class, role.member_code), []).append(str(role.role))
        for (member_class, member_code), roles in seen.items():
            member = get_member(session, member_class=member_class, member_code=member_code)
            organisations.append(
                {
                    "name": member.name,
                    "href": f"/backoffice/organisations/{member_class}/{member_code}",
                    "roles": roles,
                }
            )
    return render(
        request,
        "backoffice/start.html",
        {
            "organisations": organisations,
            "sign_in_href": sign_in_url(LevelOfAssurance.SUBSTANTIAL, "/backoffice"),
            "staff_level_ok": principal is not None
            and principal.level_of_assurance.at_least(LevelOfAssurance.SUBSTANTIAL),
        },
    )


@router.get("/organisations/{member_class}/{member_code}")
def organisation(
    request: Request,
    member_class: str,
    member_code: str,
    session: ReadSession,
    staff: StaffContext = Depends(require_staff(member=PATH_MEMBER)),  # noqa: B008
) -> HTMLResponse:
    """An organisation's page for its own staff; its staff list for its administrators."""
    member = get_member(session, member_class=member_class, member_code=member_code)
    roles = staff.principal.roles_in(member_class, member_code)
    staff_list = (
        identity.staff_of(session, member_class=member_class, member_code=member_code)
        if StaffRoleName.ADMINISTRATOR in roles
        else None
    )
    return render(
        request,
        "backoffice/organisation.html",
        {"member": member, "roles": sorted(str(r) for r in roles), "staff_list": staff_list},
    )


back_office = APIRouter(
    route_class=PageRoute, include_in_schema=False, default_response_class=HTMLResponse
)
back_office.include_router(router)
back_office.include_router(person.router)
