"""``joinedup tell-us-once …``: the operator's view of Tell Us Once — overall status, a life
event's notifications, the dead-letter list and replays."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from joinedup import tellusonce
from joinedup.cli.support import DATABASE_URL, run_in_transaction
from joinedup.core.pagination import PageRequest

app = typer.Typer(help="Tell Us Once: agencies informed of life events, dead letters, replays.")
ACTOR = "cli:joinedup-tell-us-once"


@app.command("status")
def status_command(
    life_event: int | None = typer.Argument(
        None, help="A life event's id: its notifications (default: counts of everything)."
    ),
    database_url: str | None = DATABASE_URL,
) -> None:
    """Counts by state, or one life event's notifications agency by agency."""
    if life_event is None:
        counts = run_in_transaction(database_url, tellusonce.tell_us_once_status)
        table = Table("what", "count")
        for name, value in counts.model_dump().items():
            table.add_row(name.replace("_", " "), str(value))
        Console().print(table)
        return
    event = run_in_transaction(
        database_url, lambda s: tellusonce.life_event_status(s, life_event_id=life_event)
    )
    typer.echo(f"life event {event.id} ({event.kind}, {event.occurred_on}): {event.status}")
    table = Table("notification", "agency", "status", "attempts", "answer or last error")
    for item in event.notifications:
        answer = (item.outcome or {}).get("summary") if item.outcome else item.last_error
        table.add_row(str(item.id), item.member_name, item.status, str(item.attempts), answer or "")
    Console().print(table)


@app.command("dead-letters")
def dead_letters_command(
    limit: int = typer.Option(50, min=1, max=500),
    database_url: str | None = DATABASE_URL,
) -> None:
    """Notifications no agency acknowledged after the last attempt (no personal data)."""
    page = run_in_transaction(
        database_url, lambda s: tellusonce.list_dead_letters(s, page=PageRequest(limit=limit))
    )
    table = Table("notification", "life event", "agency", "service", "attempts", "last error")
    for item in page.items:
        table.add_row(
            str(item.id),
            str(item.life_event_id),
            item.member_name,
            item.service,
            str(item.attempts),
            item.last_error or "",
        )
    Console().print(table)
    if not page.items:
        typer.echo("no dead letters")


@app.command("replay")
def replay_command(
    notification: int = typer.Argument(..., help="The dead-lettered notification's id."),
    database_url: str | None = DATABASE_URL,
) -> None:
    """Queue a dead-lettered notification again (same message id; a worker delivers it)."""
    record = run_in_transaction(
        database_url,
        lambda s: tellusonce.replay_notification(s, notification_id=notification, actor=ACTOR),
    )
    typer.echo(f"notification {record.id} to {record.member_name} is queued again")
