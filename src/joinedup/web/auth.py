"""Who is signed in, for whom they act, and CSRF — the one interface pages use.

**Getting the signed-in person.** Declare a parameter::

    @router.get("/portal/overview")
    def overview(request: Request, citizen: Citizen, session: WriteSession) -> HTMLResponse:
        mandate = citizen.authorise(session, "data:entitlements")   # Forbidden if not covered
        with citizen.exchange_client(session) as calls:              # reads as the portal,
            ...                                                      # naming actor and subject

- ``Citizen`` (= ``Annotated[CitizenContext, Depends(require_citizen())]``) — somebody is
  signed in at any level; not signed in, a page redirects to ``/portal/sign-in`` (and back),
  an API answers 401. ``Depends(require_citizen(min_loa=LevelOfAssurance.SUBSTANTIAL))``
  asks for more: a session at a lower level is sent to sign in again at that level
  (step-up). A :class:`CitizenContext` has ``principal`` (a :class:`Principal`: personal
  code, names, level of assurance, staff roles) and ``acting_for`` (an :class:`ActingFor`:
  the subject's code and name and the :class:`~joinedup.identity.Mandate` it rests on —
  ``kind`` self, parent, power_of_attorney or representative). Always show and read the
  *subject's* data (``citizen.subject_code``), never a code from the URL or a form.
- ``citizen.authorise(session, action)`` — the mandate must cover ``action``
  (``data:<category>`` from :data:`~joinedup.identity.DATA_CATEGORIES`, or
  ``service:<code>``); a power of attorney may cover less than everything.
  ``citizen.exchange_client(session)`` — calls through the exchange as the portal with
  ``user_id`` = the actor and ``represented_party`` = the subject (when it is not the actor),
  so data usage shows both.
- ``Staff`` (:mod:`joinedup.web.staff_access`) — a staff member with a role in an
  organisation, for the back office.
- ``OptionalPrincipal`` — the :class:`Principal` or None (start pages that greet people).
- CSRF: :mod:`joinedup.web.csrf`.

Make a page's router with ``route_class=PageRoute`` (:mod:`joinedup.web.endpoint_thread`):
these dependencies then run in the sync page's own worker thread, not in one of their own
(a test of the application lists every route that misses it).

Sessions are server-side rows; the cookie (``__Host-joinedup-session`` in production: Secure,
HttpOnly, SameSite=Lax, Path=/) holds a random token. See :mod:`joinedup.identity.service.
sessions` for timeouts and fixation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any, cast
from urllib.parse import urlencode, urlsplit

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from joinedup import identity
from joinedup.core.clock import today, utcnow
from joinedup.core.db import Database
from joinedup.core.errors import Conflict, Forbidden, Unauthenticated
from joinedup.core.logging import get_logger
from joinedup.core.settings import Settings
from joinedup.exchange import ExchangeClient, LocalCallRefused, exchange_client
from joinedup.identity import (
    LevelOfAssurance,
    Mandate,
    MandateKind,
    StaffMembership,
    StaffRoleName,
)
from joinedup.web.endpoint_thread import in_endpoint_thread
from joinedup.web.recorded_reads import recorded_reads

log = get_logger(__name__)

#: Derived mandates (parent, representative) are re-read from the registries this often.
MANDATE_RECHECK = timedelta(minutes=15)
#: The methods that change something: a form's, refused without the CSRF token.
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def cookie_name(settings: Settings, base: str) -> str:
    """``__Host-`` names need Secure, which plain-HTTP development cannot set."""
    return f"__Host-{base}" if settings.is_production else base


def session_cookie(settings: Settings) -> str:
    return cookie_name(settings, "joinedup-session")


def binding_cookie(settings: Settings) -> str:
    return cookie_name(settings, "joinedup-sign-in")


def cookie_attributes(settings: Settings) -> dict[str, Any]:
    return {
        "httponly": True,
        "samesite": "lax",
        "secure": settings.is_production,
        "path": "/",
    }


def portal_subsystem(settings: Settings) -> str:
    return settings.portal_subsystem


@dataclass(frozen=True)
class Principal:
    """The person signed in: who, how surely, and their staff roles."""

    session_id: str
    personal_code: str
    given_names: str
    family_name: str
    level_of_assurance: LevelOfAssurance
    authenticated_at: datetime
    staff_roles: tuple[StaffMembership, ...]
    csrf: str = field(repr=False)

    @property
    def display_name(self) -> str:
        return f"{self.given_names} {self.family_name}".strip() or self.personal_code

    def roles_in(self, member_class: str, member_code: str) -> set[StaffRoleName]:
        return {
            r.role
            for r in self.staff_roles
            if (r.member_class, r.member_code) == (member_class, member_code)
        }


@dataclass(frozen=True)
class ActingFor:
    """Whom the principal acts for now, and the mandate that allows it."""

    mandate: Mandate

    @property
    def subject_code(self) -> str:
        return self.mandate.subject_code

    @property
    def subject_name(self) -> str:
        return self.mandate.subject_name

    @property
    def is_self(self) -> bool:
        return self.mandate.is_self

    @property
    def is_business(self) -> bool:
        return self.mandate.subject_is_business


@dataclass(frozen=True)
class CitizenContext:
    """What :func:`require_citizen` gives a page."""

    principal: Principal
    acting_for: ActingFor
    portal: str  # the exchange subsystem the portal reads as

    @property
    def actor_code(self) -> str:
        return self.principal.personal_code

    @property
    def subject_code(self) -> str:
        return self.acting_for.subject_code

    def authorise(self, session: Session, action: str) -> Mandate:
        """The mandate for ``action`` on the subject (``Forbidden`` if it does not cover it).
        Powers of attorney are re-read (revocation takes effect at once); parents' and
        representatives' mandates were confirmed within :data:`MANDATE_RECHECK`."""
        if self.acting_for.mandate.kind is MandateKind.POWER_OF_ATTORNEY:
            return identity.authorise(
                session,
                actor_code=self.actor_code,
                subject_code=self.subject_code,
                action=action,
                on=today(),
                calls=None,
            )
        identity.check_action(action)
        if not self.acting_for.mandate.covers(action):
            raise Forbidden("Your mandate does not cover this.")
        return self.acting_for.mandate

    def authorise_now(self, session: Session, action: str) -> Mandate:
        """:meth:`authorise` for what has legal effect (giving or withdrawing a consent,
        opening a letter — its read receipt): a parent's or representative's mandate is
        confirmed through the registers now (a read recorded for the subject), not taken from
        the check of up to :data:`MANDATE_RECHECK` ago."""
        kind = self.acting_for.mandate.kind
        if self.acting_for.is_self or kind is MandateKind.POWER_OF_ATTORNEY:
            return self.authorise(session, action)
        with self.exchange_client(session) as calls:
            return identity.authorise(
                session,
                actor_code=self.actor_code,
                subject_code=self.subject_code,
                action=action,
                on=today(),
                calls=calls,
            )

    @contextmanager
    def exchange_client(self, session: Session) -> Iterator[ExchangeClient]:
        """Reads through the exchange as the portal, naming the actor (``user_id``) and,
        when acting for someone else, the subject (``represented_party``)."""
        with exchange_client(
            session,
            client=self.portal,
            user_id=self.actor_code,
            represented_party=None if self.acting_for.is_self else self.subject_code,
        ) as calls:
            yield calls


