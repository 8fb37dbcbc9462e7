"""``joinedup bench proactive --events N``: life events through the public civil-registration
entry point, measured until everything they cause is committed.

On a fresh seeded SQLite database in a temporary directory, the platform runs as the embedded
deployment does (``joinedup serve --with-workers``: web, outbox relay and every consumer in
one uvicorn process; with ``--apart``, a web process and a ``joinedup worker``; with
``--worker-processes N``, a web process and N workers, the busiest consumers each in a
process of their own: :mod:`joinedup.demo.bench_events_platform`. Events are submitted once
the workers hold every consumer's lease). Once the seed's own events are
relayed and handled (``settling_s``: how long that took), ``connections`` concurrent clients
register N events as the demo's registrar over HTTP (``POST /r1/…/population/record-birth``
and, one in ten, ``record-death``): each a distinct registration (its own reference and
parents), answered only once committed.
Then the benchmark waits until the platform is quiet (every event published and handled, and
Tell Us Once done informing the agencies of every death) and reads, for each life event, when
the last of its consequences was committed: the entitlement revisions and the letters of the
persons it concerns (the newborn and the parents; the deceased and their spouse) recorded
after it was submitted and, for a death, the completion of its Tell Us Once fan-out (every
agency informed, the letter to the next of kin sent). Its latency is that time minus
the time it was submitted (the registration's own answer when it caused nothing); the
sustained rate is N over the time from the first submission to the last commit.

The same latencies for births and deaths apart (``by_kind``): a death's includes its Tell Us
Once fan-out, a path of its own.

Beside it, the registrations' own answers in that run (submission to answer, while the
workers react to the events before them: what a registrar waits for on a busy platform).

The reference, measured in the same run: the same events against the entry point alone (the
same server without its workers, on a copy of the same database), submission to answer.

By default the clients submit as fast as they are answered (a closed loop: the rate is what
the platform sustains, and the latencies grow with N as the events queue behind it). With
``rate`` (``--rate R``) they submit open-loop at R events a second: event *i* is due at
*i*/R seconds from the start, and its latency counts from then, so an event that waited in
the client for a free connection counts that wait (no coordinated omission). Below the rate
the platform sustains, that gives the latency of an event on a platform that keeps up.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, text

from joinedup.core.benchmark import BenchReport, percentile
from joinedup.core.benchserver import (
    free_port,
    stop_platform,
)
from joinedup.core.clock import utcnow
from joinedup.core.db import Database
from joinedup.core.loadgen import build_request, read_response
from joinedup.core.sqlite import WriterHolders
from joinedup.demo.agencies import organisation
from joinedup.demo.bench_buses import BenchBus, bench_bus
from joinedup.demo.bench_databases import (
    BenchDatabases,
    bench_databases,
)
from joinedup.demo.bench_events_plan import DEATH_SHARE, Event, plan_events
from joinedup.demo.bench_events_platform import (
    busy_percent,
    cpu_per_event,
    cpu_seconds,
    describe_shape,
    machine_ticks,
    process_names,
    shape_of,
    start_platform_processes,
    worker_commands,
    writer_per_event,
)
from joinedup.demo.exchange_setup import demo_client_credentials
from joinedup.demo.seed import seed_country
from joinedup.migrations import upgrade

#: Longer than this between two requests, a client connects again (uvicorn closes a
#: keep-alive connection idle for 5 s: at a low ``rate`` each connection waits that long).
IDLE_CONNECTION_S = 2.0
TARGET_EVENTS_PER_S = 500.0
TARGET_P99_MS = 250.0
#: The most measured runs of one benchmark (`--repeat`).
MAX_REPEAT = 9
REGISTRAR = "population-register/civil-registration"


@dataclass
class Phase:
    events_per_s: float
    p50_ms: float
    p99_ms: float
    statuses: dict[int, int] = field(default_factory=dict)
    seconds: float = 0.0


async def _submit(
    port: int, token: str, events: list[Event], connections: int, rate: float | None = None
) -> None:
    """The registrar's calls, ``connections`` at a time on keep-alive connections, with the
    lean HTTP/1.1 client of the other benchmarks (:mod:`joinedup.core.loadgen`): httpx spent
    1.6–1.8 ms of processor time an event, on the cores the platform measured needed. With
    ``rate``: event *i* is sent at *i*/``rate`` seconds from the start (or as soon as a
    connection is free after that), and counts as submitted then."""
    population = organisation("population-register").member_code
    base = f"/r1/JOINEDUP/GOV/{population}/population"
    headers = [
        ("Authorization", f"Bearer {token}"),
        ("X-Road-Client", f"JOINEDUP/GOV/{population}/civil-registration"),
        ("X-Road-Purpose", "civil-registration"),
        ("Content-Type", "application/json"),
    ]
    host = f"127.0.0.1:{port}"
    queue: asyncio.Queue[tuple[int, Event]] = asyncio.Queue()
    for position, event in enumerate(events):
        queue.put_nowait((position, event))
    start = time.time()

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while not queue.empty():
                position, event = queue.get_nowait()
                due = None if rate is None else start + position / rate
                if due is not None and (wait := due - time.time()) > 0:
                    await asyncio.sleep(wait)
                    if wait > IDLE_CONNECTION_S:  # (the server closes a keep-alive it idles)
                        writer.close()
                        reader, writer = await asyncio.open_connection("127.0.0.1", port)
                service = "record-birth" if event.kind == "birth" else "record-death"
                request = build_request(
                    "POST",
                    f"{base}/{service}",
                    host=host,
                    headers=headers,
                    body=json.dumps(event.body).encode(),
                )
                event.submitted = time.time() if due is None else due
                writer.write(request)
                event.status, body = await read_response(reader)
                event.answered = time.time()
                if event.kind == "birth" and event.status == 201:
                    event.concerns.append(json.loads(body)["personalCode"])
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    await asyncio.gather(*(worker() for _ in range(connections)))


def _token(url: str, seed: int) -> str:
    from joinedup.exchange import issue_access_token

    database = Database(url)
    try:
        client_id, secret = demo_client_credentials(seed, REGISTRAR)
        with database.unit_of_work() as session:
            return issue_access_token(
                session, client_id=client_id, client_secret=secret
            ).access_token
    finally:
        database.dispose()


def _quiet(database: Database, timeout: float, bus: BenchBus, phase: str) -> bool:
    """Wait until every event is published, the consumers stop moving (or caught up: asked of
    ``bus``) and Tell Us Once has informed every agency of every death (its letter to the
    next of kin is sent then): the fan-out runs after the consumers, in the dispatcher."""
    deadline = time.monotonic() + timeout
    last: tuple[Any, ...] | None = None
    still_since = time.monotonic()
    while time.monotonic() < deadline:
        with database.reading() as session:
            unpublished = session.execute(
                text("SELECT count(*) FROM outbox_event WHERE published_at IS NULL")
            ).scalar()
            handled = session.execute(text("SELECT count(*) FROM inbox_event")).scalar()
            # due or being delivered (one waiting to retry an agency later is not waited for:
            # its death is reported as unfinished)
            informing, settled = session.execute(
                text(
                    "SELECT (SELECT count(*) FROM tellusonce_notification "
                    " WHERE status = 'pending' AND next_attempt_at <= :now), "
                    "(SELECT count(*) FROM tellusonce_notification WHERE status <> 'pending')"
                ),
                {"now": utcnow().strftime("%Y-%m-%d %H:%M:%S.%f")},
            ).one()
        caught_up, moving = bus.caught_up(phase, database)
        state = (unpublished, moving, handled, informing, settled)
        if unpublished == 0 and caught_up and informing == 0:
            return True
        if state != last:
            last, still_since = state, time.monotonic()
        elif unpublished == 0 and informing == 0 and time.monotonic() - still_since > 3.0:
            return True
        time.sleep(0.1)
    return False


def _unfinished(database: Database) -> int:
    """Deaths whose Tell Us Once fan-out had not finished (an agency still to be retried)."""
    with database.reading() as session:
        return int(
            session.execute(
                text("SELECT count(*) FROM tellusonce_life_event WHERE status = 'informing'")
            ).scalar_one()
        )


def _moment(value: Any) -> float:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _completions(database: Database, events: list[Event]) -> None:
    codes = sorted({code for event in events for code in event.concerns})
    times: dict[str, list[float]] = {}
    # a death is done when Tell Us Once has informed every agency and written to the next of
    # kin (whoever that is: the spouse, else the children), as its life event's completion
    query = text(
        "SELECT e.person_code, r.recorded_at FROM proactive_entitlement_revision r "
        "JOIN proactive_entitlement e ON e.id = r.entitlement_id WHERE e.person_code IN :codes "
        "UNION ALL SELECT recipient_code, sent_at FROM notify_letter "
        "WHERE recipient_code IN :codes "
        "UNION ALL SELECT subject_code, completed_at FROM tellusonce_life_event "
        "WHERE subject_code IN :codes AND completed_at IS NOT NULL"
    ).bindparams(bindparam("codes", expanding=True))
    with database.reading() as session:
        for start in range(0, len(codes), 500):
            rows = session.execute(query, {"codes": codes[start : start + 500]}).all()
            for code, moment in rows:
                times.setdefault(code, []).append(_moment(moment))
    for event in events:
        caused = [t for code in event.concerns for t in times.get(code, []) if t >= event.submitted]
        event.done = max([event.answered, *caused])


def _phase(events: list[Event], *, end_to_end: bool) -> Phase:
    ok = [e for e in events if e.status == 201]
    statuses: dict[int, int] = {}
    for event in events:
        statuses[event.status] = statuses.get(event.status, 0) + 1
    if not ok:
        return Phase(0.0, 0.0, 0.0, statuses)
    finish = [e.done if end_to_end else e.answered for e in ok]
    latencies = sorted((f - e.submitted) * 1000 for f, e in zip(finish, ok, strict=True))
    seconds = max(max(finish) - min(e.submitted for e in ok), 1e-9)
    return Phase(
        events_per_s=len(ok) / seconds,
        p50_ms=percentile(latencies, 50),
        p99_ms=percentile(latencies, 99),
        statuses=statuses,
        seconds=seconds,
    )


def _by_kind(events: list[Event]) -> dict[str, dict[str, float | int]]:
    """End-to-end latency of births and deaths apart (a death's counts its Tell Us Once
    fan-out): how many of each, p50 and p99."""
    found: dict[str, dict[str, float | int]] = {}
    for kind in ("birth", "death"):
        latencies = sorted(
            (e.done - e.submitted) * 1000 for e in events if e.kind == kind and e.status == 201
        )
        if latencies:
            found[kind] = {
                "events": len(latencies),
                "p50_ms": round(percentile(latencies, 50), 2),
                "p99_ms": round(percentile(latencies, 99), 2),
            }
    return found


def run(
    *,
    events: int,
    connections: int = 16,
    seed: int = 2026,
    persons: int | None = None,
    apart: bool = False,
    processes: int = 1,
    rate: float | None = None,
    database_url: str | None = None,
    bus_url: str | None = None,
    repeat: int = 1,
) -> BenchReport:
    """``processes``: worker processes beside the web process (``apart``; more than one
    implies it): see :func:`worker_commands`. ``rate``: submit open-loop at this many events
    a second (the module's docstring). ``database_url``: a PostgreSQL server to run on, in
    databases of the run's own (:mod:`joinedup.demo.bench_databases`), instead of SQLite
    files; a URL that cannot be used is :class:`BenchDatabaseRefused`. ``bus_url``: a NATS
    server to run the bus on, in streams of the run's own (:mod:`joinedup.demo.bench_buses`),
    instead of the in-process bus; one that cannot be used is :class:`BenchBusRefused`.
    ``repeat``: measure the platform this many times, each on a fresh copy of the seeded
    database (and a stream of its own), and report the run of the median rate with every
    run's rate and p99 beside it (``runs``): one run of the same code varies by more than
    most changes are worth on a shared machine."""
    apart = apart or processes > 1
    if not 1 <= repeat <= MAX_REPEAT:
        raise ValueError(f"repeat must be 1 to {MAX_REPEAT}")
    worker_commands(processes)  # (a bad number refused before anything is seeded)
    if rate is not None and not rate > 0:
        raise ValueError("rate must be a positive number of events a second")
    directory = Path(tempfile.mkdtemp(prefix="joinedup-bench-events-"))
    databases: BenchDatabases | None = None
    bus: BenchBus | None = None
    try:
        databases = bench_databases(directory, database_url)
        bus = bench_bus(bus_url)
        kind = databases.kind
        url = databases.seeded_url
        upgrade(url)
        database = Database(url)
        seed_country(database, persons=persons or max(600, 8 * events), seed=seed, progress=False)
        plan = plan_events(database, events)
        database.dispose()
        alone: Phase | None = None  # the reference: the entry point alone
        #: each measured run: (end to end, answers while working, its own figures)
        measured: list[tuple[Phase, Phase, dict[str, Any]]] = []
        names = ["end_to_end"] + [f"end_to_end_{n}" for n in range(2, repeat + 1)]
        for name, workers in [("reference", False), *((n, True) for n in names)]:
            figures: dict[str, Any] = {}  # (this run's: the median run's are reported)
            phase_url = databases.copy(name)
            db_file = databases.file_of(name)
            token = _token(phase_url, seed)
            run_events = [Event(e.kind, dict(e.body), list(e.concerns)) for e in plan]
            port = free_port()
            servers = start_platform_processes(
                directory, phase_url, port, workers=workers, apart=apart, processes=processes,
                bus=bus, phase=name,
            )  # fmt: skip
            try:
                if workers:  # the seed's own events relayed and handled first: not measured
                    started = time.monotonic()
                    settled = Database(phase_url)
                    try:
                        figures["settled_before"] = _quiet(settled, 120.0, bus, name)
                    finally:
                        settled.dispose()
                    figures["settling_s"] = round(time.monotonic() - started, 1)
                cpu_before = [cpu_seconds(server.pid) for server in servers]
                machine_before = machine_ticks()
                servers_cpu = {
                    databases.server_name: databases.server_cpu_seconds,
                    bus.server_name: bus.server_cpu_seconds,
                }
                server_before = {label: used() for label, used in servers_cpu.items()}
                holders = (
                    WriterHolders(db_file, interval=0.004).start()
                    if workers and db_file is not None
                    else None
                )
                client_cpu = time.process_time()
                asyncio.run(_submit(port, token, run_events, connections, rate))
                client_cpu = time.process_time() - client_cpu
                if workers:
                    phase_db = Database(phase_url)
                    try:
                        quiet = _quiet(phase_db, max(120.0, events * 0.5), bus, name)
                        cpu_after = [cpu_seconds(server.pid) for server in servers]
                        figures["cores_busy_percent"] = busy_percent(
                            machine_before, machine_ticks()
                        )
                        server_after = {label: used() for label, used in servers_cpu.items()}
                        if holders is not None:
                            figures["writer_ms_per_event"] = writer_per_event(
                                holders.stop(),
                                process_names(workers=True, apart=apart, processes=processes),
                                [server.pid for server in servers],
                                events,
                            )
                        _completions(phase_db, run_events)
                        figures["deaths_unfinished"] = _unfinished(phase_db)
                    finally:
                        phase_db.dispose()
                    figures["quiet"] = quiet
                    figures["cpu_ms_per_event"] = cpu_per_event(
                        process_names(workers=True, apart=apart, processes=processes),
                        cpu_before, cpu_after, client_cpu, events,
                    )  # fmt: skip
                    for label, before in server_before.items():
                        after = server_after.get(label)
                        if before is not None and after is not None:
                            figures["cpu_ms_per_event"][label] = round(
                                1000 * (after - before) / events, 2
                            )
            finally:
                for server in servers:
                    stop_platform(server)
            if workers:  # with the registrations' own answers while the workers ran
                figures["by_kind"] = _by_kind(run_events)
                measured.append(
                    (
                        _phase(run_events, end_to_end=True),
                        _phase(run_events, end_to_end=False),
                        figures,
                    )
                )
            else:
                alone = _phase(run_events, end_to_end=False)
    finally:
        try:
            if bus is not None:
                bus.close()
        finally:
            try:
                if databases is not None:
                    databases.close()
            finally:
                shutil.rmtree(directory, ignore_errors=True)
    by_rate = sorted(measured, key=lambda run: run[0].events_per_s)
    full, answers, figures = by_rate[len(by_rate) // 2]  # (of two, the faster)
    assert alone is not None  # (measured first)
    if repeat > 1:
        figures["runs"] = [
            {
                "events_per_s": round(run.events_per_s, 1),
                "p50_ms": round(run.p50_ms, 2),
                "p99_ms": round(run.p99_ms, 2),
            }
            for run, _, _ in measured
        ]
    figures.update(
        {
            "events_per_s": round(full.events_per_s, 1),
            "p50_ms": round(full.p50_ms, 2),
            "p99_ms": round(full.p99_ms, 2),
            "events": events,
            "connections": connections,
            "offered_per_s": rate,
            "shape": shape_of(apart, processes),
            "database": kind,
            "bus": bus.kind,
            "statuses": {str(k): v for k, v in full.statuses.items()},
            "answers_while_working": {
                "events_per_s": round(answers.events_per_s, 1),
                "p50_ms": round(answers.p50_ms, 2),
                "p99_ms": round(answers.p99_ms, 2),
            },
            "reference": {
                "events_per_s": round(alone.events_per_s, 1),
                "p50_ms": round(alone.p50_ms, 2),
                "p99_ms": round(alone.p99_ms, 2),
            },
            "load_average": round(os.getloadavg()[0], 2),
        }
    )
    rows: list[Any] = [
        ["figure", "end to end", "entry point while working", "entry point alone", "target",
         "end to end / target"],
        ["events/s", full.events_per_s, answers.events_per_s, alone.events_per_s,
         TARGET_EVENTS_PER_S, f"{full.events_per_s / TARGET_EVENTS_PER_S:.2f}×"],
        ["p50 ms", full.p50_ms, answers.p50_ms, alone.p50_ms, "—", "—"],
        ["p99 ms", full.p99_ms, answers.p99_ms, alone.p99_ms, TARGET_P99_MS,
         f"{full.p99_ms / TARGET_P99_MS:.2f}×"],
    ]  # fmt: skip
    met = full.events_per_s >= TARGET_EVENTS_PER_S and full.p99_ms <= TARGET_P99_MS
    notes = (
        []
        if figures.get("quiet")
        else [
            "WARNING: the platform was still working when the wait ended: latencies of the events "
            "it had not reached count only their registration (figures too good)."
        ]
    )
    if figures.get("deaths_unfinished"):
        notes.append(
            f"WARNING: {figures['deaths_unfinished']} deaths' Tell Us Once fan-outs were still "
            "waiting to retry an agency when the benchmark ended: their latencies count only "
            "what was done (figures too good)."
        )
    kinds = figures.get("by_kind") or {}
    if kinds:
        notes.append(
            "End to end by kind: "
            + "; ".join(
                f"{kind}s ({k['events']:,}) p50 {k['p50_ms']:,.0f} ms, p99 {k['p99_ms']:,.0f} ms"
                for kind, k in kinds.items()
            )
            + " (a death's until its Tell Us Once fan-out and letter are done)."
        )
    cpu = figures.get("cpu_ms_per_event") or {}
    if cpu:
        total = sum(cpu.values())
        cores = os.cpu_count() or 1
        notes.append(
            "Processor time per event while measured: "
            + ", ".join(f"{name} {ms:.1f} ms" for name, ms in cpu.items())
            + f"; {total:.1f} ms in all, so {cores} cores busy with nothing else would handle "
            f"at most {cores * 1000 / total:.0f} events/s."
        )
    busy = figures.get("cores_busy_percent")
    if busy is not None:
        notes.append(
            f"The machine's {os.cpu_count()} processors were {busy:.0f} % busy while measured "
            "(everything running on it)."
        )
    writer = figures.get("writer_ms_per_event") or {}
    if writer:
        held = sum(writer.values())
        notes.append(
            "SQLite's writers' turn (one writer at a time) held per event: "
            + ", ".join(f"{name} {ms:.1f} ms" for name, ms in writer.items() if ms)
            + f"; {held:.1f} ms in all, so one writer at a time would allow at most "
            f"{1000 / held:.0f} events/s with turns as long (a turn's time includes its "
            "holder's waits for a processor)."
            if held
            else "SQLite's writers' turn: never found held (sampled)."
        )
    if repeat > 1:
        notes.append(
            f"{repeat} runs, each on a fresh copy of the seeded database: "
            + ", ".join(
                f"{run.events_per_s:.0f} events/s (p99 {run.p99_ms:,.0f} ms)"
                for run, _, _ in measured
            )
            + "; the run of the median rate is the one shown."
        )
    offered = (
        f"offered open-loop at {rate:g} events/s" if rate is not None else "as fast as answered"
    )
    notes += [
        f"{events:,} life events ({events // DEATH_SHARE:,} deaths), {offered}, "
        f"{connections} connections, "
        f"{describe_shape(apart, processes)} on {kind} and the {bus.kind} bus; "
        f"answers {full.statuses}.",
        f"Targets (≥ {TARGET_EVENTS_PER_S:.0f} events/s, p99 ≤ {TARGET_P99_MS:.0f} ms"
        f"{'' if kind == 'SQLite' else ', set for SQLite'}): "
        f"{'met' if met else 'MISSED'}. Load average {os.getloadavg()[0]:.2f} on "
        f"{os.cpu_count()} CPUs.",
    ]
    return BenchReport("Life events to entitlements and letters", figures, rows, notes)
