"""``joinedup bench exchange`` runs end to end with tiny numbers: a real uvicorn server on a
seeded SQLite database, the provider's query answered directly and through /r1 without an
error, and the figures the JSON promises."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from bench_support import ONE_AT_A_TIME
from joinedup.cli import app

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300), ONE_AT_A_TIME]


def test_bench_exchange_with_tiny_numbers(isolated_environment: None) -> None:
    arguments = ["--persons", "200", "--seconds", "1", "--connections", "4", "--processes", "1"]
    result = CliRunner().invoke(app, ["bench", "exchange", *arguments, "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)  # one JSON object and nothing else
    for path in ("direct", "mediated"):
        assert figures[path]["requests_per_s"] > 0
        assert 0 < figures[path]["p50_ms"] <= figures[path]["p99_ms"]
    ratio = figures["mediated"]["requests_per_s"] / figures["direct"]["requests_per_s"]
    assert figures["ratio"] == pytest.approx(ratio, abs=0.001)
