"""The benchmarks' measured runs: several runs combine into one result, and the exchange
benchmark alternates its two paths round by round so a drift of the machine's speed weighs on
both alike."""

from __future__ import annotations

from typing import Any

import pytest

from joinedup.core.loadgen import LoadResult
from joinedup.exchange import bench


def test_runs_combine_into_their_total_rate_latencies_and_statuses() -> None:
    first = LoadResult(
        requests=100, errors=1, seconds=1.0, latencies=[0.01] * 100, statuses={200: 99, 500: 1}
    )
    second = LoadResult(
        requests=300, errors=0, seconds=2.0, latencies=[0.03] * 300, statuses={200: 300}
    )
    both = LoadResult.combined([first, second])
    assert both.requests == 400
    assert both.errors == 1
    assert both.requests_per_s == pytest.approx(400 / 3.0)  # not the mean of 100/s and 150/s
    assert both.statuses == {200: 399, 500: 1}
    assert both.p(50) == pytest.approx(30.0)
    assert both.p(10) == pytest.approx(10.0)
    assert LoadResult.combined([]).requests_per_s == 0.0


def test_the_paths_alternate_round_by_round(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, float, float]] = []

    def load(
        port: int, requests: list[bytes], connections: int, seconds: float, *, warmup: float
    ) -> LoadResult:
        calls.append((requests[0].decode(), seconds, warmup))
        return LoadResult(requests=10, seconds=seconds, latencies=[0.001] * 10)

    monkeypatch.setattr(bench, "_load", load)
    paths: dict[str, Any] = {"direct": [b"D"], "mediated": [b"M"]}
    results = bench._alternating(1, paths, connections=4, seconds=8.0, rounds=4)
    assert [c[0] for c in calls] == ["D", "M", "M", "D", "D", "M", "M", "D"]
    assert all(c[1] == 2.0 for c in calls)  # the measured seconds split over the rounds
    assert [c[2] for c in calls[:2]] == [2.0] * 2  # the first round warms up longer
    assert [c[2] for c in calls[2:]] == [bench.ROUND_WARMUP] * 6
    assert results["direct"].requests == results["mediated"].requests == 40
    assert results["direct"].seconds == pytest.approx(8.0)


def test_a_mix_of_requests_is_measured_per_request_as_well() -> None:
    """Each latency keeps the index of its request: the p95 of one page of a mix."""
    result = LoadResult(
        requests=6,
        seconds=1.0,
        latencies=[0.010, 0.100, 0.012, 0.110, 0.011, 0.120],
        indexes=[0, 1, 2, 3, 4, 5],
    )
    light = result.p_of(50, lambda index: index % 2 == 0)
    heavy = result.p_of(50, lambda index: index % 2 == 1)
    assert light == pytest.approx(11.0)
    assert heavy == pytest.approx(110.0)
    assert result.p_of(95, lambda index: index > 9) == 0.0  # none
    both = LoadResult.combined([result, result])
    assert both.indexes == result.indexes * 2
