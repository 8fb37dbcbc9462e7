"""``joinedup bench …``: each benchmark prints a table with ratios against its named reference
measured in the same run, or with ``--json`` the same figures as one JSON object."""

from __future__ import annotations

import typer

from joinedup.core.db import Database
from joinedup.core.settings import get_settings

app = typer.Typer(
    help="Benchmarks, each against a reference measured in the same run.", no_args_is_help=True
)

JSON = typer.Option(False, "--json", help="Print the figures as one JSON object.")


@app.command("log")
def bench_log(
    entries: int = typer.Option(200_000, "--entries", min=1000, help="Entries to append."),
    batch_size: int | None = typer.Option(None, "--batch-size", help="Entries per transaction."),
    as_json: bool = JSON,
) -> None:
    """Transparency-log appends/s on the configured database, against one-entry-per-commit."""
    from joinedup.core.translog.bench import run

    settings = get_settings()
    run(settings, entries=entries, batch_size=batch_size or settings.log_batch_size).emit(
        as_json=as_json
    )


@app.command("rules")
def bench_rules(
    persons: int = typer.Option(1_000_000, "--persons", min=100, help="Population size."),
    compare_openfisca: bool = typer.Option(
        False, "--compare-openfisca", help="Build and compute the same population in OpenFisca."
    ),
    seed: int = typer.Option(7, "--seed", help="Seed of the synthetic population."),
    as_json: bool = JSON,
) -> None:
    """Rules engine: build, evaluate, explain; against OpenFisca in the same run."""
    from joinedup.rules.bench import run

    run(persons=persons, compare_openfisca=compare_openfisca, seed=seed).emit(as_json=as_json)


@app.command("exchange")
def bench_exchange(
    persons: int = typer.Option(2_000, "--persons", min=100, help="Persons in the country."),
    connections: int = typer.Option(48, "--connections", min=1, help="Concurrent connections."),
    seconds: float = typer.Option(8.0, "--seconds", min=1.0, help="Seconds measured per path."),
    processes: int = typer.Option(2, "--processes", min=1, help="Platform server processes."),
    rounds: int = typer.Option(
        4, "--rounds", min=1, help="Alternating rounds the measured seconds are split into."
    ),
    as_json: bool = JSON,
) -> None:
    """One registry query called directly and through the full mediation path (loopback)."""
    from joinedup.demo.exchange_policy import demo_rights
    from joinedup.demo.exchange_setup import demo_client_credentials
    from joinedup.demo.seed import seed_country
    from joinedup.exchange import SubsystemRef
    from joinedup.exchange.bench import Caller, run

    seed = 11

    def seeder(database: Database) -> Caller:
        from joinedup.demo.agencies import organisation

        seed_country(database, persons=persons, seed=seed, progress=False)
        right = next(
            r
            for r in demo_rights()
            if r.service == "person" and not r.own_residents_only
            and r.law_enforcement_delay_days is None
        )  # fmt: skip
        org = organisation(right.client[0])
        client_id, secret = demo_client_credentials(seed, "/".join(right.client))
        subsystem = SubsystemRef(str(org.member_class), org.member_code, right.client[1])
        return Caller(str(subsystem), client_id, secret, right.purposes[0].purpose, right.fields)

    run(
        seeder=seeder,
        persons=persons,
        connections=connections,
        seconds=seconds,
        processes=processes,
        rounds=rounds,
    ).emit(as_json=as_json)


