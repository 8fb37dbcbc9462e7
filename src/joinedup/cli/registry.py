"""``joinedup registry record-birth|record-death|record-marriage|record-move``: civil
registration from the command line.

Each command is a registrar's system calling the population register's write service through
the exchange, in process (:meth:`joinedup.exchange.ExchangeClient.write`): the same access
right and purpose as over ``/r1``, the same validation, the same idempotency on ``--reference``,
the same signed message log with both bodies — in one unit of work with the registration.
``--registrar`` names the registrar's subsystem (``CLASS/MEMBER/SUBSYSTEM``; in the demo
country the Population Register Office's ``civil-registration``). The body comes from the
options, or whole from ``--json FILE`` (``-`` for standard input; options override its
fields). The answer is printed as JSON; bad input prints what to fix and exits with 2.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console

from joinedup.core.db import Database
from joinedup.core.errors import DomainError
from joinedup.core.settings import get_settings

if TYPE_CHECKING:
    from joinedup.exchange import LocalAnswer

app = typer.Typer(
    help="Civil registration: record births, deaths, marriages and moves in the population "
    "register, as a registrar's system through the exchange.",
    no_args_is_help=True,
)
err = Console(stderr=True)

REGISTRAR = typer.Option(
    ...,
    "--registrar",
    help="The registrar's subsystem CLASS/MEMBER/SUBSYSTEM (its access right is used).",
)
REFERENCE = typer.Option(
    None, "--reference", help="The registrar's reference: a repeated one registers nothing."
)
PURPOSE = typer.Option("civil-registration", "--purpose", help="The purpose of the call.")
JSON_FILE = typer.Option(
    None, "--json", help="A JSON file with the whole body ('-': standard input)."
)
DATABASE_URL = typer.Option(
    None, "--database-url", help="Database to change (default: JOINEDUP_DATABASE_URL)."
)


def _body(json_file: Path | None, options: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if json_file is not None:
        try:
            text = sys.stdin.read() if str(json_file) == "-" else json_file.read_text()
            loaded = json.loads(text)
        except (OSError, ValueError) as exc:
            err.print(f"[red]Cannot read the body:[/red] {json_file}: {exc}")
            raise typer.Exit(2) from exc
        if not isinstance(loaded, dict):
            err.print(f"[red]Cannot read the body:[/red] {json_file} holds no JSON object")
            raise typer.Exit(2)
        body.update(loaded)
    body.update({k: v for k, v in options.items() if v not in (None, [], ())})
    return body


def _record(
    service_code: str,
    *,
    registrar: str,
    purpose: str,
    body: dict[str, Any],
    database_url: str | None,
) -> None:
    """Call the write service in one unit of work; a refusal is committed to the message log
    (nothing else is written) and exits 2."""
    from joinedup.exchange import exchange_client
    from joinedup.registries import get_registry

    database = Database(database_url or get_settings().resolved_database_url)
    refusal: DomainError | None = None
    answer: LocalAnswer | None = None
    try:
        with database.unit_of_work() as session:
            try:
                owner = get_registry(session, code="population")
                service = (
                    f"{owner.owner_member_class}/{owner.owner_member_code}/"
                    f"{owner.owner_subsystem_code}/{service_code}"
                )
                with exchange_client(session, client=registrar) as calls:
                    try:
                        answer = calls.write(service, purpose=purpose, body=body)
                    except DomainError as exc:
                        refusal = exc  # the block ends normally: the refusal is recorded
            except DomainError as exc:  # no such registrar or register: nothing to record
                refusal = exc
    finally:
        database.dispose()
    if refusal is not None or answer is None:
        if refusal is not None:
            _explain(refusal)
        raise typer.Exit(2)
    if answer.replayed:
        err.print("This reference was recorded before: its original answer, nothing registered.")
    typer.echo(json.dumps(answer.body, indent=2))


def _explain(error: DomainError) -> None:
    kind = error.extensions.get("error_type") or error.slug
    err.print(f"[red]Refused ({kind}):[/red] {error.detail}")
    for item in error.extensions.get("errors", []) or []:
        if isinstance(item, dict):
            err.print(f"  {item.get('field')}: {item.get('message')}")


@app.command("record-birth")
def record_birth(
    registrar: str = REGISTRAR,
    reference: str | None = REFERENCE,
    given_names: str | None = typer.Option(None, "--given-names"),
    family_name: str | None = typer.Option(None, "--family-name"),
    birth_date: str | None = typer.Option(None, "--birth-date", help="YYYY-MM-DD."),
    sex: str | None = typer.Option(None, "--sex", help="F or M."),
    birth_place: str | None = typer.Option(None, "--birth-place"),
    citizenship: str | None = typer.Option(None, "--citizenship", help="ISO 3166-1 alpha-2."),
    parent: list[str] = typer.Option(
        [], "--parent", help="A parent's personal code; first the one who gave birth."
    ),
    purpose: str = PURPOSE,
    json_file: Path | None = JSON_FILE,
    database_url: str | None = DATABASE_URL,
) -> None:
    """Record a birth: the register issues the child's personal code."""
    body = _body(
        json_file,
        {
            "reference": reference,
            "givenNames": given_names,
            "familyName": family_name,
            "birthDate": birth_date,
            "sex": sex,
            "birthPlace": birth_place,
            "citizenship": citizenship,
            "parents": list(parent),
        },
    )
    _record(
        "record-birth", registrar=registrar, purpose=purpose, body=body, database_url=database_url
    )


