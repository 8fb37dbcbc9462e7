"""Fixtures for the web tests: the application on a migrated SQLite copy, and a client."""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from pathlib import Path

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


# --- the portal on the seeded country ----------------------------------------------------------

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "identity"))  # identity_support

#: What a browser asks for (pages answer a redirect to sign in, not a 401 problem).
BROWSER = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


@pytest.fixture
def seeded_app(tmp_path: Path, seeded: Database) -> FastAPI:
    from joinedup.identity import forget_provider_metadata

    forget_provider_metadata()
    settings = Settings(
        environment="test",
        data_dir=tmp_path / "var",
        public_url="http://testserver",
        log_format="console",
    )
    return create_app(settings, database=seeded)


def _browser(app: FastAPI, provider: TestClient | None = None) -> Iterator[TestClient]:
    from joinedup.identity import forget_provider_metadata

    with TestClient(app, headers=BROWSER) as test_client:
        app.state.oidc_http = provider or test_client
        yield test_client
    forget_provider_metadata()


@pytest.fixture
def web(seeded_app: FastAPI) -> Iterator[TestClient]:
    """A browser on the portal of the seeded country."""
    yield from _browser(seeded_app)


@pytest.fixture
def other_browser(seeded_app: FastAPI, web: TestClient) -> Iterator[TestClient]:
    """A second browser (its own cookies) on the same application."""
    yield from _browser(seeded_app, web)
