"""``joinedup proactive publish-law`` and ``joinedup proactive reevaluate``: publish a
parameter version effective from a date, and re-evaluate the whole population under it (with
a progress bar; ``--resume`` continues a run that stopped where it stopped)."""

from __future__ import annotations

import json
import uuid
from datetime import date

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from joinedup.cli.support import DATABASE_URL, console, run_in_transaction
from joinedup.core.db import Database
from joinedup.core.errors import DomainError
from joinedup.core.settings import get_settings


def _uid(text: str, option: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        console.print(f"[red]Refused:[/red] {option} must be a UUID")
        raise typer.Exit(2) from None


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        console.print("[red]Refused:[/red] --effective-from must be a date YYYY-MM-DD")
        raise typer.Exit(2) from None


def register(app: typer.Typer) -> None:
    @app.command("publish-law")
    def publish_law(
        changes: list[str] = typer.Option(
            ..., "--change", help="A parameter change path=value (repeat for several)."
        ),
        effective_from: str = typer.Option(..., "--effective-from", help="YYYY-MM-DD"),
        citation: str = typer.Option(..., "--citation", help="The statute that changed it."),
        owner: str = typer.Option(..., "--owner", help="CLASS/CODE of the publishing agency."),
        ruleset: str = typer.Option("demo", "--ruleset"),
        database_url: str | None = DATABASE_URL,
    ) -> None:
        """Publish a parameter version of a ruleset, in force from a date."""
        from joinedup.proactive.reevaluation import publish_law_version

        day = _day(effective_from)
        record = run_in_transaction(
            database_url,
            lambda session: publish_law_version(
                session,
                ruleset=ruleset,
                changes=changes,
                effective_from=day,
                citation=citation,
                owner=owner,
                actor="cli",
            ),
        )
        typer.echo(
            json.dumps(
                {
                    "lawVersion": str(record.uid),
                    "version": record.version,
                    "effectiveFrom": record.effective_from.isoformat(),
                    "changes": list(record.changes),
                }
            )
        )

    @app.command("reevaluate")
    def reevaluate(
        law_version: str | None = typer.Option(
            None, "--law-version", help="The published law version to re-evaluate under."
        ),
        services: str | None = typer.Option(
            None, "--services", help="Catalogued service codes, comma-separated."
        ),
        resume: str | None = typer.Option(
            None, "--resume", help="Resume this re-evaluation where it stopped."
        ),
        chunk_persons: int = typer.Option(50_000, "--chunk-persons", min=1_000, max=200_000),
        as_json: bool = typer.Option(False, "--json", help="Print the outcome as JSON."),
        database_url: str | None = DATABASE_URL,
    ) -> None:
        """Re-evaluate every person under a law version (or resume a run), with a progress
        bar: only changed entitlements are stored and only those affected get a letter."""
        from joinedup.proactive.reevaluation import (
            get_reevaluation,
            run_reevaluation,
            start_reevaluation,
        )
        from joinedup.proactive.reevaluation.services import catalogued_specs

        if (resume is None) == (law_version is None):
            console.print("[red]Refused:[/red] give --law-version (with --services) or --resume")
            raise typer.Exit(2)
        if resume is not None:
            uid = _uid(resume, "--resume")
            progress = run_in_transaction(
                database_url, lambda session: get_reevaluation(session, uid=uid)
            )
        else:
            codes = [c.strip() for c in (services or "").split(",") if c.strip()]
            if not codes:
                console.print("[red]Refused:[/red] --services names at least one service")
                raise typer.Exit(2)
            law = _uid(law_version or "", "--law-version")
            progress = run_in_transaction(
                database_url,
                lambda session: start_reevaluation(
                    session,
                    law_version=law,
                    services=catalogued_specs(session, codes=codes),
                    actor="cli",
                    chunk_persons=chunk_persons,
                ),
            )
        database = Database(database_url or get_settings().resolved_database_url)
        columns = (
            TextColumn("Re-evaluating"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("chunks · {task.fields[changes]:,} changes"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        )
        try:
            with Progress(*columns, console=Console(stderr=True)) as bar:
                task = bar.add_task(
                    "run",
                    total=progress.chunks_total,
                    completed=progress.chunks_done,
                    changes=progress.changes,
                )
                final = run_reevaluation(
                    database,
                    uid=progress.uid,
                    on_chunk=lambda p, _: bar.update(
                        task, completed=p.chunks_done, changes=p.changes
                    ),
                )
        except DomainError as exc:
            console.print(f"[red]Refused:[/red] {exc.detail}")
            raise typer.Exit(2) from exc
        finally:
            database.dispose()
        outcome = {
            "reevaluation": str(final.uid),
            "status": final.status,
            "persons": final.persons_done,
            "changes": final.changes,
            "letters": final.letters,
        }
        if as_json:
            typer.echo(json.dumps(outcome))
        else:
            typer.echo(
                f"{final.status}: {final.persons_done:,} persons re-evaluated, "
                f"{final.changes:,} entitlements changed, {final.letters:,} letters sent "
                f"(re-evaluation {final.uid})"
            )