@app.command("proactive")
def bench_proactive(
    reevaluate: int | None = typer.Option(
        None,
        "--reevaluate",
        min=100,
        help="Re-evaluate this many persons after a change of the law (target: 1,000,000 in 60 s).",
    ),
    events: int | None = typer.Option(
        None, "--events", min=1, help="Register this many births (and deaths) over HTTP."
    ),
    seed: int = typer.Option(7, "--seed", help="Seed of the synthetic country."),
    connections: int = typer.Option(16, "--connections", min=1, help="Concurrent clients."),
    chunk_persons: int = typer.Option(50_000, "--chunk-persons", min=100, max=200_000),
    apart: bool = typer.Option(
        False,
        "--apart",
        help="With --events: run the workers in a process of their own (joinedup worker) "
        "beside the web process, as production does, instead of inside it.",
    ),
    worker_processes: int = typer.Option(
        1,
        "--worker-processes",
        min=1,
        max=4,
        help="With --events: this many worker processes beside the web process (implies "
        "--apart): the births consumer in one of its own (then Tell Us Once's, then the "
        "deaths'), the relay and the other consumers in another.",
    ),
    rate: float | None = typer.Option(
        None,
        "--rate",
        min=0.1,
        help="With --events: submit open-loop at this many events a second, each event's "
        "latency counted from when it was due (default: as fast as they are answered).",
    ),
    database_url: str | None = typer.Option(
        None,
        "--database-url",
        help="Run on this PostgreSQL server (the production path), in databases of the run's "
        "own that it drops at the end (its role needs CREATEDB), instead of SQLite files of "
        "its own.",
    ),
    bus_url: str | None = typer.Option(
        None,
        "--bus-url",
        help="With --events: run the platform's bus on this NATS JetStream server "
        "(nats://host:4222, the production path's bus), in streams of the run's own that it "
        "deletes at the end, instead of the in-process bus.",
    ),
    repeat: int = typer.Option(
        1,
        "--repeat",
        min=1,
        max=9,
        help="With --events: measure the platform this many times, each on a fresh copy of "
        "the seeded database, and show the run of the median rate with every run's rate and "
        "p99 (one run varies with the machine's pace).",
    ),
    as_json: bool = JSON,
) -> None:
    """Proactive services: life events through the entry point until their entitlements and
    letters are committed (--events), or a whole population re-evaluated (--reevaluate)."""
    if (reevaluate is None) == (events is None):
        raise typer.BadParameter("give --events N or --reevaluate N")
    if rate is not None and events is None:
        raise typer.BadParameter("--rate goes with --events")
    if bus_url is not None and events is None:
        raise typer.BadParameter("--bus-url goes with --events (a re-evaluation uses no bus)")
    if repeat != 1 and events is None:
        raise typer.BadParameter("--repeat goes with --events")
    from joinedup.demo.bench_buses import BenchBusRefused
    from joinedup.demo.bench_databases import BenchDatabaseRefused
    from joinedup.demo.bench_events import run as run_events
    from joinedup.demo.bench_reevaluation import run as run_reevaluation

    try:
        if reevaluate is not None:
            report = run_reevaluation(
                persons=reevaluate,
                seed=seed,
                chunk_persons=chunk_persons,
                database_url=database_url,
            )
        else:
            report = run_events(
                events=events or 0,
                connections=connections,
                seed=seed,
                apart=apart,
                processes=worker_processes,
                rate=rate,
                database_url=database_url,
                bus_url=bus_url,
                repeat=repeat,
            )
    except BenchDatabaseRefused as exc:
        raise typer.BadParameter(str(exc), param_hint="--database-url") from exc
    except BenchBusRefused as exc:
        raise typer.BadParameter(str(exc), param_hint="--bus-url") from exc
    report.emit(as_json=as_json)


@app.command("portal")
def bench_portal(
    users: int = typer.Option(50, "--users", min=1, help="Signed-in users (concurrent)."),
    persons: int = typer.Option(2_000, "--persons", min=100, help="Persons in the country."),
    seconds: float = typer.Option(4.0, "--seconds", min=0.5, help="Seconds measured per row."),
    processes: int = typer.Option(2, "--processes", min=1, help="Platform server processes."),
    as_json: bool = JSON,
) -> None:
    """The portal's main pages for signed-in users, against the static landing page."""
    from joinedup.web.bench import run

    run(persons=persons, users=users, seconds=seconds, processes=processes).emit(as_json=as_json)
