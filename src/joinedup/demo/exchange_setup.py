"""The demo country's data exchange set up: the registries' services published, the agencies'
API clients and signing keys, and the access-rights policy of
:mod:`joinedup.demo.exchange_policy` granted; a demo exchange set up by an earlier version
brought up to date (:func:`update_demo_exchange`).

Client secrets are derived from the seed so that demo tools and benchmarks can sign in
(:func:`demo_client_credentials`); a real deployment's secrets are random and shown once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from functools import lru_cache
from typing import Any

import structlog
from sqlalchemy.orm import Session

from joinedup.consent import DataItem, LawfulBasis, publish_data_agreement
from joinedup.core.errors import NotFound, ValidationFailed
from joinedup.core.settings import get_settings
from joinedup.demo.agencies import ACTOR, REGISTRY_OWNERS, organisation, organisations
from joinedup.demo.exchange_policy import (
    ADMIN,
    FOOD_BANK,
    LIFE_EVENTS,
    PORTAL,
    RIGHTS_FROM,
    SERVICE_REGISTRY,
    TRACKER,
    USAGE_SERVICE,
    DemoRight,
    demo_rights,
)
from joinedup.demo.purposes import (
    FOOD_PARCELS_AGREEMENT,
    describe_demo_purposes,
)
from joinedup.exchange import (
    ServiceRef,
    SubsystemRef,
    appoint_administrator,
    create_member_keys,
    get_member,
    get_service,
    grant_access_right,
    hash_secret,
    publish_registry_services,
    purposes_ever_granted,
    register_api_client,
    register_rest_service,
)

log = structlog.get_logger(__name__)


def publish_demo_agreements(session: Session) -> None:
    """The food bank's data agreement (consent to reading the residence address)."""
    food_bank = organisation(FOOD_BANK[0])
    residence = _service_ref("residence")
    publish_data_agreement(
        session,
        controller=f"{food_bank.member_class}/{food_bank.member_code}",
        code="food-parcel-delivery",
        title="Food parcels delivered to your home",
        purpose="The Food Bank Foundation reads your registered residence address from the "
        "population register to deliver the food parcels you asked for to your home.",
        lawful_basis=LawfulBasis.CONSENT,
        data_items=[DataItem(service=str(residence), field="address")],
        retention_days=90,
        agreement_id=FOOD_PARCELS_AGREEMENT,
        actor=ACTOR,
    )


def life_event_subsystem() -> str:
    """``CLASS/MEMBER/SUBSYSTEM`` of the Central Digital Office's life-event routing."""
    return str(_subsystem(*LIFE_EVENTS))


def portal_subsystem() -> str:
    """``CLASS/MEMBER/SUBSYSTEM`` of the citizen portal (the Central Digital Office's): the
    client the portal reads the registries as."""
    return str(_subsystem(*PORTAL))


def demo_clients() -> list[tuple[str, str]]:
    """The (organisation key, subsystem) pairs that get an API client: every subsystem holding
    a right, the administrator, and a partner holding none (the care provider)."""
    found = [ADMIN]
    for right in demo_rights():
        if right.client not in found:
            found.append(right.client)
    found.append(("care-provider", "care-records"))
    return found


def _demo_secret_key(seed: int) -> bytes:
    return hashlib.sha256(f"joinedup demo exchange clients {seed}".encode()).digest()


def demo_client_credentials(seed: int, key: str) -> tuple[str, str]:
    """The demo client id and secret of ``key`` — ``"organisation/subsystem"`` (e.g.
    ``"social-insurance/benefits"``), or an organisation key alone for its first subsystem
    with a client. Deterministic for the seed: demo only."""
    org_key, _, subsystem = key.partition("/")
    if not subsystem:
        matches = [s for o, s in demo_clients() if o == org_key]
        if not matches:
            raise KeyError(key)
        subsystem = matches[0]
    elif (org_key, subsystem) not in demo_clients():
        raise KeyError(key)
    client_id = f"demo.{org_key}.{subsystem}"[:64]
    digest = hmac.new(_demo_secret_key(seed), client_id.encode(), hashlib.sha256).digest()
    return client_id, base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _subsystem(org_key: str, subsystem: str) -> SubsystemRef:
    org = organisation(org_key)
    return SubsystemRef(str(org.member_class), org.member_code, subsystem)


def _service_ref(code: str) -> ServiceRef:
    owner_key, owner_subsystem = (
        TRACKER if code == USAGE_SERVICE else REGISTRY_OWNERS[SERVICE_REGISTRY[code]]
    )
    org = organisation(owner_key)
    return ServiceRef(str(org.member_class), org.member_code, owner_subsystem, code)


