"""``joinedup bench rules`` end to end on a small population, and the rules API mounted in the
real web application (problem documents included)."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from joinedup.cli import app
from joinedup.core.db import Database
from joinedup.core.settings import Settings
from joinedup.rules.bench import run


@pytest.mark.slow
@pytest.mark.openfisca
def test_bench_compares_with_openfisca_and_checks_agreement() -> None:
    report = run(persons=3000, compare_openfisca=True, seed=3)
    keys = {"build_s", "evaluate_s", "total_s", "peak_mb", "explain_median_ms"}
    assert set(report.figures) == {"joinedup", "openfisca"}
    assert set(report.figures["joinedup"]) == keys
    assert keys <= set(report.figures["openfisca"])
    assert report.rows[0] == ["figure", "joinedup", "OpenFisca", "joinedup / OpenFisca"]
    assert any("agree within €0.01" in note for note in report.notes)
    for side in report.figures.values():
        assert side["total_s"] == pytest.approx(side["build_s"] + side["evaluate_s"])
        assert side["peak_mb"] > 10
        assert side["explain_median_ms"] > 0


@pytest.mark.slow
def test_bench_command_without_openfisca_prints_json() -> None:
    result = CliRunner().invoke(app, ["bench", "rules", "--persons", "1000", "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert set(figures) == {"joinedup"}
    assert figures["joinedup"]["evaluate_s"] > 0


def test_the_web_application_mounts_the_rules_api(
    settings: Settings, sqlite_database: Database
) -> None:
    from joinedup.web import create_app

    with TestClient(create_app(settings, database=sqlite_database)) as client:
        assert client.get("/api/v1/rules/rulesets/demo").json()["label"] == "Joinland"
        missing = client.get("/api/v1/rules/rulesets/demo/variables/nothing")
        assert missing.status_code == 404
        assert missing.headers["content-type"].startswith("application/problem+json")
        assert missing.json()["type"] == "https://joinedup.example/problems/not-found"
        paths = client.get("/openapi.json").json()["paths"]
        assert "/api/v1/rules/rulesets/{name}/explain" in paths
