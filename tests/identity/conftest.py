"""Fixtures for the identity tests: a seeded synthetic country (its demo accounts, staff and
powers of attorney included), the web application on a copy of it, and a client whose
relying party reaches the embedded provider through the same application."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from identity_support import World, load_world

from joinedup.core.db import Database
from joinedup.core.settings import Settings
from joinedup.identity import forget_provider_metadata
from joinedup.web import create_app

#: What a browser asks for (pages answer a redirect to sign in, not a 401 problem).
BROWSER = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


@pytest.fixture
def world(seeded: Database) -> World:
    return load_world(seeded)


@pytest.fixture
def web_settings(tmp_path: Path) -> Settings:
    return Settings(
        environment="test",
        data_dir=tmp_path / "var",
        public_url="http://testserver",
        log_format="console",
    )


@pytest.fixture
def web_app(web_settings: Settings, seeded: Database) -> FastAPI:
    forget_provider_metadata()
    return create_app(web_settings, database=seeded)


@pytest.fixture
def web(web_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(web_app, headers=BROWSER) as client:
        web_app.state.oidc_http = client  # the relying party reaches the provider in-process
        yield client
    forget_provider_metadata()


@pytest.fixture
def other_browser(web_app: FastAPI, web: TestClient) -> Iterator[TestClient]:
    """A second browser (its own cookies) on the same application."""
    with TestClient(web_app, headers=BROWSER) as client:
        web_app.state.oidc_http = web
        yield client
