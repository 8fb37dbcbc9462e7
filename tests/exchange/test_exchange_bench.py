"""``joinedup bench exchange`` runs end to end with tiny numbers: a real uvicorn server on a
seeded SQLite database, the provider's query answered directly and through /r1 without an
error, and the figures the JSON promises."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from joinedup.cli import app

# the benchmarks' tests start platforms and load them for seconds at a time: one after
# another on one test worker (pytest --dist loadgroup), not two at once on the 2 cores,
# where a timed row could end before a starved server answered anything
pytestmark = [pytest.mark.slow, pytest.mark.timeout(300), pytest.mark.xdist_group("benchmarks")]


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
