"""The demo country's exchange (services, clients, rights), built once per test session on
SQLite and on PostgreSQL and copied for each test module, and helpers to name its parts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from joinedup.core.db import Database
from joinedup.demo import organisation
from joinedup.demo.agencies import REGISTRY_OWNERS, create_government
from joinedup.demo.exchange_policy import USAGE_SERVICE
from joinedup.demo.exchange_setup import demo_client_credentials, setup_exchange
from joinedup.demo.seed import seed_country
from joinedup.exchange import (
    REGISTRY_SERVICES,
    WRITE_SERVICES,
    ClientIdentity,
    ServiceDescriptor,
    ServiceRef,
    SubsystemRef,
    get_member,
    resolve_service,
)
from template_support import DatabaseTemplates

SEED = 4242
INSTANCE = "JOINEDUP"
ACTOR = "rights-test"
#: The registry service code → the registry keeping it.
SERVICE_REGISTRY = {
    code: declared.registry
    for code, declared in (*REGISTRY_SERVICES.items(), *WRITE_SERVICES.items())
}


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def build_demo_exchange(database: Database) -> None:
    """The demo government and its exchange, without persons."""
    with database.unit_of_work() as session:
        create_government(session, founded=date(1992, 1, 1))
        setup_exchange(session, seed=SEED)


def build_demo_country(database: Database) -> None:
    """A small seeded country with its exchange."""
    seed_country(
        database,
        persons=500,
        seed=2026,
        progress=False,
        reference=date(2025, 6, 1),
        accounts=False,  # no sign-in accounts: their set-up reads through the exchange
    )


@pytest.fixture(scope="module", params=BACKENDS)
def demo_exchange(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    database_templates: DatabaseTemplates,
) -> Iterator[Database]:
    """The demo government and its exchange, without persons (committed; a copy per module
    of the session's template)."""
    template = database_templates.template(request.param, build_demo_exchange)
    with database_templates.copy(template, tmp_path_factory.mktemp("exchange")) as database:
        yield database


@pytest.fixture(scope="module", params=BACKENDS)
def demo_country(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    database_templates: DatabaseTemplates,
) -> Iterator[Database]:
    """A small seeded country with its exchange (committed; a copy per module of the
    session's template)."""
    template = database_templates.template(request.param, build_demo_country)
    with database_templates.copy(template, tmp_path_factory.mktemp("country")) as database:
        yield database


def subsystem_ref(org_key: str, subsystem: str) -> SubsystemRef:
    org = organisation(org_key)
    return SubsystemRef(str(org.member_class), org.member_code, subsystem)


def service_ref(code: str) -> ServiceRef:
    if code == USAGE_SERVICE:
        org_key, subsystem = "digital-office", "data-tracker"
    else:
        org_key, subsystem = REGISTRY_OWNERS[SERVICE_REGISTRY[code]]
    org = organisation(org_key)
    return ServiceRef(str(org.member_class), org.member_code, subsystem, code)


def descriptor(session: Session, code: str) -> ServiceDescriptor:
    ref = service_ref(code)
    return resolve_service(
        session,
        instance=INSTANCE,
        member_class=ref.member_class,
        member_code=ref.member_code,
        subsystem_code=ref.subsystem_code,
        service_code=ref.service_code,
    )


def identity(session: Session, org_key: str, subsystem: str) -> ClientIdentity:
    """The identity a client of this subsystem would authenticate as (no token needed)."""
    from joinedup.exchange import get_subsystem

    org = organisation(org_key)
    record = get_subsystem(
        session,
        member_class=org.member_class,
        member_code=org.member_code,
        subsystem_code=subsystem,
    )
    member = get_member(session, member_class=org.member_class, member_code=org.member_code)
    try:
        client_id = demo_client_credentials(SEED, f"{org_key}/{subsystem}")[0]
    except KeyError:
        client_id = f"no-client.{org_key}.{subsystem}"
    return ClientIdentity(
        client_id=client_id,
        subsystem_id=record.id,
        member_id=member.id,
        member_class=str(org.member_class),
        member_code=org.member_code,
        subsystem_code=subsystem,
        xroad_id=f"{INSTANCE}/{org.member_class}/{org.member_code}/{subsystem}",
        member_name=org.name,
    )


def credentials(key: str) -> tuple[str, str]:
    return demo_client_credentials(SEED, key)


def bearer(api: TestClient, key: str) -> dict[str, str]:
    """The ``Authorization`` header of a token for the demo client ``key`` (``org/subsystem``)."""
    client_id, secret = credentials(key)
    answer = api.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}
