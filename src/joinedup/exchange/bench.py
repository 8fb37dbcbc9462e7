"""``joinedup bench exchange``: one registry query, called directly and through the mediator.

On a fresh SQLite database in a temporary directory it seeds a small demo country (with the
demo's services, rights and API clients), starts the platform with uvicorn (uvloop, httptools)
in ``processes`` worker processes on loopback, and drives it with a lean keep-alive HTTP/1.1
client (:mod:`joinedup.core.loadgen`) at ``connections`` concurrent connections:

- **direct**: the population register's own system reads ``person`` through
  ``/api/v1/exchange/provider/…`` (token check and the registry query, nothing else);
- **mediated**: a benefits agency reads the same ``person`` through ``/r1/…`` — token,
  client header, right, purpose and fields, the query, two Ed25519 signatures, the message
  log, a data-usage record, monitoring and the transparency log, committed before answering.

Both ask for the same persons in the same order. The load generator runs in this process and
shares the machine's cores with the servers, as a client on the same host would.

The two paths are measured in alternating **rounds** (direct then mediated, then mediated then
direct, …), each path's figures taken over all its rounds: on a shared virtual machine the
speed of the cores drifts by tens of percent within a minute, and measuring one path after the
other would put that drift into the ratio.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text

from joinedup.core.benchmark import BenchReport
from joinedup.core.benchserver import (
    drive,
    free_port,
    platform_environment,
    start_platform,
    stop_platform,
    uvicorn_command,
)
from joinedup.core.db import Database
from joinedup.core.loadgen import LoadResult, build_request
from joinedup.exchange.mediation import QUERY_THREADS, SWITCH_INTERVAL
from joinedup.exchange.recorder import LINGER_SECONDS
from joinedup.exchange.records import DataUsageRecord, MessageLogRecord


@dataclass(frozen=True)
class Caller:
    """The mediated caller of the benchmark: a client subsystem with a right to ``person``."""

    subsystem: str  # CLASS/MEMBER/SUBSYSTEM
    client_id: str
    client_secret: str
    purpose: str
    fields: tuple[str, ...]


#: Seeds a country into the (migrated) database and names the caller; the CLI passes the
#: demo country's (the exchange sits below the demo and does not import it).
Seeder = Callable[[Database], Caller]
POPULATION_SUBSYSTEM = "population"


def _prepare(directory: Path, url: str, seeder: Seeder) -> dict[str, Any]:
    """Migrate, seed, and find the two callers, their tokens and the persons to ask for."""
    os.environ.update(platform_environment(directory, url))
    from joinedup.core.settings import get_settings

    get_settings.cache_clear()
    from joinedup.exchange import SubsystemRef, issue_access_token, register_api_client
    from joinedup.migrations import upgrade

    upgrade(url)
    database = Database(url)
    try:
        caller = seeder(database)
        with database.reading() as session:
            owner = session.execute(
                text(
                    "SELECT owner_member_class, owner_member_code, owner_subsystem_code "
                    "FROM registry WHERE code = 'population'"
                )
            ).one()
        provider_ref = SubsystemRef(owner[0], owner[1], owner[2])
        with database.unit_of_work() as session:
            provider = register_api_client(
                session, subsystem=provider_ref, name="Population register", actor="bench"
            )
        with database.unit_of_work() as session:
            mediated_token = issue_access_token(
                session, client_id=caller.client_id, client_secret=caller.client_secret
            ).access_token
            direct_token = issue_access_token(
                session,
                client_id=provider.client.client_id,
                client_secret=provider.client_secret,
            ).access_token
            codes = list(
                session.scalars(text("SELECT personal_code FROM person ORDER BY id LIMIT 500"))
            )
        instance = get_settings().xroad_instance
        return {
            "instance": instance,
            "client": f"{instance}/{caller.subsystem}",
            "provider": f"{owner[0]}/{owner[1]}/{owner[2]}",
            "purpose": caller.purpose,
            "fields": ",".join(caller.fields),
            "mediated_token": mediated_token,
            "direct_token": direct_token,
            "codes": codes,
        }
    finally:
        database.dispose()


def _start(directory: Path, url: str, port: int, processes: int) -> subprocess.Popen[bytes]:
    env = platform_environment(directory, url)
    return start_platform(uvicorn_command(port, processes), env, port, timeout=60)


#: Seconds each round's fresh connections warm up before they are measured (the first round
#: of each path warms up longer: the processes' caches and connection pools fill then).
ROUND_WARMUP = 0.5


def _load(
    port: int, requests: list[bytes], connections: int, seconds: float, *, warmup: float
) -> LoadResult:
    return drive(port, requests, connections=connections, seconds=seconds, warmup=warmup)


def _alternating(
    port: int,
    paths: dict[str, list[bytes]],
    *,
    connections: int,
    seconds: float,
    rounds: int,
) -> dict[str, LoadResult]:
    """Each path measured for ``seconds`` in all, in ``rounds`` rounds whose order alternates
    (A B, B A, A B, …), so that a drift of the machine's speed weighs on both alike."""
    names = list(paths)
    measured: dict[str, list[LoadResult]] = {name: [] for name in names}
    for number in range(rounds):
        for name in names if number % 2 == 0 else reversed(names):
            warmup = min(2.0, seconds / 2) if number == 0 else ROUND_WARMUP
            measured[name].append(
                _load(port, paths[name], connections, seconds / rounds, warmup=warmup)
            )
    return {name: LoadResult.combined(results) for name, results in measured.items()}


