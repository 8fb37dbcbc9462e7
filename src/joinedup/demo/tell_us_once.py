"""Tell Us Once in the demo country: the agencies' notice services, who may call them, and
who subscribes to deaths.

- Each agency system of :mod:`joinedup.demo.agency_systems` is published in the exchange
  directory as its agency's REST service ``life-events`` at
  ``<public_url>/agency-systems/<organisation>/life-events``.
- The Central Digital Office's ``tell-us-once`` subsystem may call each of them, and read the
  deceased (``person``) and their family (``relations``) from the population register, for the
  purpose ``tell-us-once`` under the Population Register Act.
- Subscriptions: to ``death``, the four national agencies for every death and each
  municipality for its own residents; to ``move``, the Vehicle Registry for everyone and the
  municipalities moved from and to.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from joinedup import tellusonce
from joinedup.core.settings import get_settings
from joinedup.demo.agencies import ACTOR, organisation
from joinedup.demo.agency_systems import PREFIX, AgencySystem, agency_systems, notice_openapi
from joinedup.demo.exchange_policy import RIGHTS_FROM
from joinedup.exchange import (
    PurposeGrant,
    ServiceRef,
    SubsystemRef,
    grant_access_right,
    register_rest_service,
    registry_service_ref,
)

TELL_US_ONCE = ("digital-office", "tell-us-once")
TELL_US_ONCE_PURPOSE = PurposeGrant(
    purpose=tellusonce.PURPOSE,
    legal_basis="Population Register Act § 44 (informing authorities of a registered death)",
)
ANSWER_FIELDS = ["outcome", "summary", "effectiveFrom", "caseReference"]


def _subsystem(org_key: str, subsystem: str) -> SubsystemRef:
    org = organisation(org_key)
    return SubsystemRef(str(org.member_class), org.member_code, subsystem)


def notice_service(system: AgencySystem) -> ServiceRef:
    """Where ``system``'s notice service is published."""
    org = organisation(system.key)
    return ServiceRef(str(org.member_class), org.member_code, system.subsystem, system.service_code)


def setup_tell_us_once(session: Session) -> bool:
    """Publish the notice services, grant Tell Us Once its rights and subscribe the agencies
    (see the module docstring). Does nothing when subscriptions exist already; returns
    whether it set them up."""
    if tellusonce.list_subscriptions(session, active_only=False):
        return False
    client = _subsystem(*TELL_US_ONCE)
    base = get_settings().public_url.rstrip("/") + PREFIX
    grant_access_right(
        session,
        client=client,
        service=registry_service_ref(session, code="person"),
        fields=["personalCode", "givenNames", "familyName", "birthDate", "residenceAddress",
                "dateOfDeath"],
        purposes=[TELL_US_ONCE_PURPOSE],
        valid_from=RIGHTS_FROM,
        actor=ACTOR,
    )  # fmt: skip
    grant_access_right(
        session,
        client=client,
        service=registry_service_ref(session, code="relations"),
        fields=["partners", "children"],
        purposes=[TELL_US_ONCE_PURPOSE],
        valid_from=RIGHTS_FROM,
        actor=ACTOR,
    )
    for system in agency_systems():
        service = notice_service(system)
        register_rest_service(
            session,
            provider=service.subsystem,
            code=system.service_code,
            title=system.title,
            base_url=f"{base}/{system.key}/{system.service_code}",
            openapi=notice_openapi(system),
            fields=ANSWER_FIELDS,
            log_bodies=True,  # what the agency was told and answered is evidence
            actor=ACTOR,
        )
        grant_access_right(
            session,
            client=client,
            service=service,
            fields=ANSWER_FIELDS,
            purposes=[TELL_US_ONCE_PURPOSE],
            valid_from=RIGHTS_FROM,
            actor=ACTOR,
        )
        municipal = organisation(system.key).municipality_code is not None
        for life_event in system.decisions:
            tellusonce.subscribe_agency(
                session,
                life_event=life_event,
                service=str(service),
                scope=(
                    tellusonce.SubscriptionScope.RESIDENTS
                    if municipal
                    else tellusonce.SubscriptionScope.ALL
                ),
                actor=ACTOR,
            )
    return True