class SignInRequired(Unauthenticated):
    """Nobody is signed in, or not at the level the page needs (pages: a redirect)."""

    slug = "sign-in-required"
    title = "Sign in to continue"

    def __init__(self, detail: str, *, level: LevelOfAssurance, return_to: str) -> None:
        super().__init__(detail, level=str(level))
        self.level = level
        self.return_to = return_to


def settings_of(request: Request) -> Settings:
    """The settings the application was made with (in a test, not the process's own)."""
    return cast(Settings, request.app.state.settings)


def _database(request: Request) -> Database:
    return cast(Database, request.app.state.database)


def _self(principal: Principal) -> ActingFor:
    return ActingFor(identity.self_mandate(principal.personal_code, principal.display_name))


def has_session_cookie(request: Request) -> bool:
    """Whether the request names a session at all (no I/O: whether it is one is
    :func:`_resolve`'s question)."""
    return bool(request.cookies.get(session_cookie(settings_of(request))))


def _resolve(request: Request) -> tuple[Principal, ActingFor] | None:
    settings = settings_of(request)
    token = request.cookies.get(session_cookie(settings))
    if not token:
        return None
    database = _database(request)
    idle = timedelta(minutes=settings.session_idle_minutes)
    with database.reading_rows() as connection:
        record = identity.find_web_session(connection, token=token, idle=idle)
        if record is None:
            return None
        roles = identity.staff_roles_of(connection, personal_code=record.personal_code)
    if utcnow() - record.last_seen_at >= identity.service.sessions.TOUCH_INTERVAL:
        with database.unit_of_work() as session:
            identity.touch_web_session(session, session_id=record.id)
    principal = Principal(
        session_id=record.id,
        personal_code=record.personal_code,
        given_names=record.given_names,
        family_name=record.family_name,
        level_of_assurance=record.level_of_assurance,
        authenticated_at=record.authenticated_at,
        staff_roles=roles,
        csrf=record.csrf_secret,
    )
    return principal, _acting_for(request, principal, record)


