"""Fixtures for the web tests: the application on a migrated SQLite copy, and a client."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from joinedup.core.db import Database
from joinedup.core.logging import configure_logging
from joinedup.core.settings import Settings
from joinedup.web import create_app


@pytest.fixture
def app(settings: Settings, sqlite_database: Database) -> FastAPI:
    # The test client's address, so that the sign-in link reaches the embedded provider.
    return create_app(
        settings.model_copy(update={"public_url": "http://testserver"}), database=sqlite_database
    )


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        app.state.oidc_http = test_client  # the relying party reaches the provider in-process
        yield test_client


@pytest.fixture
def log_output(settings: Settings) -> Iterator[io.StringIO]:
    """Everything logged during the test, as JSON lines."""
    buffer = io.StringIO()
    configure_logging(settings.model_copy(update={"log_format": "json"}), stream=buffer)
    yield buffer
    configure_logging(settings)
