"""Every error is an RFC 9457 problem document (or, for a browser's page, an HTML page)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Annotated, Any

import pytest
from fastapi import FastAPI, Query
from fastapi.testclient import TestClient
from httpx2 import Response
from pydantic import BaseModel

from joinedup.core.errors import PROBLEM_BASE, Conflict

PROBLEM = "application/problem+json"


class Person(BaseModel):
    given_name: str
    age: int


def _add_test_routes(app: FastAPI) -> None:
    @app.get("/api/test/items")
    def items(limit: Annotated[int, Query(ge=1, le=100)] = 10) -> dict[str, int]:
        return {"limit": limit}

    @app.post("/api/test/persons")
    def create_person(person: Person) -> Person:
        return person

    @app.post("/api/test/conflict")
    def conflict() -> None:
        raise Conflict("The child is already registered.", registration="B-1", type="spoofed")

    @app.get("/api/test/boom")
    def boom() -> None:
        raise RuntimeError("database said no for 38001010001")

    @app.get("/test-page-boom", include_in_schema=False)
    def page_boom() -> None:
        raise RuntimeError("a page failed")


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    _add_test_routes(app)
    with TestClient(app) as test_client:
        yield test_client


def _assert_problem(response: Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["type"] == PROBLEM_BASE + slug
    assert body["status"] == status
    assert body["title"]
    assert body["instance"] == response.request.url.path
    assert body["request_id"] == response.headers["x-request-id"]
    return body


def test_unknown_route_is_a_404_problem(client: TestClient) -> None:
    body = _assert_problem(client.get("/api/nothing-here"), 404, "not-found")
    assert "/api/nothing-here" in body["detail"]


def test_wrong_method_is_a_405_problem_naming_the_allowed_ones(client: TestClient) -> None:
    response = client.delete("/healthz")
    body = _assert_problem(response, 405, "method-not-allowed")
    assert response.headers["allow"] == "GET"
    assert "use GET" in body["detail"]


def test_bad_query_parameter_names_the_field(client: TestClient) -> None:
    body = _assert_problem(client.get("/api/test/items?limit=0"), 422, "validation-failed")
    [error] = body["errors"]
    assert error["in"] == "query"
    assert error["field"] == "limit"
    assert error["code"] == "greater_than_equal"
    assert "greater than or equal to 1" in error["detail"]
    assert "query.limit" in body["detail"]


def test_bad_body_names_every_field_without_echoing_values(client: TestClient) -> None:
    response = client.post("/api/test/persons", json={"given_name": "Mari", "age": "old"})
    body = _assert_problem(response, 422, "validation-failed")
    [error] = body["errors"]
    assert (error["in"], error["field"], error["pointer"]) == ("body", "age", "#/age")
    assert error["code"] == "int_parsing"
    assert "old" not in response.text

    missing = _assert_problem(client.post("/api/test/persons", json={}), 422, "validation-failed")
    assert {e["field"] for e in missing["errors"]} == {"given_name", "age"}
    assert {e["code"] for e in missing["errors"]} == {"missing"}


def test_malformed_json_is_a_400_with_the_parser_message(client: TestClient) -> None:
    response = client.post(
        "/api/test/persons",
        content=b'{"given_name": "Mari", "age": 3',
        headers={"content-type": "application/json"},
    )
    body = _assert_problem(response, 400, "malformed-body")
    assert "not valid JSON" in body["detail"]
    assert "Expecting" in body["detail"]  # the parser's own words say where it broke


def test_domain_error_keeps_its_slug_title_detail_and_extensions(client: TestClient) -> None:
    body = _assert_problem(client.post("/api/test/conflict"), 409, "conflict")
    assert body["title"] == Conflict.title
    assert body["detail"] == "The child is already registered."
    assert body["registration"] == "B-1"
    # An extension cannot overwrite a standard member.
    assert body["type"] == PROBLEM_BASE + "conflict"


def test_unexpected_exception_is_a_500_problem_that_reveals_nothing(
    client: TestClient, log_output: io.StringIO
) -> None:
    response = client.get("/api/test/boom")
    body = _assert_problem(response, 500, "internal-error")
    assert "38001010001" not in response.text
    assert "RuntimeError" not in response.text
    assert "Traceback" not in response.text
    # Security headers are on the 500 answer too.
    assert "content-security-policy" in response.headers
    logged = log_output.getvalue()
    assert "RuntimeError" in logged
    assert body["request_id"] in logged
    assert "38001010001" not in logged
    assert "*******0001" in logged


def test_a_browser_asking_for_a_missing_page_gets_an_html_page(client: TestClient) -> None:
    response = client.get("/no-such-page", headers={"accept": "text/html,*/*;q=0.8"})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "Page not found" in response.text
    assert response.headers["x-request-id"] in response.text  # quoted as the reference


def test_a_browser_gets_problem_json_from_the_api(client: TestClient) -> None:
    response = client.get("/api/nothing-here", headers={"accept": "text/html"})
    _assert_problem(response, 404, "not-found")


def test_a_missing_static_file_is_a_404(client: TestClient) -> None:
    _assert_problem(client.get("/assets/no-such-file.css"), 404, "not-found")


def test_a_browser_gets_an_html_page_when_a_page_fails(client: TestClient) -> None:
    response = client.get("/test-page-boom", headers={"accept": "text/html"})
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("text/html")
    assert "Sorry, there is a problem with the service" in response.text
    assert "a page failed" not in response.text
    # An API client calling the same path still gets the problem document.
    _assert_problem(client.get("/test-page-boom"), 500, "internal-error")
