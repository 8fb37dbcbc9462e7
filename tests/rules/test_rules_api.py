"""The rules HTTP API on a bare application (problem documents from a minimal handler)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

from joinedup.core.errors import DomainError
from joinedup.rules.api import router

BASE = "/api/v1/rules/rulesets"
COUPLE: dict[str, Any] = {
    "persons": {
        "Alicia": {"birth": {"ETERNITY": "1980-01-01"}, "salary": {"2017-01": 4000}},
        "Javier": {"birth": {"ETERNITY": "1984-01-01"}, "salary": {"2017-01": 2500}},
    },
    "households": {
        "_": {
            "adults": ["Alicia", "Javier"],
            "disposable_income": {"2017-01": None},
            "housing_tax": {"2017": None},
            "housing_occupancy_status": {"2017-01": None},
        }
    },
}


@pytest.fixture
def client() -> Iterator[TestClient]:
    app = FastAPI()

    async def problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, DomainError)
        return JSONResponse(
            {"type": exc.type_uri, "title": exc.title, "status": exc.status, "detail": exc.detail},
            status_code=exc.status,
            media_type="application/problem+json",
        )

    app.add_exception_handler(DomainError, problem)
    app.include_router(router)
    with TestClient(app) as test_client:
        yield test_client


def test_rulesets_with_entities(client: TestClient) -> None:
    rulesets = client.get(BASE).json()
    assert [r["name"] for r in rulesets] == ["country_template", "demo"]
    one = client.get(f"{BASE}/country_template").json()
    household = next(e for e in one["entities"] if e["key"] == "household")
    assert [r["key"] for r in household["roles"]] == ["adult", "child"]
    missing = client.get(f"{BASE}/atlantis")
    assert missing.status_code == 404
    assert missing.json()["type"].endswith("/unknown-ruleset")


def test_variables_are_paged_with_formulas_and_references(client: TestClient) -> None:
    names: list[str] = []
    cursor = None
    while True:
        page = client.get(
            f"{BASE}/country_template/variables",
            params={"limit": 7, **({"cursor": cursor} if cursor else {})},
        ).json()
        names += [v["name"] for v in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert names == sorted(names)
    assert "disposable_income" in names
    assert len(names) == len(set(names))
    basic = client.get(f"{BASE}/country_template/variables/basic_income").json()
    assert [(f["since"], f["until"]) for f in basic["formulas"]] == [
        ("2015-12-01", "2016-11-30"),
        ("2016-12-01", None),
    ]
    assert basic["formulas"][0]["reads"] == ["age", "salary"]
    assert basic["formulas"][0]["parameters"] == [
        "benefits.basic_income",
        "general.age_of_majority",
    ]
    assert client.get(f"{BASE}/country_template/variables/nothing").status_code == 404
    assert (
        client.get(f"{BASE}/country_template/variables", params={"cursor": "!!"}).status_code == 422
    )


def test_parameters_with_dated_values_scales_and_references(client: TestClient) -> None:
    page = client.get(f"{BASE}/country_template/parameters", params={"limit": 500}).json()
    paths = [p["path"] for p in page["items"]]
    assert "taxes.social_security_contribution" in paths
    assert page["next_cursor"] is None
    threshold = client.get(
        f"{BASE}/country_template/parameters/benefits.parenting_allowance.income_threshold"
    ).json()
    assert threshold["values"][0] == {
        "start": "2015-12-01",
        "value": "500.00",
        "reference": {
            "citation": "Parenting Allowance Act §3(2) (2015-12)",
            "url": "https://law.gov.example/parenting-allowance/income-threshold/2015-12",
        },
    }
    scale = client.get(
        f"{BASE}/country_template/parameters/taxes.social_security_contribution"
    ).json()
    assert scale["scale_kind"] == "marginal_rate"
    assert len(scale["brackets"]) == 3
    repealed = client.get(f"{BASE}/country_template/parameters/benefits.housing_allowance").json()
    assert repealed["values"][-1]["value"] is None


def test_calculate_fills_in_the_nulls(client: TestClient) -> None:
    answer = client.post(f"{BASE}/country_template/calculate", json=COUPLE)
    assert answer.status_code == 200
    household = answer.json()["households"]["_"]
    assert household["disposable_income"] == {"2017-01": 6578.33}
    assert household["housing_tax"] == {"2017": 200.0}
    assert household["housing_occupancy_status"] == {"2017-01": "tenant"}


@pytest.mark.parametrize(
    ("situation", "detail"),
    [
        ({"persons": {}}, "needs 'persons'"),
        (
            {
                "persons": {"a": {"salary": {"2017-01": "lots"}}},
                "households": {"_": {"adults": ["a"], "income_tax": {"2017-01": None}}},
            },
            "salary must be an amount in euros",
        ),
        ({"persons": {"a": {"wealth": {"2017-01": 1}}}}, "has no variable 'wealth'"),
        ({"persons": {"a": {"salary": {"2017": 1}}}}, "salary is given per month"),
        ({"persons": {"a": {}}, "households": {"_": {"adults": ["b"]}}}, "no person 'b'"),
        (
            {
                "persons": {"a": {}, "b": {}},
                "households": {"_": {"adults": ["a"], "rent": {"2017-01": None}}},
            },
            "not placed: b",
        ),
        ({"persons": {"a": {}}, "households": {"_": {"adults": ["a"]}}}, "Nothing to calculate"),
        (
            {
                "persons": {"a": {"age": {"2015-01": None}}},
                "households": {"_": {"adults": ["a"], "parenting_allowance": {"2015-01": None}}},
            },
            "has no value on 2015-01-01",
        ),
    ],
)
def test_bad_situations_are_422_problems(
    client: TestClient, situation: dict[str, Any], detail: str
) -> None:
    answer = client.post(f"{BASE}/country_template/calculate", json=situation)
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert detail in answer.json()["detail"]


def test_explain_returns_the_tree_and_sentences(client: TestClient) -> None:
    answer = client.post(
        f"{BASE}/country_template/explain",
        json={
            "situation": COUPLE,
            "variables": ["parenting_allowance"],
            "period": "2017-01",
            "entity": "household",
            "id": "_",
        },
    )
    assert answer.status_code == 200
    body = answer.json()
    assert body["sentences"][1].startswith("Not eligible: household income €6,500.00 is above")
    assert body["results"][0]["formula"]["reference"]["citation"] == "Parenting Allowance Act"
    wrong = client.post(
        f"{BASE}/country_template/explain",
        json={
            "situation": COUPLE,
            "variables": ["parenting_allowance"],
            "period": "2017-01",
            "entity": "household",
            "id": "nobody",
        },
    )
    assert wrong.status_code == 422
    assert "no household 'nobody'" in wrong.json()["detail"]


def test_the_rulesets_own_openapi_description(client: TestClient) -> None:
    document = client.get(f"{BASE}/demo/openapi").json()
    assert document["openapi"] == "3.1.0"
    assert f"{BASE}/demo/calculate" in document["paths"]
    schemas = document["components"]["schemas"]
    assert schemas["housing_tenure"]["additionalProperties"]["anyOf"][0]["enum"] == [
        "tenant",
        "owner",
        "other",
    ]
    assert "children" in schemas["Household"]["properties"]


def test_whatif_reports_cost_and_deciles(client: TestClient) -> None:
    answer = client.post(
        f"{BASE}/country_template/whatif",
        json={
            "period": "2017-01",
            "changes": ["benefits.basic_income=700"],
            "synthetic": {"persons": 2000, "seed": 3},
            "breakdown": ["total_benefits"],
        },
    )
    assert answer.status_code == 200
    report = answer.json()
    assert report["losers"] == 0
    assert report["winners"] > 0
    assert [d["decile"] for d in report["deciles"]] == list(range(1, 11))
    assert report["net_cost"] == report["breakdown"]["total_benefits"]["change"]
    bad = client.post(
        f"{BASE}/country_template/whatif",
        json={"period": "2017-01", "changes": ["nonsense"], "synthetic": {"persons": 100}},
    )
    assert bad.status_code == 422