def _requests(setup: dict[str, Any], port: int) -> tuple[list[bytes], list[bytes]]:
    host = f"127.0.0.1:{port}"
    instance, fields = setup["instance"], setup["fields"]
    direct = [
        build_request(
            "GET",
            f"/api/v1/exchange/provider/{setup['provider']}/person?personalCode={code}",
            host=host,
            headers=[("Authorization", f"Bearer {setup['direct_token']}")],
        )
        for code in setup["codes"]
    ]
    mediated = [
        build_request(
            "GET",
            f"/r1/{instance}/{setup['provider']}/person?personalCode={code}&fields={fields}",
            host=host,
            headers=[
                ("Authorization", f"Bearer {setup['mediated_token']}"),
                ("X-Road-Client", setup["client"]),
                ("X-Road-Purpose", setup["purpose"]),
                ("X-Road-UserId", "EE00000000000"),
                ("X-Road-Issue", "bench"),
            ],
        )
        for code in setup["codes"]
    ]
    return direct, mediated


def _figures(result: LoadResult) -> dict[str, float]:
    return {
        "requests_per_s": round(result.requests_per_s, 1),
        "p50_ms": round(result.p(50), 3),
        "p99_ms": round(result.p(99), 3),
    }


def run(
    *,
    seeder: Seeder,
    persons: int,
    connections: int = 48,
    seconds: float = 8.0,
    processes: int = 2,
    rounds: int = 4,
) -> BenchReport:
    """Measure both paths; ``figures`` is ``{"direct": …, "mediated": …, "ratio": …}``."""
    with tempfile.TemporaryDirectory(prefix="joinedup-bench-exchange-") as name:
        directory = Path(name)
        url = f"sqlite:///{directory / 'joinedup.db'}"
        setup = _prepare(directory, url, seeder)
        port = free_port()
        server = _start(directory, url, port, processes)
        try:
            direct_requests, mediated_requests = _requests(setup, port)
            # The load generator's own ceiling (a trivial endpoint, same server): it must be
            # well above both paths' figures, or it would be what is measured.
            health = [build_request("GET", "/healthz", host=f"127.0.0.1:{port}", headers=[])]
            ceiling = _load(port, health, connections, min(seconds, 3.0), warmup=ROUND_WARMUP)
            measured = _alternating(
                port,
                {"direct": direct_requests, "mediated": mediated_requests},
                connections=connections,
                seconds=seconds,
                rounds=rounds,
            )
            direct, mediated = measured["direct"], measured["mediated"]
        finally:
            stop_platform(server)  # graceful: the recorders write what is queued
        database = Database(url)
        try:
            with database.reading() as session:
                messages = session.scalar(select(func.count()).select_from(MessageLogRecord))
                usages = session.scalar(select(func.count()).select_from(DataUsageRecord))
        finally:
            database.dispose()
    ratio = mediated.requests_per_s / direct.requests_per_s if direct.requests_per_s else 0.0
    figures = {"direct": _figures(direct), "mediated": _figures(mediated), "ratio": round(ratio, 3)}
    rows: list[Sequence[Any]] = [
        ["path", "requests/s", "p50 ms", "p99 ms", "errors", "vs direct"],
        ["direct (provider's own system)", direct.requests_per_s, direct.p(50), direct.p(99),
         direct.errors, 1.0],
        ["mediated (/r1, logged)", mediated.requests_per_s, mediated.p(50), mediated.p(99),
         mediated.errors, ratio],
    ]  # fmt: skip
    notes = [
        f"Server configuration, the same for both paths: {processes} uvicorn processes, a "
        "socket each, uvloop, httptools, no access log; registry queries on "
        f"{QUERY_THREADS} threads per process; recorder linger {LINGER_SECONDS * 1000:g} ms; "
        f"thread switch interval {SWITCH_INTERVAL * 1000:g} ms.",
        f"Load generator sanity: {ceiling.requests_per_s:,.0f} requests/s against /healthz "
        f"(p50 {ceiling.p(50):.1f} ms) with the same connections.",
        f"{persons:,} persons, SQLite (WAL), {processes} uvicorn processes, "
        f"{connections} keep-alive connections, {seconds:g} s measured per path in "
        f"{rounds} alternating rounds (each after a warm-up), on {os.cpu_count()} cores "
        "shared with the load generator.",
        f"Records written: {messages:,} message-log and {usages:,} data-usage records "
        "(warm-up included), each in the transparency log.",
        "Targets: at least 1,000 mediated requests/s and a ratio of at least 0.5 "
        f"(X-Road's published figure: about 110/s on two 32-core servers, 0.11): "
        f"{'met' if mediated.requests_per_s >= 1000 and ratio >= 0.5 else 'NOT met'}.",
    ]
    if direct.errors or mediated.errors:
        notes.append(f"Errors: direct {direct.statuses}, mediated {mediated.statuses}.")
    return BenchReport(
        title="Data exchange: direct provider call vs the full mediation path",
        figures=figures,
        rows=rows,
        notes=notes,
    )
