"""Staff of an organisation signed in to the back office: ``Staff`` /
``Depends(require_staff(member=..., role=..., min_loa=...))`` — a staff member (at least
"substantial" by default) holding ``role`` (any role when None) in ``member``
(``"CLASS/CODE"``, :data:`PATH_MEMBER` for the route's ``{member_class}/{member_code}``, or
None for any organisation). ``staff.exchange_client(session, client=...)`` reads with their
organisation's rights only. Who is signed in is :mod:`joinedup.web.auth`'s to say."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from joinedup import identity
from joinedup.core.errors import Forbidden
from joinedup.exchange import ExchangeClient
from joinedup.identity import LevelOfAssurance, StaffRoleName
from joinedup.web.auth import Principal, SignInRequired, has_session_cookie, here, signed_in
from joinedup.web.endpoint_thread import in_endpoint_thread

PATH_MEMBER = "{member_class}/{member_code}"


@dataclass(frozen=True)
class StaffContext:
    """What :func:`require_staff` gives a page."""

    principal: Principal

    @contextmanager
    def exchange_client(self, session: Session, *, client: str) -> Iterator[ExchangeClient]:
        """Reads as ``client`` (a subsystem of the staff member's own organisation only)."""
        with identity.staff_exchange_client(
            session,
            personal_code=self.principal.personal_code,
            roles=self.principal.staff_roles,
            client=client,
        ) as calls:
            yield calls


#: Roles that work on individual people's cases (analysts and administrators do not).
CASE_ROLES = frozenset({StaffRoleName.CASEWORKER, StaffRoleName.SUPERVISOR})


def check_case_role(staff: StaffContext, member_class: str, member_code: str) -> None:
    """``Forbidden`` unless the staff member is a caseworker or supervisor of the organisation
    (only they look at one person's data)."""
    if not staff.principal.roles_in(member_class, member_code) & CASE_ROLES:
        raise Forbidden("Only caseworkers and supervisors look people up.")


def require_staff(
    *,
    member: str | None = None,
    role: StaffRoleName | None = None,
    min_loa: LevelOfAssurance = LevelOfAssurance.SUBSTANTIAL,
) -> Callable[[Request], StaffContext]:
    """A dependency: a staff member with ``role`` (any when None) in ``member``
    (``"CLASS/CODE"``, :data:`PATH_MEMBER`, or None for any organisation), signed in at
    ``min_loa`` or above. Someone without the role gets ``Forbidden``."""

    def sign_in(request: Request) -> SignInRequired:
        return SignInRequired(
            "Staff sign in at a substantial level or higher.",
            level=min_loa,
            return_to=here(request),
        )

    def dependency(request: Request) -> StaffContext:
        resolved = signed_in(request)
        if resolved is None or not resolved[0].level_of_assurance.at_least(min_loa):
            raise sign_in(request)
        principal = resolved[0]
        if member == PATH_MEMBER:
            wanted: tuple[str, str] | None = (
                str(request.path_params.get("member_class", "")),
                str(request.path_params.get("member_code", "")),
            )
        elif member is not None:
            member_class, _, member_code = member.partition("/")
            wanted = (member_class, member_code)
        else:
            wanted = None
        held = [
            r
            for r in principal.staff_roles
            if (wanted is None or (r.member_class, r.member_code) == wanted)
            and (role is None or r.role is role)
        ]
        if not held:
            raise Forbidden("You hold no staff role that allows this.")
        return StaffContext(principal=principal)

    def no_session(request: Request) -> None:
        if not has_session_cookie(request):
            raise sign_in(request)

    return in_endpoint_thread(dependency, precheck=no_session)


Staff = Annotated[StaffContext, Depends(require_staff())]
