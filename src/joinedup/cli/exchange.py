"""``joinedup exchange …``: bootstrap a production exchange from the command line.

A new federation needs its first member, subsystem, administrator and API client before any
administrator token exists to call the admin API with; these commands do exactly that, through
the same use cases as the API, each in one transaction.
"""

from __future__ import annotations

import typer

from joinedup.cli.support import DATABASE_URL, run_in_transaction
from joinedup.core.errors import DomainError
from joinedup.core.settings import get_settings
from joinedup.exchange import (
    SubsystemRef,
    appoint_administrator,
    register_api_client,
    register_member,
    register_subsystem,
    revoke_api_client,
)

app = typer.Typer(help="Bootstrap the exchange: members, subsystems, administrators, clients.")
ACTOR = "cli:joinedup-exchange"


def _subsystem(text: str) -> SubsystemRef:
    try:
        return SubsystemRef.parse(text, instance=get_settings().xroad_instance)
    except DomainError as exc:
        raise typer.BadParameter(exc.detail) from exc


@app.command("register-member")
def register_member_command(
    member_class: str = typer.Argument(..., help="GOV, COM or NGO."),
    member_code: str = typer.Argument(..., help="The member's registration code."),
    name: str = typer.Option(..., "--name", help="The organisation's name."),
    level: str = typer.Option("national", "--level", help="national, regional or local."),
    database_url: str | None = DATABASE_URL,
) -> None:
    """Add an organisation to the member directory."""
    record = run_in_transaction(
        database_url,
        lambda s: register_member(
            s,
            member_class=member_class,
            member_code=member_code,
            name=name,
            level=level,
            actor=ACTOR,
        ),
    )
    typer.echo(f"member {record.member_class}/{record.member_code} registered")


@app.command("register-subsystem")
def register_subsystem_command(
    subsystem: str = typer.Argument(..., help="CLASS/MEMBER/SUBSYSTEM"),
    name: str = typer.Option(..., "--name", help="What the system is."),
    database_url: str | None = DATABASE_URL,
) -> None:
    """Register an information system of a member."""
    ref = _subsystem(subsystem)
    run_in_transaction(
        database_url,
        lambda s: register_subsystem(
            s,
            member_class=ref.member_class,
            member_code=ref.member_code,
            subsystem_code=ref.subsystem_code,
            name=name,
            actor=ACTOR,
        ),
    )
    typer.echo(f"subsystem {ref} registered")


@app.command("appoint-admin")
def appoint_admin_command(
    subsystem: str = typer.Argument(..., help="CLASS/MEMBER/SUBSYSTEM"),
    database_url: str | None = DATABASE_URL,
) -> None:
    """Let the API clients of a subsystem administer the exchange (idempotent)."""
    ref = _subsystem(subsystem)
    run_in_transaction(database_url, lambda s: appoint_administrator(s, subsystem=ref, actor=ACTOR))
    typer.echo(f"{ref} administers the exchange")


@app.command("create-client")
def create_client_command(
    subsystem: str = typer.Argument(..., help="CLASS/MEMBER/SUBSYSTEM the client acts as."),
    name: str = typer.Option(..., "--name", help="Which system uses these credentials."),
    database_url: str | None = DATABASE_URL,
) -> None:
    """Create OAuth client credentials for a subsystem. The secret is shown only here."""
    ref = _subsystem(subsystem)
    created = run_in_transaction(
        database_url, lambda s: register_api_client(s, subsystem=ref, name=name, actor=ACTOR)
    )
    typer.echo(f"client_id={created.client.client_id}")
    typer.echo(f"client_secret={created.client_secret}")


@app.command("revoke-client")
def revoke_client_command(
    client_id: str = typer.Argument(..., help="The client to revoke."),
    database_url: str | None = DATABASE_URL,
) -> None:
    """Revoke a client's credentials: its tokens stop working at once."""
    run_in_transaction(
        database_url, lambda s: revoke_api_client(s, client_id=client_id, actor=ACTOR)
    )
    typer.echo(f"client {client_id} revoked")