def _acting_for(
    request: Request, principal: Principal, record: identity.WebSessionRecord
) -> ActingFor:
    """The session's acting-for choice, still valid; reverts to the person themselves (and
    says so in the session) when its mandate has ended."""
    if record.acting_for is None:
        return _self(principal)
    database, now = _database(request), utcnow()
    if record.acting_for_kind == MandateKind.POWER_OF_ATTORNEY:
        with database.reading() as session:
            held = identity.powers_received_on(
                session, grantee_code=principal.personal_code, on=today()
            )
        found = next((m for m in held if m.subject_code == record.acting_for), None)
    elif (
        record.acting_checked_at
        and now - record.acting_checked_at < MANDATE_RECHECK
        and (record.acting_checked_at.date() == now.date())
    ):
        found = Mandate(
            kind=MandateKind(record.acting_for_kind or MandateKind.PARENT),
            actor_code=principal.personal_code,
            subject_code=record.acting_for,
            subject_name=record.acting_for_name or "",
            subject_is_business=record.acting_for_kind == MandateKind.REPRESENTATIVE,
            scope=frozenset({identity.EVERYTHING}),
            valid_from=None,
            valid_to=None,
        )
    else:
        found = _recheck(request, principal, record.acting_for)
    if found is None:
        with database.unit_of_work() as session:
            identity.set_acting_for(
                session,
                session_id=principal.session_id,
                subject_code=None,
                if_acting_for=record.acting_for,  # (not a choice made meanwhile)
            )
        request.state.mandate_ended = True
        return _self(principal)
    return ActingFor(found)


def _recheck(request: Request, principal: Principal, subject: str) -> Mandate | None:
    """Confirm a parent's or representative's mandate through the exchange (every
    :data:`MANDATE_RECHECK`, and on a new day), from the one register that keeps it. The
    register is read as :mod:`joinedup.web.recorded_reads` reads (a read-only transaction,
    the reads on record whatever comes of them); the confirmation is written in a short
    transaction of its own. None when it is not confirmed — also when that register cannot
    be read for it (the portal refused: ``mandate_unconfirmed`` is set for the page to say
    so): the person then acts for themselves, not on a mandate nobody could check."""
    settings = settings_of(request)
    try:
        with recorded_reads(
            request, client=portal_subsystem(settings), user_id=principal.personal_code
        ) as (session, calls):
            mandate = identity.derived_mandate(
                session,
                calls,
                actor_code=principal.personal_code,
                subject_code=subject,
                on=today(),
            )
    except LocalCallRefused as refused:  # not known to have ended: not confirmed
        # the portal lost a right it needs: the operators' concern (nobody's data logged)
        log.warning("mandate_not_confirmable", error_type=refused.error_type)
        request.state.mandate_unconfirmed = True
        return None
    if mandate is None:
        return None
    with _database(request).unit_of_work() as session:
        identity.set_acting_for(
            session,
            session_id=principal.session_id,
            subject_code=mandate.subject_code,
            subject_name=mandate.subject_name,
            kind=str(mandate.kind),
            checked_at=utcnow(),
            if_acting_for=subject,  # (not a choice made meanwhile)
        )
    return mandate


