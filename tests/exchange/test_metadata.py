"""The metadata services, the administration API, and REST services by OpenAPI document."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from rights_support import (
    INSTANCE,
    bearer,
    demo_exchange,  # noqa: F401 (fixture)
    service_ref,
    subsystem_ref,
)
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from joinedup.core.db import Database
from joinedup.core.errors import ValidationFailed
from joinedup.core.outbox import OutboxEvent
from joinedup.demo import organisations
from joinedup.demo.agencies import create_government
from joinedup.demo.exchange_policy import demo_rights
from joinedup.exchange import REGISTRY_SERVICES, WRITE_SERVICES, register_rest_service

OPENAPI: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "Care records", "version": "1.2"},
    "paths": {
        "/care-plans/{id}": {
            "get": {
                "responses": {
                    "200": {
                        "description": "A care plan",
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/CarePlan"}
                            }
                        },
                    }
                }
            },
            "put": {"responses": {"204": {"description": "Stored"}}},
        }
    },
    "components": {
        "schemas": {
            "CarePlan": {
                "type": "object",
                "properties": {"personalCode": {"type": "string"}, "carer": {"type": "string"}},
            }
        }
    },
}


def _provider_path(org: str, subsystem: str) -> str:
    ref = subsystem_ref(org, subsystem)
    return f"/r1/{INSTANCE}/{ref.member_class}/{ref.member_code}/{subsystem}"


def test_list_clients_names_every_member_and_subsystem(api: TestClient) -> None:
    members = api.get("/listClients").json()["member"]
    orgs = organisations()
    assert len([m for m in members if m["id"]["objectType"] == "MEMBER"]) == len(orgs)
    applications = [m for m in members if m["id"]["objectType"] == "APPLICATION"]
    assert len(applications) == sum(len(o.subsystems) for o in orgs)
    sib = subsystem_ref("social-insurance", "benefits")
    assert {
        "name": "Family benefits and pensions",
        "id": {
            "objectType": "APPLICATION",
            "instanceId": INSTANCE,
            "memberClass": "GOV",
            "memberCode": sib.member_code,
            "applicationCode": "benefits",
        },
    } in applications
    assert api.get("/listClients", params={"instanceId": INSTANCE}).status_code == 200
    assert api.get("/listClients", params={"instanceId": "EE"}).status_code == 404


def test_list_and_allowed_methods(api: TestClient) -> None:
    population = _provider_path("population-register", "population")
    sib = bearer(api, "social-insurance/benefits")
    listed = api.get(population + "/listMethods", headers=sib).json()["member"]
    writes = ["record-birth", "record-death", "record-marriage", "record-move"]
    assert sorted(s["serviceCode"] for s in listed) == [
        "person",
        "person-codes",
        "population-extract",
        *writes,
        "relations",
        "relatives",
    ]
    by_code = {s["serviceCode"]: s for s in listed}
    assert by_code["person"]["endpointList"] == {"member": [{"method": "GET", "path": "/"}]}
    assert by_code["record-birth"]["endpointList"] == {"member": [{"method": "POST", "path": "/"}]}
    allowed = api.get(population + "/allowedMethods", headers=sib).json()["member"]
    assert sorted(s["serviceCode"] for s in allowed) == [
        "person",
        "population-extract",
        "relations",
        "relatives",
    ]
    registrar = bearer(api, "population-register/civil-registration")
    civil = api.get(population + "/allowedMethods", headers=registrar).json()["member"]
    assert sorted(s["serviceCode"] for s in civil) == writes
    tax = api.get(population + "/allowedMethods", headers=bearer(api, "tax-board/tax"))
    assert [s["serviceCode"] for s in tax.json()["member"]] == ["person"]
    bank = api.get(population + "/allowedMethods", headers=bearer(api, "bank/payments"))
    assert bank.json()["member"] == []
    employment = _provider_path("tax-board", "employment")
    fund = bearer(api, "unemployment-fund/unemployment-benefits")
    fund_allowed = api.get(employment + "/allowedMethods", headers=fund).json()["member"]
    assert [s["serviceCode"] for s in fund_allowed] == ["income-totals"]  # never employment
    one = api.get(population + "/listMethods", params={"serviceId": "person"}, headers=sib)
    assert [s["serviceCode"] for s in one.json()["member"]] == ["person"]


def test_allowed_methods_follow_the_policy_for_every_client(api: TestClient) -> None:
    for org, subsystem in {r.client for r in demo_rights() if r.client[0] != "digital-office"}:
        if org.startswith("municipality-") and not org.endswith("0101"):
            continue
        headers = bearer(api, f"{org}/{subsystem}")
        expected = {r.service for r in demo_rights() if r.client == (org, subsystem)}
        seen = set()
        for provider in {
            ("population-register", "population"),
            ("population-register", "addresses"),
            ("tax-board", "employment"),
            ("tax-board", "payment-accounts"),
            ("business-register", "businesses"),
        }:
            answer = api.get(_provider_path(*provider) + "/allowedMethods", headers=headers)
            seen |= {s["serviceCode"] for s in answer.json()["member"]}
        assert seen == expected, (org, subsystem)


def test_metadata_needs_a_token_and_a_matching_client_header(api: TestClient) -> None:
    population = _provider_path("population-register", "population")
    assert api.get(population + "/listMethods").status_code == 401
    forged = {"Authorization": "Bearer abc.def.ghi"}
    assert api.get(population + "/allowedMethods", headers=forged).status_code == 401
    sib = bearer(api, "social-insurance/benefits")
    own = subsystem_ref("social-insurance", "benefits")
    matching = {**sib, "X-Road-Client": f"{INSTANCE}/{own}"}
    assert api.get(population + "/allowedMethods", headers=matching).status_code == 200
    tax = subsystem_ref("tax-board", "tax")
    for header in ("X-Road-Client", "Information-Mediator-Client", "X-GovStack-Client"):
        other = {**sib, header: f"{INSTANCE}/{tax}"}
        refused = api.get(population + "/allowedMethods", headers=other)
        assert refused.status_code == 403
        assert refused.json()["x_road_error"] == "Client.ClientIdentifierMismatch"
    unknown = api.get(f"/r1/{INSTANCE}/GOV/79999999/nothing/listMethods", headers=sib)
    assert unknown.status_code == 404
    other_instance = api.get(population.replace(INSTANCE, "EE") + "/listMethods", headers=sib)
    assert other_instance.status_code == 404


def test_get_openapi_of_a_registry_service(api: TestClient) -> None:
    population = _provider_path("population-register", "population")
    sib = bearer(api, "social-insurance/benefits")
    document = api.get(
        population + "/getOpenAPI", params={"serviceCode": "person"}, headers=sib
    ).json()
    assert document["openapi"].startswith("3.")
    operation = document["paths"]["/"]["get"]
    assert [p["name"] for p in operation["parameters"]] == [
        "personalCode",
        "personRef",
        "asOf",
        "knownOn",
    ]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert list(schema["properties"]) == list(REGISTRY_SERVICES["person"].field_names)
    assert document["servers"][0]["url"] == f"/r1/{service_ref('person')}".replace(
        "/r1/", f"/r1/{INSTANCE}/"
    )
    missing = api.get(population + "/getOpenAPI", params={"serviceCode": "nothing"}, headers=sib)
    assert missing.status_code == 404
    assert api.get(population + "/getOpenAPI", headers=sib).status_code == 422


def test_get_openapi_of_a_civil_registration_service(api: TestClient) -> None:
    population = _provider_path("population-register", "population")
    registrar = bearer(api, "population-register/civil-registration")
    document = api.get(
        population + "/getOpenAPI", params={"serviceCode": "record-birth"}, headers=registrar
    ).json()
    operation = document["paths"]["/"]["post"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert {"reference", "givenNames", "birthDate", "parents"} <= set(body["properties"])
    assert "additionalProperties" in body  # unknown fields are refused
    answer = operation["responses"]["201"]["content"]["application/json"]["schema"]
    assert list(answer["properties"]) == list(WRITE_SERVICES["record-birth"].field_names)
    assert {"409", "422"} <= set(operation["responses"])


# --- administration ----------------------------------------------------------------------------


def test_administration_is_for_the_administrator_only(api: TestClient) -> None:
    assert api.get("/api/v1/exchange/rights").status_code == 401
    sib = bearer(api, "social-insurance/benefits")
    refused = api.get("/api/v1/exchange/rights", headers=sib)
    assert refused.status_code == 403
    assert "not an exchange administrator" in refused.json()["detail"]
    admin = bearer(api, "digital-office/exchange-admin")
    rights = api.get("/api/v1/exchange/rights", params={"limit": 500}, headers=admin).json()
    assert len(rights["items"]) == len(demo_rights())
    assert api.get("/api/v1/exchange/members", headers=admin).status_code == 200
    assert api.get("/api/v1/exchange/clients", headers=admin).status_code == 200


def test_administering_rights_and_clients(api: TestClient) -> None:
    admin = bearer(api, "digital-office/exchange-admin")
    client = f"{subsystem_ref('care-provider', 'care-records')}"
    body = {
        "client": client,
        "service": str(service_ref("person")),
        "fields": ["personalCode", "givenNames"],
        "purposes": [{"purpose": "home-care", "legal_basis": "Social Welfare Act § 17"}],
        "valid_from": "2025-01-01",
    }
    granted = api.post("/api/v1/exchange/rights", json=body, headers=admin)
    assert granted.status_code == 201, granted.text
    right = granted.json()
    assert right["granted_by"].startswith("client:demo.digital-office")
    care = bearer(api, "care-provider/care-records")
    population = _provider_path("population-register", "population")
    allowed = api.get(population + "/allowedMethods", headers=care).json()["member"]
    assert [s["serviceCode"] for s in allowed] == ["person"]
    revoked = api.post(
        f"/api/v1/exchange/rights/{right['id']}/revoke",
        json={"reason": "contract ended"},
        headers=admin,
    )
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"]
    assert api.get(population + "/allowedMethods", headers=care).json()["member"] == []
    made = api.post(
        "/api/v1/exchange/clients", json={"subsystem": client, "name": "Second"}, headers=admin
    )
    assert made.status_code == 201
    secret = made.json()["client_secret"]
    client_id = made.json()["client"]["client_id"]
    listed = api.get("/api/v1/exchange/clients", params={"limit": 500}, headers=admin).json()
    assert secret not in json.dumps(listed)
    token = api.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )
    assert token.status_code == 200
    second = {"Authorization": f"Bearer {token.json()['access_token']}"}
    assert api.get(population + "/listMethods", headers=second).status_code == 200
    assert (
        api.post(f"/api/v1/exchange/clients/{client_id}/revoke", headers=admin).status_code == 200
    )
    assert api.get(population + "/listMethods", headers=second).status_code == 401


@pytest.mark.parametrize(
    ("changes", "status", "fragment"),
    [
        ({"fields": ["shoeSize"]}, 422, "shoeSize"),
        ({"purposes": []}, 422, "name at least one purpose"),
        ({"valid_to": "2024-01-01"}, 422, "valid_to: must be after valid_from"),
        ({"client": "GOV/1"}, 422, "is not an identifier"),
        ({"client": "EE/GOV/1/x"}, 422, "names the instance"),
        ({"service": "GOV/1/x/person"}, 422, "is not published"),
        ({"valid_from": "yesterday"}, 422, "valid_from"),
        ({"surprise": True}, 422, "surprise"),
    ],
)
def test_bad_rights_through_the_api(
    api: TestClient,
    demo_exchange: Database,  # noqa: F811
    changes: dict[str, Any],
    status: int,
    fragment: str,
) -> None:
    admin = bearer(api, "digital-office/exchange-admin")
    body = {
        "client": str(subsystem_ref("care-provider", "care-records")),
        "service": str(service_ref("person")),
        "fields": ["personalCode"],
        "purposes": [{"purpose": "home-care", "legal_basis": "Social Welfare Act § 17"}],
        "valid_from": "2025-01-01",
        **changes,
    }
    before = _count(demo_exchange)
    answer = api.post("/api/v1/exchange/rights", json=body, headers=admin)
    assert answer.status_code == status
    assert answer.headers["content-type"] == "application/problem+json"
    assert fragment in json.dumps(answer.json())
    assert _count(demo_exchange) == before


def _count(db: Database) -> int:
    with db.reading() as session:
        return int(session.scalar(select(func.count()).select_from(OutboxEvent)) or 0)


# --- REST services by OpenAPI document ---------------------------------------------------------


def test_publishing_a_rest_service_through_the_api(api: TestClient) -> None:
    admin = bearer(api, "digital-office/exchange-admin")
    body = {
        "provider": f"{INSTANCE}/{subsystem_ref('care-provider', 'care-records')}",
        "code": "care-plans",
        "title": "Care plans",
        "base_url": "https://care.example/api",
        "openapi": yaml.safe_dump(OPENAPI, sort_keys=False),
    }
    published = api.post("/api/v1/exchange/services", json=body, headers=admin)
    assert published.status_code == 201, published.text
    service = published.json()
    assert service["kind"] == "rest"
    assert service["fields"] == ["personalCode", "carer"]
    again = api.post("/api/v1/exchange/services", json=body, headers=admin)
    assert again.status_code == 422
    assert "already" in again.json()["detail"]
    provider = _provider_path("care-provider", "care-records")
    care = bearer(api, "care-provider/care-records")
    document = api.get(
        provider + "/getOpenAPI", params={"serviceCode": "care-plans"}, headers=care
    ).json()
    assert document == OPENAPI
    methods = api.get(provider + "/listMethods", headers=care).json()["member"]
    assert methods[0]["endpointList"]["member"] == [
        {"method": "GET", "path": "/care-plans/{id}"},
        {"method": "PUT", "path": "/care-plans/{id}"},
    ]


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"openapi": "{not json: [yaml"}, "neither JSON nor YAML"),
        ({"openapi": "just text"}, "must be an OpenAPI document"),
        ({"openapi": {**OPENAPI, "openapi": "2.0"}}, "OpenAPI 3.x"),
        ({"openapi": {**OPENAPI, "swagger": "2.0", "openapi": None}}, "OpenAPI 3.x"),
        ({"openapi": {k: v for k, v in OPENAPI.items() if k != "paths"}}, "at least one path"),
        ({"openapi": {**OPENAPI, "paths": {"care": {}}}}, "must start with /"),
        ({"openapi": {**OPENAPI, "info": {"title": "x"}}}, "title and a version"),
        ({"openapi": {**OPENAPI, "paths": {"/x": {"get": {"responses": {}}}}}},
         "none found in the document"),
        ({"fields": ["a b"]}, "distinct names"),
        ({"fields": ["a", "a"]}, "distinct names"),
        ({"code": "listMethods"}, "metadata service"),
        ({"code": "a/b"}, "code"),
        ({"base_url": "ftp://care.example"}, "http(s) URL"),
        ({"base_url": "https://care.example/api?x=1"}, "no query"),
        ({"base_url": "http://0.0.0.0/api"}, "reachable host"),
        ({"title": ""}, "title"),
        ({"provider": subsystem_ref("care-provider", "nothing")}, "is not registered"),
    ],
)  # fmt: skip
def test_bad_rest_services_write_nothing(
    session: Session, changes: dict[str, Any], fragment: str
) -> None:
    from datetime import date

    create_government(session, founded=date(1992, 1, 1))
    values: dict[str, Any] = {
        "provider": subsystem_ref("care-provider", "care-records"),
        "code": "care-plans",
        "title": "Care plans",
        "base_url": "https://care.example/api",
        "openapi": json.dumps(OPENAPI),
        **changes,
    }
    session.flush()
    before = int(session.scalar(select(func.count()).select_from(OutboxEvent)) or 0)
    with pytest.raises(ValidationFailed) as refused:
        register_rest_service(session, **values, actor="metadata-test")
    assert fragment in refused.value.detail
    session.flush()
    assert int(session.scalar(select(func.count()).select_from(OutboxEvent)) or 0) == before
