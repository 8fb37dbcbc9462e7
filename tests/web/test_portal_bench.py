"""``joinedup bench portal`` runs end to end with tiny numbers: a real uvicorn server on a
seeded SQLite database, signed-in users, every main page answered without an error, and the
figures the JSON promises."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from bench_support import ONE_AT_A_TIME
from joinedup.cli import app

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300), ONE_AT_A_TIME]


def test_bench_portal_with_tiny_numbers(isolated_environment: None) -> None:
    result = CliRunner().invoke(
        app,
        [
            "bench",
            "portal",
            "--users",
            "6",
            "--persons",
            "200",
            "--seconds",
            "1",  # a row of 0.5 s could end before a loaded machine answered one overview
            "--processes",
            "1",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)  # one JSON object and nothing else
    assert {"p50_ms", "p95_ms", "pages_per_s"} <= set(figures)
    assert figures["pages_per_s"] > 0
    assert 0 < figures["p50_ms"] <= figures["p95_ms"]
    assert figures["errors"] == 0
    assert set(figures["pages"]) == {
        "start", "my overview", "who used my data", "my entitlements", "my messages",
        "acting for", "consents",
    }  # fmt: skip
    # some users had a child: the entitlements and acting-for pages have something to show
    assert figures["mothers"] >= 1
    for name, page in figures["pages"].items():  # each page answered, without an error
        assert page["errors"] == 0, (name, figures["pages"])
        assert page["pages_per_s"] > 0, (name, figures["pages"])
    assert figures["reference"]["pages_per_s"] > 0
    # the mixed run's tail, page by page (which page makes it)
    assert set(figures["mixed_by_page"]) == set(figures["pages"])
    for name, page in figures["mixed_by_page"].items():
        assert 0 < page["p50_ms"] <= page["p95_ms"] <= figures["p95_ms"] * 10, name
