"""What the commands that change the database share: one transaction per command, and a
refusal printed as what to fix with exit status 2."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import typer
from rich.console import Console
from sqlalchemy.orm import Session

from joinedup.core.db import Database
from joinedup.core.errors import DomainError
from joinedup.core.settings import get_settings

T = TypeVar("T")
console = Console(stderr=True)

DATABASE_URL = typer.Option(
    None, "--database-url", help="Database to change (default: JOINEDUP_DATABASE_URL)."
)


def run_in_transaction(database_url: str | None, action: Callable[[Session], T]) -> T:
    """Run ``action`` in one transaction; a refusal prints what to fix and exits 2."""
    database = Database(database_url or get_settings().resolved_database_url)
    try:
        with database.unit_of_work() as session:
            return action(session)
    except DomainError as exc:
        console.print(f"[red]Refused:[/red] {exc.detail}")
        raise typer.Exit(2) from exc
    finally:
        database.dispose()
