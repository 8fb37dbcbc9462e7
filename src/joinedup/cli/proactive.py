"""``joinedup proactive …``: the proactive services' entitlements and the daily age job."""

from __future__ import annotations

from datetime import date

import typer
from rich.console import Console
from rich.table import Table

from joinedup import proactive
from joinedup.cli.support import DATABASE_URL, run_in_transaction
from joinedup.core.clock import today
from joinedup.core.pagination import PageRequest

app = typer.Typer(help="Proactive services: entitlements granted, offered or told of.")


def _money(cents: int | None) -> str:
    return "" if cents is None else f"€{cents / 100:,.2f}"


@app.command("list")
def list_command(
    person: str = typer.Option(..., "--person", help="The person's personal code."),
    status: list[str] = typer.Option(
        [], "--status", help="Only these statuses (repeat): eligible, offered, granted, …"
    ),
    owner: str | None = typer.Option(None, "--owner", help="Only this agency's member code."),
    limit: int = typer.Option(50, min=1, max=500),
    database_url: str | None = DATABASE_URL,
) -> None:
    """A person's entitlements, newest first, with the reason for each."""
    page = run_in_transaction(
        database_url,
        lambda s: proactive.list_entitlements(
            s,
            person_code=person,
            status=status or None,
            owner_member_code=owner,
            page=PageRequest(limit=limit),
        ),
    )
    table = Table("service", "status", "amount", "from", "until", "reason")
    for item in page.items:
        table.add_row(
            item.service_code,
            item.status.value,
            _money(item.amount_cents),
            item.period_start.isoformat(),
            item.period_end.isoformat() if item.period_end else "",
            item.reason,
        )
    Console().print(table)


@app.command("announce-ages")
def announce_ages_command(
    on: str | None = typer.Option(None, "--on", help="The day (YYYY-MM-DD; default today)."),
    database_url: str | None = DATABASE_URL,
) -> None:
    """Run the daily job by hand: announce who turns 6, 18 or pension age on the day (the
    workers' consumers then react). Running it twice for a day announces twice."""
    from joinedup.proactive.handlers import announce_ages

    try:
        day = date.fromisoformat(on) if on else today()
    except ValueError:
        typer.echo("--on must be a date YYYY-MM-DD", err=True)
        raise typer.Exit(2) from None
    summary = run_in_transaction(database_url, lambda s: announce_ages(s, day))
    typer.echo(summary)