def tracker_openapi() -> dict[str, Any]:
    """The Data Tracker usage service (Estonia's ``findUsage`` contract), as published."""
    usage = {
        "type": "object",
        "properties": {
            "logtime": {"type": "string", "format": "date-time"},
            "action": {"type": "string"},
            "receiverCode": {"type": "string"},
            "receiverName": {"type": "string"},
            "receiverSystem": {"type": "string"},
        },
    }
    query = [
        {"name": "dataSubjectCode", "in": "query", "required": True, "schema": {"type": "string"}},
        {"name": "from", "in": "query", "schema": {"type": "string", "format": "date-time"}},
        {"name": "to", "in": "query", "schema": {"type": "string", "format": "date-time"}},
        {"name": "offset", "in": "query", "schema": {"type": "integer"}},
        {"name": "limit", "in": "query", "schema": {"type": "integer"}},
    ]
    return {
        "openapi": "3.0.3",
        "info": {"title": "Data Tracker usage service", "version": "2"},
        "paths": {
            "/findUsage": {
                "get": {
                    "operationId": "findUsage",
                    "parameters": query,
                    "responses": {
                        "200": {
                            "description": "Who processed the person's data, when and why.",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "properties": {
                                            "totalUsages": {"type": "integer"},
                                            "usages": {"type": "array", "items": usage},
                                        },
                                    }
                                }
                            },
                        }
                    },
                }
            },
            "/usagePeriod": {"get": {"responses": {"200": {"description": "The period kept."}}}},
            "/heartbeat": {"get": {"responses": {"200": {"description": "Alive."}}}},
        },
    }


def setup_exchange(session: Session, *, seed: int) -> bool:
    """Publish the services, appoint the administrator, create the demo clients (secrets
    derived from ``seed``), members' signing keys and rights. When the demo exchange exists
    already (the clients keep the secrets of the seed that set them up) it is only brought up
    to date (:func:`update_demo_exchange`). Returns whether it set the exchange up."""
    if update_demo_exchange(session):
        return False
    publish_registry_services(session, actor=ACTOR)
    register_rest_service(
        session,
        provider=_subsystem(*TRACKER),
        code=USAGE_SERVICE,
        title="Data usage (Data Tracker)",
        base_url=get_settings().public_url.rstrip("/") + "/v2",
        openapi=tracker_openapi(),
        fields=["logtime", "action", "receiverCode", "receiverName", "receiverSystem"],
        actor=ACTOR,
    )
    appoint_administrator(session, subsystem=_subsystem(*ADMIN), actor=ACTOR)
    publish_demo_agreements(session)
    for org_key, subsystem in demo_clients():
        client_id, secret = demo_client_credentials(seed, f"{org_key}/{subsystem}")
        register_api_client(
            session,
            subsystem=_subsystem(org_key, subsystem),
            name=f"{organisation(org_key).name}: {subsystem} (demo)",
            client_id=client_id,
            client_secret=secret,
            hasher=_demo_hash,
            actor=ACTOR,
        )
    _grant(session, demo_rights())
    describe_demo_purposes(session)
    member_ids = [
        get_member(session, member_class=o.member_class, member_code=o.member_code).id
        for o in organisations()
    ]
    create_member_keys(session, member_ids=member_ids)
    return True


def update_demo_exchange(session: Session) -> bool:
    """Bring a demo exchange set up by an earlier version up to date: the purposes' words,
    the registry services declared since published, and each demo right whose client has
    never held a right on its service for one of its purposes granted (a right revoked since
    stays revoked; one whose client subsystem an earlier version did not create is left out,
    logged). False (and nothing done) when the database holds no demo exchange (the data
    tracker's service is not published). A few queries when nothing is missing."""
    try:
        get_service(session, service=_service_ref(USAGE_SERVICE))
    except NotFound:
        return False
    describe_demo_purposes(session)
    publish_registry_services(session, actor=ACTOR)
    held = purposes_ever_granted(session)
    for right in demo_rights():
        client, service = str(_subsystem(*right.client)), str(_service_ref(right.service))
        if any((client, service, p.purpose) in held for p in right.purposes):
            continue
        try:
            _grant(session, [right])
        except ValidationFailed as refused:  # (validated before anything is written)
            log.warning(
                "demo_right_not_granted", client=client, service=service, problem=refused.detail
            )
    return True


def _grant(session: Session, rights: list[DemoRight]) -> None:
    for right in rights:
        grant_access_right(
            session,
            client=_subsystem(*right.client),
            service=_service_ref(right.service),
            fields=list(right.fields),
            purposes=list(right.purposes),
            valid_from=RIGHTS_FROM,
            law_enforcement=right.law_enforcement_delay_days is not None,
            disclosure_delay_days=right.law_enforcement_delay_days,
            own_residents_only=right.own_residents_only,
            actor=ACTOR,
        )


@lru_cache(maxsize=512)
def _demo_hash(secret: str) -> str:
    """scrypt of a demo secret, computed once per process: the demo's secrets are public
    (derived from the seed), so reusing a salt across demo databases protects nothing less."""
    return hash_secret(secret)
