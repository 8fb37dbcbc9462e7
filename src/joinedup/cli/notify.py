"""``joinedup notify …``: the digital mailbox's operations — the print run of paper letters."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from joinedup import notify
from joinedup.cli.support import DATABASE_URL, run_in_transaction
from joinedup.core.pagination import PageRequest
from joinedup.core.settings import get_settings

app = typer.Typer(help="The digital mailbox: paper letters for persons exempt from digital post.")
ACTOR = "cli:joinedup-notify"


def _mailbox_subsystem(option: str | None) -> str:
    if option:
        return option
    configured = get_settings().mailbox_subsystem
    if configured:
        return configured
    from joinedup.demo.agencies import organisation

    office = organisation("digital-office")
    return f"{office.member_class}/{office.member_code}/mailbox"


@app.command("print-run")
def print_run_command(
    limit: int = typer.Option(200, min=1, max=10_000, help="Letters to print in this run."),
    subsystem: str | None = typer.Option(
        None,
        "--as",
        help="CLASS/MEMBER/SUBSYSTEM reading postal addresses (default: "
        "JOINEDUP_MAILBOX_SUBSYSTEM, else the demo's Central Digital Office mailbox).",
    ),
    database_url: str | None = DATABASE_URL,
) -> None:
    """Print and post queued paper letters (addresses read through the exchange)."""
    client = _mailbox_subsystem(subsystem)
    provider = notify.print_provider(get_settings())
    run = run_in_transaction(
        database_url,
        lambda s: notify.print_run(s, client=client, provider=provider, limit=limit, actor=ACTOR),
    )
    typer.echo(
        f"posted {run.posted}, undeliverable {run.undeliverable}, failed {run.failed}"
        + ("; more are queued" if run.remaining else "")
    )
    if run.failed:
        raise typer.Exit(1)


@app.command("paper-queue")
def paper_queue_command(
    status: str | None = typer.Option(
        None, help="Only letters in this state: queued, posted or undeliverable."
    ),
    limit: int = typer.Option(50, min=1, max=500),
    database_url: str | None = DATABASE_URL,
) -> None:
    """Paper letters and where they are (no contents, no recipients)."""
    page = run_in_transaction(
        database_url,
        lambda s: notify.paper_queue(s, request=PageRequest(limit=limit), status=status),
    )
    table = Table("letter", "status", "queued", "posted", "reference or problem")
    for item in page.items:
        table.add_row(
            str(item.message_id),
            item.status,
            item.queued_at.isoformat(timespec="seconds"),
            item.posted_at.isoformat(timespec="seconds") if item.posted_at else "",
            item.print_reference or item.problem or "",
        )
    Console().print(table)
