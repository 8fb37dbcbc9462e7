"""/healthz answers while the process lives; /readyz checks the database and the bus."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from joinedup.core.db import Database
from joinedup.core.errors import PROBLEM_BASE
from joinedup.core.settings import Settings
from joinedup.web import create_app
from nats_support import delete_stream


def test_healthz_needs_no_dependency(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_200_with_each_check_when_ready(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert {name: check["status"] for name, check in body["checks"].items()} == {
        "database": "up",
        "bus": "up",
    }


def test_readyz_is_503_naming_the_bus_when_it_is_down(client: TestClient) -> None:
    client.portal.call(client.app.state.bus.close)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == PROBLEM_BASE + "not-ready"
    assert body["detail"] == "Not ready: bus is down."
    assert body["checks"]["database"]["status"] == "up"
    assert body["checks"]["bus"]["status"] == "down"


def test_readyz_is_503_naming_the_database_when_it_is_unreadable(
    client: TestClient, sqlite_database: Database
) -> None:
    path = Path(sqlite_database.url.split("///", 1)[1])
    for leftover in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        leftover.unlink(missing_ok=True)
    path.write_bytes(b"this is not an SQLite database " * 200)
    sqlite_database.dispose()  # pooled connections would still see the old file

    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["database"]["status"] == "down"
    assert body["checks"]["database"]["error"] == "DatabaseError"
    assert "database" in body["detail"]


@pytest.mark.nats
def test_readyz_is_503_when_the_database_port_is_closed(nats_url: str, tmp_path: Path) -> None:
    stream = f"WEBTEST_{uuid.uuid4().hex[:10].upper()}"
    settings = Settings(
        environment="test",
        data_dir=tmp_path,
        database_url="postgresql+psycopg://postgres@127.0.0.1:9/nowhere",  # port 9: closed
        bus_url=nats_url,
        nats_stream=stream,
    )
    try:
        with TestClient(create_app(settings)) as client:
            response = client.get("/readyz")
            assert response.status_code == 503
            body = response.json()
            assert body["detail"] == "Not ready: database is down."
            assert body["checks"]["database"]["error"] == "OperationalError"
            assert body["checks"]["bus"]["status"] == "up"
    finally:
        delete_stream(nats_url, stream)
