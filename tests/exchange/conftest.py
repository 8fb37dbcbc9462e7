"""Fixtures of the exchange's tests that need no import: the web application on the demo
exchange (the module asking for ``api`` imports the ``demo_exchange`` fixture), and a copy of
the mediation tests' small country (:func:`mediation_support.make_world`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from mediation_support import World, make_world

from joinedup.core.db import Database
from joinedup.core.settings import Settings
from joinedup.web import create_app
from template_support import DatabaseTemplates


@pytest.fixture
def api(settings: Settings, demo_exchange: Database) -> Iterator[TestClient]:
    """The web application on the demo exchange."""
    with TestClient(create_app(settings, database=demo_exchange)) as client:
        yield client


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def mediation_country(
    request: pytest.FixtureRequest, tmp_path: Path, database_templates: DatabaseTemplates
) -> Iterator[tuple[Database, World]]:
    """A database of the test's own holding :func:`make_world`'s country (built once per
    session and backend), and the world's names and client secrets."""
    template = database_templates.template(request.param, make_world)
    with database_templates.copy(template, tmp_path) as database:
        yield database, template.value