def signed_in(request: Request) -> tuple[Principal, ActingFor] | None:
    if not hasattr(request.state, "auth"):
        request.state.auth = _resolve(request)
        if request.state.auth is not None:
            request.state.principal, request.state.acting_for = request.state.auth
    return cast("tuple[Principal, ActingFor] | None", request.state.auth)


@in_endpoint_thread
def current_principal(request: Request) -> Principal | None:
    """The signed-in :class:`Principal`, or None (cached for the request)."""
    resolved = signed_in(request)
    return resolved[0] if resolved else None


OptionalPrincipal = Annotated[Principal | None, Depends(current_principal)]


def local_path(value: str | None, default: str = "/portal") -> str:
    """``value`` if it is a path on this site (no scheme, host or ``//``), else ``default``:
    return addresses are never open redirects."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or "\\" in value or any(ord(c) < 32 for c in value):
        return default
    return value[:500]


def sign_in_url(level: LevelOfAssurance, return_to: str) -> str:
    return "/portal/sign-in?" + urlencode({"level": str(level), "return_to": return_to})


def here(request: Request) -> str:
    query = request.url.query
    return local_path(request.url.path + (f"?{query}" if query else ""))


class SubjectChanged(Conflict):
    """A form shown for one person was sent when the session acts for another."""

    slug = "acting-for-changed"
    title = "You now act for someone else"


def require_citizen(
    min_loa: LevelOfAssurance = LevelOfAssurance.LOW, *, switching: bool = False
) -> Callable[[Request], CitizenContext]:
    """A dependency: the signed-in person at ``min_loa`` or above, and whom they act for. An
    unsafe request whose form was shown for someone else than the session acts for now (or
    whose mandate ended meanwhile) is refused (:class:`SubjectChanged`, 409), except where
    the request chooses whom to act for (``switching``)."""

    def dependency(request: Request) -> CitizenContext:
        resolved = signed_in(request)
        if resolved is None:
            raise SignInRequired("Sign in to continue.", level=min_loa, return_to=here(request))
        principal, acting_for = resolved
        if not principal.level_of_assurance.at_least(min_loa):
            raise SignInRequired(
                f"This page needs a sign-in at level {min_loa}: sign in again.",
                level=min_loa,
                return_to=here(request),
            )
        if request.method in UNSAFE_METHODS and not switching:
            shown_for = getattr(request.state, "form_subject", None)
            ended = getattr(request.state, "mandate_ended", False)
            if ended or (shown_for is not None and shown_for != acting_for.subject_code):
                unconfirmed = getattr(request.state, "mandate_unconfirmed", False)
                why = (
                    " (that mandate could not be confirmed now)"
                    if unconfirmed
                    else (" (that mandate has ended)" if ended else "")
                )
                raise SubjectChanged(
                    "This form was shown when you acted for someone else than you do now"
                    + why
                    + ": nothing was changed. Look at the page again before you send it."
                )
        return CitizenContext(
            principal=principal,
            acting_for=acting_for,
            portal=portal_subsystem(settings_of(request)),
        )

    def no_session(request: Request) -> None:
        if not has_session_cookie(request):
            raise SignInRequired("Sign in to continue.", level=min_loa, return_to=here(request))

    return in_endpoint_thread(dependency, precheck=no_session)


Citizen = Annotated[CitizenContext, Depends(require_citizen())]


async def _sign_in_required(request: Request, exc: Exception) -> Any:
    """Pages send the browser to sign in (and back); APIs answer a 401 problem."""
    from fastapi.responses import RedirectResponse

    from joinedup.web.problems import handle_domain_error, wants_html

    assert isinstance(exc, SignInRequired)
    if wants_html(request.scope, request.headers.get("accept", "")):
        return RedirectResponse(sign_in_url(exc.level, exc.return_to), status_code=303)
    return await handle_domain_error(request, exc)


def install_auth_handlers(app: Any) -> None:
    app.add_exception_handler(SignInRequired, _sign_in_required)
