"""Fixtures for the rules tests. Tests that run OpenFisca (a development dependency, always
installed in CI) are marked ``openfisca``."""

from __future__ import annotations

import pytest

from joinedup.rules.registry import get_ruleset
from joinedup.rules.ruleset import Ruleset


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "openfisca: runs openfisca-core with openfisca-country-template (dev dependency)",
    )


@pytest.fixture(scope="session")
def template() -> Ruleset:
    return get_ruleset("country_template")


@pytest.fixture(scope="session")
def demo() -> Ruleset:
    return get_ruleset("demo")
