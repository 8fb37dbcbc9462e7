"""A small country with exchange rights and API clients, and a running application."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import text

from joinedup.core.clock import today
from joinedup.core.db import Database
from joinedup.core.settings import Settings
from joinedup.demo.agencies import organisations
from joinedup.demo.seed import seed_country
from joinedup.exchange import (
    PurposeGrant,
    ServiceRef,
    SubsystemRef,
    appoint_administrator,
    grant_access_right,
    issue_access_token,
    publish_registry_services,
    register_api_client,
    register_member,
    register_rest_service,
    register_subsystem,
)
from joinedup.web import create_app

ACTOR = "mediation-test"
INSTANCE = "JOINEDUP"
PERSON_FIELDS = ("personalCode", "givenNames", "familyName", "birthDate")
BASIS = "Family Benefits Act § 5"
POLICE_CODE = "70009998"
#: A benefits agency of the tests' own, so the demo's rights do not mix with the tests' rights.
AGENCY_CODE = "70009997"
AGENCY_NAME = "Test Benefits Agency"
TRACKER_OPENAPI = {
    "openapi": "3.0.3",
    "info": {"title": "Data Tracker", "version": "2.1.0"},
    "paths": {
        "/v2/findUsage": {
            "get": {
                "responses": {
                    "200": {
                        "description": "ok",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "totalUsages": {"type": "integer"},
                                        "usages": {"type": "array"},
                                    },
                                }
                            }
                        },
                    }
                }
            }
        }
    },
}


@dataclass(frozen=True)
class World:
    population: str  # member code of the population register
    social: str  # member code of the social insurance board
    person: str  # a person with a parent
    parent: str
    secrets: dict[str, tuple[str, str]]  # name → (client id, secret)

    @property
    def service(self) -> str:
        return f"{INSTANCE}/GOV/{self.population}/population/person"

    @property
    def client(self) -> str:
        return f"{INSTANCE}/GOV/{self.social}/benefits"

    @property
    def police(self) -> str:
        return f"{INSTANCE}/GOV/{POLICE_CODE}/investigations"

    def url(self, service: str | None = None, path: str = "") -> str:
        return f"/r1/{service or self.service}{path}"


def make_world(database: Database) -> World:
    # no sign-in accounts: their set-up reads through the exchange, and these tests count reads
    seed_country(database, persons=150, seed=3, progress=False, accounts=False)
    codes = {o.key: o.member_code for o in organisations()}
    population, social = codes["population-register"], AGENCY_CODE
    person_service = ServiceRef("GOV", population, "population", "person")
    benefits = SubsystemRef("GOV", social, "benefits")
    start = today() - timedelta(days=1)
    secrets: dict[str, tuple[str, str]] = {}
    with database.unit_of_work() as session:
        publish_registry_services(session, actor=ACTOR)
        for code, name, subsystem in (
            (POLICE_CODE, "Test Police", "investigations"),
            (AGENCY_CODE, AGENCY_NAME, "benefits"),
        ):
            register_member(
                session,
                member_class="GOV",
                member_code=code,
                name=name,
                level="national",
                actor=ACTOR,
            )
            register_subsystem(
                session,
                member_class="GOV",
                member_code=code,
                subsystem_code=subsystem,
                name=name,
                actor=ACTOR,
            )
        for code, name in (("portal", "Citizen portal"), ("operations", "Exchange operations")):
            register_subsystem(
                session,
                member_class="GOV",
                member_code=codes["ministry-interior"],
                subsystem_code=code,
                name=name,
                actor=ACTOR,
            )
        portal = SubsystemRef("GOV", codes["ministry-interior"], "portal")
        operations = SubsystemRef("GOV", codes["ministry-interior"], "operations")
        police = SubsystemRef("GOV", POLICE_CODE, "investigations")
        grant_access_right(
            session,
            client=benefits,
            service=person_service,
            fields=PERSON_FIELDS,
            purposes=[PurposeGrant(purpose="child-benefit", legal_basis=BASIS)],
            valid_from=start,
            actor=ACTOR,
        )
        grant_access_right(
            session,
            client=police,
            service=person_service,
            fields=PERSON_FIELDS,
            purposes=[PurposeGrant(purpose="investigation", legal_basis="Police Act § 7")],
            valid_from=start,
            law_enforcement=True,
            disclosure_delay_days=30,
            actor=ACTOR,
        )
        register_rest_service(
            session,
            provider=portal,
            code="findUsage",
            title="Data Tracker",
            base_url="http://127.0.0.1:8000",
            openapi=TRACKER_OPENAPI,
            fields=["totalUsages", "usages"],
            actor=ACTOR,
        )
        grant_access_right(
            session,
            client=portal,
            service=ServiceRef("GOV", codes["ministry-interior"], "portal", "findUsage"),
            fields=["totalUsages", "usages"],
            purposes=[PurposeGrant(purpose="data-usage", legal_basis="Public Information Act")],
            valid_from=start,
            actor=ACTOR,
        )
        appoint_administrator(session, subsystem=operations, actor=ACTOR)
        for name, ref in (
            ("benefits", benefits),
            ("police", police),
            ("portal", portal),
            ("operations", operations),
        ):
            created = register_api_client(session, subsystem=ref, name=name, actor=ACTOR)
            secrets[name] = (created.client.client_id, created.client_secret)
        row = session.execute(
            text(
                "SELECT c.personal_code, p.personal_code FROM relation r "
                "JOIN person p ON p.id = r.person_id "
                "JOIN person c ON c.id = r.related_person_id "
                "WHERE r.kind = 'parent' ORDER BY c.id LIMIT 1"
            )
        ).first()
    assert row is not None
    return World(population, social, row[0], row[1], secrets)


def token(database: Database, world: World, name: str) -> str:
    client_id, secret = world.secrets[name]
    with database.unit_of_work() as session:
        return issue_access_token(session, client_id=client_id, client_secret=secret).access_token


def headers(
    world: World, bearer: str, *, client: str | None = None, **extra: str
) -> dict[str, str]:
    found = {"Authorization": f"Bearer {bearer}", "X-Road-Client": client or world.client}
    found.update(extra)
    return found


@contextmanager
def running_app(settings: Settings, database: Database) -> Iterator[TestClient]:
    app = create_app(settings, database=database)
    with TestClient(app) as client:
        yield client