@app.command("record-death")
def record_death(
    registrar: str = REGISTRAR,
    reference: str | None = REFERENCE,
    personal_code: str | None = typer.Option(None, "--personal-code"),
    date_of_death: str | None = typer.Option(None, "--date-of-death", help="YYYY-MM-DD."),
    purpose: str = PURPOSE,
    json_file: Path | None = JSON_FILE,
    database_url: str | None = DATABASE_URL,
) -> None:
    """Record a death: the person's residence and marriage end on that day."""
    body = _body(
        json_file,
        {"reference": reference, "personalCode": personal_code, "dateOfDeath": date_of_death},
    )
    _record(
        "record-death", registrar=registrar, purpose=purpose, body=body, database_url=database_url
    )


@app.command("record-marriage")
def record_marriage(
    registrar: str = REGISTRAR,
    reference: str | None = REFERENCE,
    spouse: list[str] = typer.Option([], "--spouse", help="A spouse's personal code (twice)."),
    married_on: str | None = typer.Option(None, "--married-on", help="YYYY-MM-DD."),
    kind: str | None = typer.Option(
        None, "--kind", help="marriage (default) or registered-partnership."
    ),
    purpose: str = PURPOSE,
    json_file: Path | None = JSON_FILE,
    database_url: str | None = DATABASE_URL,
) -> None:
    """Record a marriage or a registered partnership."""
    body = _body(
        json_file,
        {"reference": reference, "spouses": list(spouse), "marriedOn": married_on, "kind": kind},
    )
    _record(
        "record-marriage",
        registrar=registrar,
        purpose=purpose,
        body=body,
        database_url=database_url,
    )


@app.command("record-move")
def record_move(
    registrar: str = REGISTRAR,
    reference: str | None = REFERENCE,
    personal_code: str | None = typer.Option(None, "--personal-code"),
    moved_on: str | None = typer.Option(None, "--moved-on", help="YYYY-MM-DD."),
    address_id: int | None = typer.Option(None, "--address-id", help="A registered address."),
    municipality_code: str | None = typer.Option(None, "--municipality-code"),
    street: str | None = typer.Option(None, "--street"),
    house_number: str | None = typer.Option(None, "--house-number"),
    apartment: str | None = typer.Option(None, "--apartment"),
    postcode: str | None = typer.Option(None, "--postcode"),
    purpose: str = PURPOSE,
    json_file: Path | None = JSON_FILE,
    database_url: str | None = DATABASE_URL,
) -> None:
    """Record a move to a registered address (``--address-id``) or to one given by its
    details (registered when the register has no such address)."""
    details = {
        "municipalityCode": municipality_code,
        "street": street,
        "houseNumber": house_number,
        "apartment": apartment,
        "postcode": postcode,
    }
    address = {k: v for k, v in details.items() if v is not None}
    body = _body(
        json_file,
        {
            "reference": reference,
            "personalCode": personal_code,
            "movedOn": moved_on,
            "addressId": address_id,
            "address": address or None,
        },
    )
    _record(
        "record-move", registrar=registrar, purpose=purpose, body=body, database_url=database_url
    )
