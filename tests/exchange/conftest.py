"""Fixtures of the exchange's tests that need no import: the web application on the demo
exchange (the module asking for ``api`` imports the ``demo_exchange`` fixture)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from joinedup.core.db import Database
from joinedup.core.settings import Settings
from joinedup.web import create_app


@pytest.fixture
def api(settings: Settings, demo_exchange: Database) -> Iterator[TestClient]:
    """The web application on the demo exchange."""
    with TestClient(create_app(settings, database=demo_exchange)) as client:
        yield client
