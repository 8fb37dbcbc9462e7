"""The consent register over HTTP for agencies (/api/v1/consent, GovStack's shape): an
agency manages its own agreements and the consents to them; every error is a problem."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from consent_support import credentials, living_adults, member, service
from fastapi.testclient import TestClient

from joinedup.core.db import Database
from joinedup.core.settings import Settings
from joinedup.demo.purposes import FOOD_PARCELS_AGREEMENT
from joinedup.exchange import issue_access_token
from joinedup.web import create_app

RESIDENCE = service("population-register", "addresses", "residence")
API = "/api/v1/consent"
PROBLEM = "application/problem+json"


@pytest.fixture
def http(settings: Settings, country: Database) -> Iterator[TestClient]:
    with TestClient(create_app(settings, database=country)) as client:
        yield client


def _headers(country: Database, key: str) -> dict[str, str]:
    client_id, secret = credentials(key)
    with country.unit_of_work() as session:
        token = issue_access_token(session, client_id=client_id, client_secret=secret)
    return {"Authorization": f"Bearer {token.access_token}"}


def _terms(**changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "title": "Winter clothing drive",
        "purpose": "We bring winter clothing to your home.",
        "lawfulBasis": "consent",
        "dataItems": [{"service": RESIDENCE, "field": "address"}],
        "retentionDays": 60,
    }
    body.update(changes)
    return body


def test_an_agency_publishes_revises_and_retires_its_agreement(
    http: TestClient, country: Database
) -> None:
    food_bank = _headers(country, "food-bank/food-aid")
    created = http.post(
        f"{API}/data-agreements", json={"code": "winter-clothing", **_terms()}, headers=food_bank
    )
    assert created.status_code == 201, created.text
    agreement = created.json()["dataAgreement"]
    assert agreement["controller"] == member("food-bank")
    assert agreement["version"] == 1
    assert agreement["lawfulBasis"] == "consent"
    assert agreement["dataItems"] == [{"service": RESIDENCE, "field": "address"}]
    url = f"{API}/data-agreements/{agreement['id']}"
    assert http.get(url, headers=food_bank).json()["dataAgreement"] == agreement

    revised = http.put(url, json=_terms(retentionDays=30), headers=food_bank)
    assert revised.status_code == 200, revised.text
    assert revised.json()["dataAgreement"]["version"] == 2
    assert revised.json()["dataAgreement"]["consentsFromVersion"] == 1
    versions = http.get(f"{url}/revisions", headers=food_bank).json()
    assert [v["version"] for v in versions] == [1, 2]

    mine = http.get(f"{API}/data-agreements", headers=food_bank).json()
    assert agreement["id"] in {a["id"] for a in mine["items"]}

    # another member may read the agreement (a public promise) but not change it
    care = _headers(country, "care-provider/care-records")
    assert http.get(url, headers=care).status_code == 200
    refused = http.put(url, json=_terms(), headers=care)
    assert refused.status_code == 403
    assert refused.headers["content-type"] == PROBLEM

    retired = http.delete(url, headers=food_bank)
    assert retired.status_code == 200
    assert retired.json()["dataAgreement"]["active"] is False


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"code": "x", **_terms(lawfulBasis="because")}, "lawfulBasis"),
        ({"code": "x", **_terms(retentionDays="long")}, "retentionDays"),
        ({"code": "x", **_terms(surprise=True)}, "surprise"),
        ({"code": "x", **_terms(dataItems=[{"service": RESIDENCE, "field": "iban"}])}, None),
        ({"code": "Bad Code", **_terms()}, None),
    ],
)
def test_bad_agreements_are_problems_naming_the_field(
    http: TestClient, country: Database, body: dict[str, object], field: str | None
) -> None:
    answer = http.post(
        f"{API}/data-agreements", json=body, headers=_headers(country, "food-bank/food-aid")
    )
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == PROBLEM
    problem = answer.json()
    assert problem["type"].endswith("/validation-failed")
    if field is not None:
        assert field in {e["field"].split(".")[-1] for e in problem["errors"]}


def test_an_agency_records_and_withdraws_a_persons_consent(
    http: TestClient, country: Database
) -> None:
    food_bank = _headers(country, "food-bank/food-aid")
    with country.reading() as session:
        (person,) = living_adults(session, 1, offset=60)
    records = f"{API}/data-agreements/{FOOD_PARCELS_AGREEMENT}/consent-records"
    given = http.post(records, json={"individualId": person}, headers=food_bank)
    assert given.status_code == 201, given.text
    record = given.json()["consentRecord"]
    assert record["individualId"] == person
    assert record["optIn"] is True
    assert record["inForce"] is True
    assert given.json()["revision"]["signedAs"] == "agency"
    again = http.post(records, json={"individualId": person}, headers=food_bank)
    assert again.status_code == 200
    assert again.json()["changed"] is False

    url = f"{API}/consent-records/{record['id']}"
    withdrawn = http.put(url, json={"optIn": False}, headers=food_bank)
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["consentRecord"]["optIn"] is False
    assert (
        withdrawn.json()["revision"]["predecessorHash"]
        == (given.json()["revision"]["serializedHash"])
    )
    history = http.get(f"{url}/revisions", headers=food_bank).json()
    assert [r["action"] for r in history["revisions"]] == ["given", "withdrawn"]
    assert history["verification"] == {"intact": True, "revisions": 2, "broken": []}
    listed = http.get(f"{API}/consent-records", params={"individualId": person}, headers=food_bank)
    assert [r["id"] for r in listed.json()["items"]] == [record["id"]]

    # another controller neither sees the record nor records consents to this agreement
    care = _headers(country, "care-provider/care-records")
    assert http.get(url, headers=care).status_code == 404
    assert http.post(records, json={"individualId": person}, headers=care).status_code == 403
    assert not http.get(
        f"{API}/consent-records", params={"individualId": person}, headers=care
    ).json()["items"]


def test_consent_errors_are_problems(http: TestClient, country: Database) -> None:
    food_bank = _headers(country, "food-bank/food-aid")
    with country.reading() as session:
        (person,) = living_adults(session, 1, offset=61)
    records = f"{API}/data-agreements/{FOOD_PARCELS_AGREEMENT}/consent-records"
    cases = [
        (http.get(f"{API}/data-agreements"), 401),
        (http.post(records, json={"individualId": "123"}, headers=food_bank), 422),
        (http.post(records, json={"individualId": person, "version": 9}, headers=food_bank), 422),
        (http.post(records, json={}, headers=food_bank), 422),
        (http.get(f"{API}/data-agreements/not-a-uuid", headers=food_bank), 422),
        (
            http.get(
                f"{API}/data-agreements/6d1b5f1e-0000-4c55-9d5e-0f00d0ba2c01", headers=food_bank
            ),
            404,
        ),
        (http.get(f"{API}/consent-records", headers=food_bank), 422),
    ]
    for answer, status in cases:
        assert answer.status_code == status, answer.text
        assert answer.headers["content-type"] == PROBLEM
