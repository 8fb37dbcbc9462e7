"""``joinedup bench proactive`` runs with a tiny N, so it cannot rot: both modes print the
figures as JSON, and a call naming neither (or both) is refused."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool
from typer.testing import CliRunner

from bench_support import ONE_AT_A_TIME
from joinedup.cli import app
from joinedup.core.benchserver import free_port
from joinedup.core.db import Database
from joinedup.demo import (
    bench_buses,
    bench_databases,
    bench_events,
    bench_events_plan,
    bench_events_platform,
)
from joinedup.demo.bench_events_platform import (
    BUSIEST,
    busy_percent,
    machine_ticks,
    worker_commands,
)

runner = CliRunner()

pytestmark = ONE_AT_A_TIME


def test_reevaluate_a_tiny_population() -> None:
    result = runner.invoke(
        app, ["bench", "proactive", "--reevaluate", "400", "--chunk-persons", "100", "--json"]
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert figures["status"] == "completed"
    assert figures["database"] == "SQLite"
    assert figures["persons"] == 400
    assert figures["chunks"] > 1
    assert figures["changes"] == figures["letters"] == figures["entitlements_before"] > 0
    assert figures["data_usage_records"] >= 400
    assert figures["seconds"] > 0
    assert figures["persons_per_s"] > 0


def test_a_few_life_events_through_the_entry_point() -> None:
    result = runner.invoke(
        app, ["bench", "proactive", "--events", "20", "--connections", "4", "--json"]
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert set(figures) >= {"events_per_s", "p50_ms", "p99_ms", "reference"}
    assert figures["statuses"] == {"201": 20}
    assert figures["database"] == "SQLite"
    assert figures["events_per_s"] > 0
    assert 0 < figures["p50_ms"] <= figures["p99_ms"]
    assert figures["quiet"] is True
    # births and deaths apart (one event in ten is a death): together, every event
    births, deaths = figures["by_kind"]["birth"], figures["by_kind"]["death"]
    assert (births["events"], deaths["events"]) == (18, 2)
    for kind in (births, deaths):
        assert 0 < kind["p50_ms"] <= kind["p99_ms"]
    assert max(births["p99_ms"], deaths["p99_ms"]) >= figures["p50_ms"]


def test_the_workers_apart_from_the_web_process() -> None:
    """``--apart``: a ``joinedup worker`` process beside the web process, on the same file."""
    result = runner.invoke(
        app, ["bench", "proactive", "--events", "10", "--connections", "2", "--apart", "--json"]
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert figures["shape"] == "web and worker processes"
    assert set(figures["cpu_ms_per_event"]) == {"web", "worker", "benchmark client"}
    assert figures["statuses"] == {"201": 10}
    assert figures["quiet"] is True
    assert figures["events_per_s"] > 0
    answers = figures["answers_while_working"]
    assert 0 < answers["p50_ms"] <= answers["p99_ms"]
    assert answers["events_per_s"] > 0


def _ten_events_with_two_workers(*options: str) -> dict[str, Any]:
    """Ten events with the births consumer in a worker process of its own (and ``options``):
    the figures, once every event's consequences are committed (a death's fan-out too)."""
    result = runner.invoke(
        app,
        ["bench", "proactive", "--events", "10", "--connections", "2", "--worker-processes",
         "2", *options, "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    figures: dict[str, Any] = json.loads(result.stdout)
    assert figures["statuses"] == {"201": 10}
    assert figures["quiet"] is True
    assert figures["deaths_unfinished"] == 0
    assert 0 < figures["p50_ms"] <= figures["p99_ms"]
    return figures


def test_the_births_consumer_in_a_worker_process_of_its_own() -> None:
    """``--worker-processes 2``: ``joinedup worker --only proactive.births`` beside ``joinedup
    worker --without proactive.births`` (the relay and the rest): every event's consequences
    are committed all the same (a death's Tell Us Once fan-out too)."""
    figures = _ten_events_with_two_workers()
    assert figures["shape"] == "web and 2 worker processes"
    # where the processor time went, process by process (the births worker did the births)
    cpu = figures["cpu_ms_per_event"]
    assert set(cpu) == {
        "web", "worker: relay and the rest", "worker: proactive.births", "benchmark client"
    }  # fmt: skip
    assert cpu["worker: proactive.births"] > 0
    # and how long each held SQLite's one writer's turn (sampled from /proc/locks)
    writer = figures["writer_ms_per_event"]
    assert set(writer) == {"web", "worker: relay and the rest", "worker: proactive.births"}
    assert sum(writer.values()) > 0
    # and how busy the machine's processors were meanwhile (/proc/stat)
    assert 0 < figures["cores_busy_percent"] <= 100


def test_how_busy_the_processors_were() -> None:
    """(busy, all) clock ticks of the whole machine, read twice: the share busy between."""
    ticks = machine_ticks()
    assert ticks is not None
    assert 0 <= ticks[0] <= ticks[1]
    assert busy_percent((100, 1000), (400, 1400)) == 75.0
    assert busy_percent((100, 1000), (100, 1400)) == 0.0
    for unknown in ((None, (1, 2)), ((1, 2), None), ((100, 1000), (100, 1000))):
        assert busy_percent(*unknown) is None  # (no time passed, or nothing to read)


def test_worker_processes_split_the_busiest_consumers_off() -> None:
    from joinedup.core.consumers import registry
    from joinedup.platform import handler_modules

    handler_modules()
    assert set(BUSIEST) <= {c.name for c in registry}  # each a consumer of the platform
    assert worker_commands(1) == [["worker"]]
    assert worker_commands(2) == [
        ["worker", "--without", "proactive.births"],
        ["worker", "--only", "proactive.births"],
    ]
    assert worker_commands(3)[0] == ["worker", "--without", "proactive.births,tellusonce.death"]
    assert runner.invoke(app, ["bench", "proactive", "--events", "5", "--worker-processes",
                               "9"]).exit_code == 2  # fmt: skip


def test_one_mode_is_required() -> None:
    assert runner.invoke(app, ["bench", "proactive"]).exit_code == 2
    both = ["bench", "proactive", "--events", "5", "--reevaluate", "100"]
    assert runner.invoke(app, both).exit_code == 2


def test_events_offered_open_loop_at_a_rate(monkeypatch: pytest.MonkeyPatch) -> None:
    """``--rate 20``: the ten events are sent 50 ms apart (the last one due at 0.45 s), so
    they cannot be done faster than that, however fast the platform answers. (A client idle
    for longer than ``IDLE_CONNECTION_S`` connects again, as at a low rate, where the server
    would have closed its keep-alive connection: here after every wait.)"""
    monkeypatch.setattr(bench_events, "IDLE_CONNECTION_S", 0.0)
    result = runner.invoke(
        app,
        ["bench", "proactive", "--events", "10", "--connections", "4", "--rate", "20", "--json"],
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert figures["offered_per_s"] == 20.0
    assert figures["statuses"] == {"201": 10}
    assert 0 < figures["events_per_s"] <= 10 / 0.45
    assert 0 < figures["reference"]["events_per_s"] <= 10 / 0.45
    assert 0 < figures["p50_ms"] <= figures["p99_ms"]


def test_a_rate_needs_events_and_must_be_positive() -> None:
    assert (
        runner.invoke(app, ["bench", "proactive", "--reevaluate", "100", "--rate", "5"]).exit_code
        == 2
    )
    assert runner.invoke(app, ["bench", "proactive", "--events", "5", "--rate", "0"]).exit_code == 2


def test_repeated_runs_show_the_run_of_the_median_rate() -> None:
    """``--repeat 3``: the platform measured three times, each on a fresh copy of the seeded
    database; the figures shown are the median run's, every run's rate and p99 beside them."""
    result = runner.invoke(
        app,
        ["bench", "proactive", "--events", "10", "--connections", "4", "--repeat", "3", "--json"],
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    runs = figures["runs"]
    assert len(runs) == 3
    median = sorted(runs, key=lambda run: run["events_per_s"])[1]
    assert (figures["events_per_s"], figures["p50_ms"], figures["p99_ms"]) == (
        median["events_per_s"],
        median["p50_ms"],
        median["p99_ms"],
    )
    assert figures["statuses"] == {"201": 10}
    assert figures["quiet"] is True
    assert all(0 < run["p50_ms"] <= run["p99_ms"] for run in runs)


def test_repeat_goes_with_events_and_is_bounded() -> None:
    for arguments in (["--reevaluate", "100", "--repeat", "2"], ["--events", "5", "--repeat", "0"],
                      ["--events", "5", "--repeat", "10"]):  # fmt: skip
        assert runner.invoke(app, ["bench", "proactive", *arguments]).exit_code == 2


def test_the_events_planned_share_no_person_and_no_home(seeded: Database) -> None:
    """A household is everyone at one address: two events in one household would each be
    decided again by the other's, and the first would count the second's decisions as its
    own consequences (seen: a birth measured at 21.7 s, the time until a later birth at the
    same address)."""
    events = bench_events_plan.plan_events(seeded, 60)
    assert [e.kind for e in events].count("death") == 6
    with seeded.reading() as session:
        homes = dict(
            session.execute(
                text(
                    "SELECT p.personal_code, r.address_id FROM person p JOIN residence r "
                    "ON r.person_id = p.id AND r.superseded_at IS NULL AND r.valid_to IS NULL"
                )
            ).all()
        )
    persons = [code for event in events for code in event.concerns]
    assert len(persons) == len(set(persons))
    addresses = [{homes[c] for c in event.concerns if c in homes} for event in events]
    assert all(addresses)  # (every birth's parents and every deceased live somewhere)
    flat = [address for home in addresses for address in home]
    assert len(flat) == len(set(flat))


def test_a_writer_is_counted_as_the_process_it_was_started_as_or_descends_from() -> None:
    """The turn's holders by process: a started process's child (a web process's own worker
    processes, say) counts as it; a process none of them started, as ``other``."""
    import os

    from joinedup.core.sqlite import WriterHolders
    from joinedup.demo.bench_events_platform import writer_per_event

    holders = WriterHolders("/nonexistent/a.db")
    holders.samples, holders.elapsed = 100, 2.0
    holders.held = {os.getpid(): 50, 2**22 + 7: 10}  # this process, and none at all
    assert writer_per_event(holders, ["web", "worker"], [os.getppid(), 1], 10) == {
        "web": 100.0,  # half of 2 s, over 10 events
        "worker": 0.0,
        "other": 20.0,
    }
    holders.samples = 0  # nothing sampled (no /proc/locks): no figure
    assert writer_per_event(holders, ["web"], [os.getppid()], 10) == {}


def _said(output: str) -> str:
    """What a refusal said, without the box drawn around it or its line breaks."""
    return " ".join(output.translate(str.maketrans("", "", "│╭╮╰╯─")).split())


def _refused(arguments: list[str]) -> str:
    """Run the benchmark, expecting a refusal (exit status 2): what it said."""
    result = runner.invoke(app, ["bench", "proactive", *arguments], env={"COLUMNS": "400"})
    assert result.exit_code == 2, result.output
    return _said(result.output)


@pytest.fixture
def own_prefix(monkeypatch: pytest.MonkeyPatch) -> str:
    """The prefix of the databases and streams the benchmark makes in this test, its own (the
    suite's other benchmark tests run at the same time on the same servers)."""
    prefix = f"jubench_t{uuid.uuid4().hex[:8]}_"
    monkeypatch.setattr(bench_databases, "PREFIX", prefix)
    monkeypatch.setattr(bench_buses, "STREAM_PREFIX", prefix.upper())
    return prefix


def _bench_databases(url: str, prefix: str) -> set[str]:
    """The databases named ``prefix…`` on the server ``url`` names (a benchmark's: left)."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return set(
                connection.scalars(
                    text("SELECT datname FROM pg_database WHERE datname LIKE :prefix"),
                    {"prefix": f"{prefix}%"},
                )
            )
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_reevaluate_a_tiny_population_on_postgresql(postgres_url: str, own_prefix: str) -> None:
    """``--reevaluate`` on a PostgreSQL server too, in a database of its own, dropped."""
    result = runner.invoke(
        app,
        ["bench", "proactive", "--reevaluate", "400", "--chunk-persons", "100",
         "--database-url", postgres_url, "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert figures["database"] == "PostgreSQL"
    assert figures["status"] == "completed"
    assert figures["persons"] == 400
    assert figures["changes"] == figures["letters"] == figures["entitlements_before"] > 0
    assert figures["data_usage_records"] >= 400
    assert _bench_databases(postgres_url, own_prefix) == set()


def test_the_database_url_must_be_a_postgresql_server(tmp_path: Path) -> None:
    """A bad ``--database-url`` is refused before anything runs, saying what to give."""
    sqlite = f"sqlite:///{tmp_path / 'x.db'}"
    said = _refused(["--events", "5", "--database-url", sqlite])
    assert "names a sqlite database: give a PostgreSQL server's" in said
    assert not (tmp_path / "x.db").exists()
    said = _refused(["--events", "5", "--database-url", "not a url"])
    assert "'not a url' is not a database URL: give one such as postgresql+psycopg://" in said
    said = _refused(["--reevaluate", "100", "--database-url", sqlite])
    assert "names a sqlite database" in said


@pytest.mark.postgres
def test_a_server_that_refuses_to_make_the_databases(postgres_url: str) -> None:
    """A role without CREATEDB: refused with what it needs, not a traceback; nothing left."""
    role = f"jubench_test_{uuid.uuid4().hex[:8]}"
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as connection:
        connection.execute(text(f'CREATE ROLE "{role}" LOGIN NOCREATEDB'))
    try:
        as_role = make_url(postgres_url).set(username=role).render_as_string(hide_password=False)
        said = _refused(["--events", "5", "--database-url", as_role])
        assert "refused 'CREATE DATABASE': permission denied to create database" in said
        assert "its role needs CREATEDB" in said
        with admin.connect() as connection:
            owned = connection.scalar(
                text(
                    "SELECT count(*) FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba "
                    "WHERE r.rolname = :role"
                ),
                {"role": role},
            )
        assert owned == 0
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        admin.dispose()


def test_an_unreachable_server_is_refused_plainly() -> None:
    """A server that cannot be reached: its address and the driver's reason (no privilege
    hint: it is not what is wrong)."""
    server = "postgresql+psycopg://postgres@127.0.0.1:9/test"
    said = _refused(["--events", "5", "--database-url", server])
    assert f"the PostgreSQL server at {server} refused 'CREATE DATABASE'" in said
    assert "Connection refused" in said
    assert "CREATEDB" not in said


def _bench_streams(url: str, prefix: str) -> set[str]:
    """The streams named ``PREFIX…`` on the NATS server ``url`` (a benchmark's: left)."""
    import asyncio

    import nats

    async def streams() -> set[str]:
        connection = await nats.connect(url)
        try:
            found = await connection.jetstream().streams_info()
        finally:
            await connection.close()
        return {s.config.name for s in found if s.config.name.startswith(prefix.upper())}

    return asyncio.run(streams())


@pytest.mark.postgres
@pytest.mark.nats
def test_a_few_life_events_on_postgresql_and_nats(
    postgres_url: str, nats_url: str, own_prefix: str
) -> None:
    """The production path whole: ``--database-url`` (a PostgreSQL server, in databases of
    the run's own, dropped at the end) and ``--bus-url`` (NATS JetStream, each phase on a
    stream of its own, deleted at the end); the servers' processor time counted beside the
    platform's processes', and no SQLite writers' turn to watch."""
    figures = _ten_events_with_two_workers("--database-url", postgres_url, "--bus-url", nats_url)
    assert (figures["database"], figures["bus"]) == ("PostgreSQL", "NATS JetStream")
    births, deaths = figures["by_kind"]["birth"], figures["by_kind"]["death"]
    assert (births["events"], deaths["events"]) == (9, 1)
    cpu = figures["cpu_ms_per_event"]
    assert cpu["worker: proactive.births"] > 0
    assert cpu["PostgreSQL server (every process of it)"] > 0
    # counted (present); its ~0.7 ms an event for ten events is under the kernel's 10 ms
    # tick, so it may read as nothing
    assert cpu["NATS server"] >= 0
    assert "writer_ms_per_event" not in figures
    assert _bench_streams(nats_url, own_prefix) == set()
    assert _bench_databases(postgres_url, own_prefix) == set()


@pytest.mark.nats
def test_events_on_sqlite_and_nats(nats_url: str) -> None:
    """NATS with the embedded database (the relay publishes the outbox to the stream): the
    consumers' positions are JetStream's, not the outbox cursors', and the benchmark waits
    for them all the same (the web process runs the consumers too)."""
    result = runner.invoke(
        app,
        ["bench", "proactive", "--events", "10", "--connections", "2", "--bus-url", nats_url,
         "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert (figures["database"], figures["bus"]) == ("SQLite", "NATS JetStream")
    assert figures["statuses"] == {"201": 10}
    assert figures["quiet"] is True
    assert figures["deaths_unfinished"] == 0


def test_the_in_process_bus_is_named_whatever_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A ``JOINEDUP_BUS_URL`` in the caller's environment does not reach the platform the
    benchmark starts (it would run on a bus the benchmark does not watch)."""
    monkeypatch.setenv("JOINEDUP_BUS_URL", "nats://127.0.0.1:9")
    given: list[dict[str, str]] = []

    def start(command: list[str], env: dict[str, str], port: int, quiet: bool) -> Any:
        given.append(env)
        raise RuntimeError("(not started)")

    monkeypatch.setattr(bench_events_platform, "start_platform", start)
    with pytest.raises(RuntimeError, match="not started"):
        bench_events_platform.start_platform_processes(
            tmp_path, "sqlite:///x.db", 1, workers=False, bus=bench_buses.BenchBus(), phase="p"
        )
    assert given[0]["JOINEDUP_BUS_URL"] == "inprocess://"


def test_the_bus_url_must_be_a_nats_server() -> None:
    """A bad ``--bus-url`` is refused before anything runs, saying what to give; and only
    with ``--events``."""
    said = _refused(["--events", "5", "--bus-url", "redis://127.0.0.1:6379"])
    assert "--bus-url 'redis://127.0.0.1:6379' is not a NATS server's URL" in said
    assert "give one such as nats://127.0.0.1:4222" in said
    said = _refused(["--events", "5", "--bus-url", "nats://"])
    assert "is not a NATS server's URL" in said
    said = _refused(["--reevaluate", "100", "--bus-url", "nats://127.0.0.1:4222"])
    assert "--bus-url goes with --events" in said


def test_an_unreachable_nats_server_is_refused_plainly() -> None:
    said = _refused(["--events", "5", "--bus-url", "nats://127.0.0.1:9"])
    assert "NATS at nats://127.0.0.1:9 could not be reached within 5 s" in said
    assert "ConnectionRefusedError" in said


def _listening(port: int, timeout: float = 10.0) -> None:
    """Wait until something listens on ``port`` of this machine."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_a_nats_server_without_jetstream_is_refused(tmp_path: Path) -> None:
    """A NATS server started without JetStream (``-js``): refused saying so."""
    server = shutil.which("nats-server") or "/usr/sbin/nats-server"
    if not Path(server).exists():
        pytest.skip("no nats-server on this machine to start without JetStream")
    port = free_port()
    started = subprocess.Popen(
        [server, "-a", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _listening(port)
        url = f"nats://127.0.0.1:{port}"
        said = _refused(["--events", "5", "--bus-url", url])
        assert f"the NATS server at {url} has no JetStream for this account" in said
        assert "start it with -js" in said
    finally:
        started.terminate()
        started.wait(timeout=10)
