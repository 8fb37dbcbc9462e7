"""``joinedup rules …``: rules as code from the command line — evaluate a population from
Parquet files, and what-if a reform.

Bad input (a missing column, a wrong type, an unknown variable or ruleset, a person in no
household, a bad period) prints one clear message on stderr, exits with code 2 and writes
nothing.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from joinedup.core.errors import DomainError

app = typer.Typer(help="Rules as code.", no_args_is_help=True)
BAD_INPUT = 2


def _refuse(exc: DomainError) -> typer.Exit:
    typer.echo(f"error: {exc.detail}", err=True)
    return typer.Exit(BAD_INPUT)


@app.command("evaluate")
def evaluate(
    ruleset: str = typer.Option(..., "--ruleset", help="Ruleset name, e.g. country_template."),
    period: str = typer.Option(..., "--period", help="The month, YYYY-MM."),
    persons: Path = typer.Option(
        ..., "--persons", help="person_id, household_id, household_role, inputs…"
    ),
    households: Path = typer.Option(..., "--households", help="household_id, inputs…"),
    variables: str = typer.Option(..., "--variables", help="Comma-separated variable names."),
    out: Path = typer.Option(..., "--out", help="Directory for person.parquet, household.parquet."),
) -> None:
    """Compute variables for every person and household of two Parquet files."""
    from joinedup.rules.io import evaluate_files

    try:
        report = evaluate_files(
            ruleset_name=ruleset,
            period=period,
            persons=persons,
            households=households,
            variables=variables,
            out=out,
        )
    except DomainError as exc:
        raise _refuse(exc) from None
    typer.echo(
        f"{report.persons:,} persons, {report.households:,} households: "
        f"{', '.join(report.variables)} → {report.out}/person.parquet, household.parquet"
    )
    if report.defaulted_inputs:
        typer.echo(
            "inputs not given, their defaults were used: " + ", ".join(report.defaulted_inputs),
            err=True,
        )


@app.command("whatif")
def whatif(
    ruleset: str = typer.Option("country_template", "--ruleset", help="Ruleset name."),
    period: str = typer.Option(..., "--period", help="The month, YYYY-MM."),
    change: list[str] = typer.Option(
        ...,
        "--set",
        help="A parameter change, path=value[@YYYY-MM-DD] or path[i].rate=value; repeatable.",
    ),
    persons: Path | None = typer.Option(None, "--persons", help="Population file (Parquet)."),
    households: Path | None = typer.Option(None, "--households", help="Households (Parquet)."),
    synthetic: int = typer.Option(
        100_000, "--synthetic", min=10, help="Without files: a synthetic population this size."
    ),
    seed: int = typer.Option(7, "--seed", help="Seed of the synthetic population."),
    target: str = typer.Option("disposable_income", "--target", help="Money variable compared."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """A reform's total cost, and winners and losers by income decile."""
    import json

    from joinedup.rules.io import parse_period, read_population
    from joinedup.rules.reform import ParameterChange, apply_reform, what_if
    from joinedup.rules.registry import get_ruleset
    from joinedup.rules.synthetic import generate, input_months, to_population

    try:
        baseline = get_ruleset(ruleset)
        month = parse_period(period)
        reform = apply_reform(baseline, [ParameterChange.parse(c) for c in change])
        if (persons is None) != (households is None):
            raise DomainError("Give both --persons and --households, or neither.")
        if persons is not None and households is not None:
            population, _ = read_population(
                baseline, persons_path=persons, households_path=households
            )
        elif ruleset == "country_template":
            population = to_population(
                baseline, generate(synthetic, seed=seed), input_months([month])
            )
        else:
            raise DomainError("Synthetic populations exist for country_template only.")
        report = what_if(
            baseline=baseline, reform=reform, population=population, period=month, target=target
        )
    except DomainError as exc:
        raise _refuse(exc) from None
    if as_json:
        typer.echo(json.dumps(report.as_dict(), indent=2))
        return
    console = Console()
    table = Table(
        title=f"What if {report.reform} — {report.target}, {report.period}", title_justify="left"
    )
    for header in (
        "decile",
        report.entity + "s",
        "mean income €",
        "winners",
        "losers",
        "mean change €",
        "total change €",
    ):
        table.add_column(header, justify="right")
    for d in report.deciles:
        table.add_row(
            str(d.decile),
            f"{d.entities:,}",
            f"{d.mean_income:,}",
            f"{d.winners:,}",
            f"{d.losers:,}",
            f"{d.mean_change:,}",
            f"{d.total_change:,}",
        )
    console.print(table)
    cost = report.net_cost
    shown = f"€{cost:,}" if cost >= 0 else f"−€{-cost:,} (a saving)"
    console.print(
        f"Net cost for the period: {shown}; {report.winners:,} winners and "
        f"{report.losers:,} losers among {report.entities:,} {report.entity}s"
    )
