"""``joinedup bench …``: each benchmark prints a table with ratios against its named reference
measured in the same run, or with ``--json`` the same figures as one JSON object."""

from __future__ import annotations

import typer

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
