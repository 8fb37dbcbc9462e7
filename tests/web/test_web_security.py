"""Security headers on every answer; request ids accepted when well formed, else generated."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from joinedup.core.db import Database
from joinedup.core.keys import SigningKey
from joinedup.core.settings import Settings
from joinedup.web import create_app


@pytest.mark.parametrize(
    "path", ["/", "/healthz", "/api/nothing-here", "/assets/govuk-frontend.min.css"]
)
def test_security_headers_are_on_every_answer(client: TestClient, path: str) -> None:
    headers = client.get(path).headers
    csp = headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["form-action"] == "'self'"
    assert directives["base-uri"] == "'self'"
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert "camera=()" in headers["permissions-policy"]
    assert "strict-transport-security" not in headers  # not outside production


def test_api_answers_are_never_cached(client: TestClient) -> None:
    assert client.get("/healthz").headers["cache-control"] == "no-store"
    assert client.get("/openapi.json").headers["cache-control"] == "no-store"
    assert client.get("/api/nothing-here").headers["cache-control"] == "no-store"


def test_hsts_and_secure_cookies_only_in_production(
    tmp_path: Path, sqlite_database: Database
) -> None:
    settings = Settings(
        environment="production",
        data_dir=tmp_path,
        secret_key="s" * 40,
        log_signing_key=SigningKey.generate().to_pem().decode(),
        database_url="postgresql+psycopg://postgres@127.0.0.1:5432/unused",
        oidc_issuer="https://eid.example.gov",
        oidc_client_secret="c" * 40,
    )
    app = create_app(settings, database=sqlite_database)
    with TestClient(app) as client:
        response = client.get("/healthz")
        assert response.headers["strict-transport-security"].startswith("max-age=")
        chosen = client.get("/?lang=et")
        assert "Secure" in chosen.headers["set-cookie"]


def test_a_well_formed_request_id_is_echoed(client: TestClient) -> None:
    response = client.get("/healthz", headers={"x-request-id": "abc-123.DEF_456"})
    assert response.headers["x-request-id"] == "abc-123.DEF_456"


@pytest.mark.parametrize(
    "offered",
    [
        None,
        "short",  # fewer than 8 characters
        "has spaces in it",
        "x" * 200,
        "<script>alert(1)</script>",
        "person-38001010001",  # would be masked in the logs: refused
    ],
)
def test_a_missing_or_malformed_request_id_is_replaced(
    client: TestClient, offered: str | None
) -> None:
    headers = {"x-request-id": offered} if offered is not None else {}
    request_id = client.get("/healthz", headers=headers).headers["x-request-id"]
    assert request_id != offered
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)


def test_each_request_gets_its_own_id(client: TestClient) -> None:
    ids = {client.get("/healthz").headers["x-request-id"] for _ in range(5)}
    assert len(ids) == 5
