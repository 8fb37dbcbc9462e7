"""``joinedup log …``: verify the transparency log offline, show its tree head, prove entries."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from sqlalchemy.exc import DBAPIError

from joinedup.core.db import Database
from joinedup.core.errors import DomainError
from joinedup.core.keys import UnusableKey, VerifyingKey, configured_log_verifying_key
from joinedup.core.settings import Settings, get_settings

app = typer.Typer(help="The transparency log: verify, tree head, proofs.", no_args_is_help=True)
err = Console(stderr=True)

DATABASE_URL = typer.Option(
    None, "--database-url", help="SQLAlchemy URL of the database (default: JOINEDUP_DATABASE_URL)."
)


def _settings() -> Settings:
    try:
        return get_settings()
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        err.print(f"[red]Configuration error:[/red] {exc}")
        raise typer.Exit(2) from exc


def _url(database_url: str | None) -> str:
    """The database to read; a SQLite file must exist (opening it would create an empty one)."""
    url = database_url or _settings().resolved_database_url
    if url.startswith("sqlite") and "///" in url:
        path = Path(url.split("///", 1)[1])
        if str(path) != ":memory:" and not path.exists():
            err.print(f"[red]No database at {path}[/red]: check --database-url.")
            raise typer.Exit(2)
    return url


def _print_json(document: Any) -> None:
    typer.echo(json.dumps(document, indent=2))


def _trusted_keys(paths: list[Path]) -> list[VerifyingKey]:
    if paths:
        keys = []
        for path in paths:
            try:
                keys.append(VerifyingKey.from_pem(path.read_bytes()))
            except (OSError, UnusableKey) as exc:
                err.print(f"[red]Cannot use the public key {path}:[/red] {exc}")
                raise typer.Exit(2) from exc
        return keys
    try:
        key = configured_log_verifying_key(_settings())
    except UnusableKey as exc:
        err.print(f"[red]The configured log signing key cannot be used:[/red] {exc}")
        raise typer.Exit(2) from exc
    if key is None:
        err.print(
            "No public key to check the tree heads' signatures with: pass --public-key FILE "
            "(the PEM served at /api/v1/log/public-key)."
        )
        raise typer.Exit(2)
    return [key]


@app.command()
def verify(
    database_url: str | None = DATABASE_URL,
    public_key: list[Path] = typer.Option(
        [],
        "--public-key",
        help="Trusted public key (PEM) of the log; repeat for rotated keys. "
        "Default: the configured log key.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the report as one JSON object."),
) -> None:
    """Recompute every hash and check every signed tree head; name anything altered.

    Also checks the exchange's message-log and data-usage rows, the consent register's
    revisions and the mailbox's letters and read receipts against their log entries (a
    rewritten or deleted record is named). Exit status 0 when everything is intact, 1 with one
    line per finding when it is not.
    """
    from joinedup.consent.verification import verify_consent_revisions
    from joinedup.core.translog.verify import verify_log
    from joinedup.exchange.verification import verify_exchange_records
    from joinedup.notify.verification import verify_letters

    url = _url(database_url)
    keys = _trusted_keys(public_key)
    try:
        report = verify_log(url, keys=keys)
        records, record_findings = verify_exchange_records(url)
        revisions, revision_findings = verify_consent_revisions(url)
        letters, letter_findings = verify_letters(url)
    except DBAPIError as exc:
        err.print(f"[red]Cannot read the transparency log:[/red] {exc.orig}")
        err.print("Is this a joinedup database, migrated with `joinedup migrate`?")
        raise typer.Exit(2) from exc
    findings = [*report.findings, *record_findings, *revision_findings, *letter_findings]
    intact = not findings
    if as_json:
        _print_json(
            {
                "intact": intact,
                "exchange_records": records,
                "consent_revisions": revisions,
                "letters": letters,
                "entries": report.entries,
                "tree_heads": report.tree_heads,
                "tree_size": report.latest.tree_size if report.latest else 0,
                "root_hash": report.latest.root_hash.hex() if report.latest else None,
                "seconds": round(report.seconds, 3),
                "findings": [
                    {"sort": f.sort, "message": f.message, "entries": list(f.entries)}
                    for f in findings
                ],
            }
        )
    else:
        for finding in findings:
            typer.echo(finding.message)
        typer.echo(report.summary())
        if records or record_findings:
            state = (
                f"NOT intact: {len(record_findings)} finding(s)" if record_findings else "intact"
            )
            typer.echo(f"exchange records {state}: {records:,} message-log and data-usage records")
        if revisions or revision_findings:
            found = len(revision_findings)
            state = f"NOT intact: {found} finding(s)" if found else "intact"
            typer.echo(f"consent register {state}: {revisions:,} consent revisions")
        if letters or letter_findings:
            state = (
                f"NOT intact: {len(letter_findings)} finding(s)" if letter_findings else "intact"
            )
            typer.echo(f"mailbox {state}: {letters:,} letters and their read receipts")
    raise typer.Exit(0 if intact else 1)


def _with_session(database_url: str | None, action: Any) -> Any:
    database = Database(_url(database_url))
    try:
        with database.reading() as session:
            return action(session)
    except DomainError as exc:
        err.print(f"[red]{exc.detail}[/red]")
        raise typer.Exit(1) from exc
    except DBAPIError as exc:
        err.print(f"[red]Cannot read the transparency log:[/red] {exc.orig}")
        raise typer.Exit(2) from exc
    finally:
        database.dispose()


@app.command()
def head(database_url: str | None = DATABASE_URL) -> None:
    """The latest signed tree head, as JSON."""
    from joinedup.core.translog.schemas import TreeHeadOut
    from joinedup.core.translog.service import tree_head_at

    document = _with_session(
        database_url, lambda session: TreeHeadOut.of(tree_head_at(session)).model_dump()
    )
    _print_json(document)


@app.command()
def prove(
    index: int = typer.Option(..., "--index", help="Index of the entry (0-based)."),
    tree_size: int | None = typer.Option(
        None, "--tree-size", help="Size of a signed tree head (default: the latest)."
    ),
    database_url: str | None = DATABASE_URL,
) -> None:
    """The inclusion proof of one entry in a signed tree head, as JSON."""
    from joinedup.core.translog.schemas import InclusionProofOut
    from joinedup.core.translog.service import inclusion_proof

    document = _with_session(
        database_url,
        lambda session: InclusionProofOut.of(
            inclusion_proof(session, index=index, tree_size=tree_size)
        ).model_dump(),
    )
    _print_json(document)


@app.command()
def consistency(
    first: int = typer.Option(..., "--first", help="Size of the older signed tree head."),
    second: int | None = typer.Option(
        None, "--second", help="Size of the newer signed tree head (default: the latest)."
    ),
    database_url: str | None = DATABASE_URL,
) -> None:
    """The consistency proof between two signed tree heads, as JSON."""
    from joinedup.core.translog.schemas import ConsistencyProofOut
    from joinedup.core.translog.service import consistency_proof

    document = _with_session(
        database_url,
        lambda session: ConsistencyProofOut.of(
            consistency_proof(session, first=first, second=second)
        ).model_dump(),
    )
    _print_json(document)


@app.command()
def export(
    out: Path = typer.Option(..., "--out", help="File to write (JSON Lines)."),
    database_url: str | None = DATABASE_URL,
) -> None:
    """Write every entry and signed tree head as JSON Lines, for archiving or outside audit.

    One object per line: ``{"entry": {index, kind, leaf_input}}`` (leaf_input in base64) in
    index order, then ``{"tree_head": {...}}`` in size order, as the API shows them.
    """
    from joinedup.core.translog.export import write_export

    count = write_export(_url(database_url), out)
    err.print(f"Wrote {count.entries:,} entries and {count.tree_heads:,} tree heads to {out}.")
