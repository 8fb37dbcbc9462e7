"""``joinedup registry record-…``: the registrar's system from the command line, through the
in-process exchange client (same right, validation, idempotency and signed message log)."""

from __future__ import annotations

import json
from pathlib import Path

from civil_support import INSTANCE, REGISTRAR, birth, counts, people, service
from rights_support import demo_country  # noqa: F401 (fixture)
from sqlalchemy import select
from typer.testing import CliRunner

from joinedup.cli import app
from joinedup.core.db import Database
from joinedup.demo import organisation
from joinedup.exchange.records import MessageLogRecord
from joinedup.registries import get_person

runner = CliRunner()


def _run(database: Database, *arguments: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["registry", *arguments, "--database-url", database.url])
    return result.exit_code, result.stdout, result.stderr


def test_record_birth_from_options_then_a_replay(demo_country: Database) -> None:  # noqa: F811
    mother, father = (
        people(demo_country, sex="F", count=1, offset=10)[0],
        people(demo_country, sex="M", count=1, offset=10)[0],
    )
    options = [
        "record-birth",
        "--registrar",
        REGISTRAR,
        "--reference",
        "CLI-B-1",
        "--given-names",
        "Kaur",
        "--family-name",
        "Kask",
        "--birth-date",
        "2025-05-21",
        "--sex",
        "M",
        "--birth-place",
        "Joinville",
        "--parent",
        mother,
        "--parent",
        father,
    ]
    code, out, err = _run(demo_country, *options)
    assert code == 0, err
    answer = json.loads(out)
    assert answer["reference"] == "CLI-B-1"
    with demo_country.reading() as session:
        child = get_person(session, personal_code=answer["personalCode"])
        assert child.given_names == "Kaur"
        row = session.scalars(
            select(MessageLogRecord)
            .where(MessageLogRecord.service_xroad_id == f"{INSTANCE}/{service('record-birth')}")
            .order_by(MessageLogRecord.id.desc())
        ).first()
        assert row is not None
        assert row.request_body is not None
        assert json.loads(row.request_body)["reference"] == "CLI-B-1"
        assert row.client_signature is not None
        assert row.provider_signature is not None
    before = counts(demo_country)
    code, out, err = _run(demo_country, *options)
    assert code == 0, err
    assert json.loads(out) == answer
    assert "recorded before" in err
    assert counts(demo_country)["person"] == before["person"]


def test_record_from_a_json_file_with_options_overriding(
    demo_country: Database,  # noqa: F811
    tmp_path: Path,
) -> None:
    (mother,) = people(demo_country, sex="F", count=1, offset=11)
    body = tmp_path / "birth.json"
    body.write_text(json.dumps(birth("CLI-B-2", mother, givenNames="Anu")))
    code, out, err = _run(
        demo_country,
        "record-birth",
        "--registrar",
        REGISTRAR,
        "--json",
        str(body),
        "--given-names",
        "Anne",
    )
    assert code == 0, err
    with demo_country.reading() as session:
        assert get_person(session, personal_code=json.loads(out)["personalCode"]).given_names == (
            "Anne"
        )


def test_death_marriage_and_move_from_the_command_line(demo_country: Database) -> None:  # noqa: F811
    woman, other = people(demo_country, sex="F", count=2, offset=12)
    man, deceased = people(demo_country, sex="M", count=2, offset=12)
    common = ["--registrar", REGISTRAR]
    runs = [
        [
            "record-marriage",
            *common,
            "--reference",
            "CLI-M-1",
            "--spouse",
            woman,
            "--spouse",
            man,
            "--married-on",
            "2025-05-11",
            "--kind",
            "registered-partnership",
        ],
        [
            "record-death",
            *common,
            "--reference",
            "CLI-D-1",
            "--personal-code",
            deceased,
            "--date-of-death",
            "2025-05-29",
        ],
        [
            "record-move",
            *common,
            "--reference",
            "CLI-A-1",
            "--personal-code",
            other,
            "--moved-on",
            "2025-06-04",
            "--municipality-code",
            "0101",
            "--street",
            "Quay",
            "--house-number",
            "3",
            "--apartment",
            "12",
            "--postcode",
            "10115",
        ],
    ]
    for arguments in runs:
        code, out, err = _run(demo_country, *arguments)
        assert code == 0, (arguments[0], err)
        assert json.loads(out)["registrationId"]
    assert json.loads(_run(demo_country, *runs[0])[1])["kind"] == "registered-partnership"


def test_bad_input_says_what_to_fix_and_exits_2(demo_country: Database) -> None:  # noqa: F811
    before = counts(demo_country)
    code, _, err = _run(
        demo_country,
        "record-death",
        "--registrar",
        REGISTRAR,
        "--reference",
        "CLI-BAD-1",
        "--personal-code",
        "12345",
        "--date-of-death",
        "2025-05-29",
    )
    assert code == 2
    assert "personalCode" in err
    assert "is not a valid personal code" in err
    code, _, err = _run(demo_country, "record-birth", "--registrar", REGISTRAR)
    assert code == 2
    assert "reference" in err
    assert "givenNames" in err
    code, _, err = _run(
        demo_country, "record-birth", "--registrar", REGISTRAR, "--json", "/no/such/file.json"
    )
    assert code == 2
    assert "Cannot read the body" in err
    assert counts(demo_country) == before


def test_a_registrar_without_the_right_is_refused_and_the_refusal_recorded(
    demo_country: Database,  # noqa: F811
) -> None:
    (woman,) = people(demo_country, sex="F", count=1, offset=14)
    benefits = f"GOV/{organisation('social-insurance').member_code}/benefits"
    before = counts(demo_country)
    result = runner.invoke(
        app,
        [
            "registry",
            "record-birth",
            "--registrar",
            benefits,
            "--json",
            "-",
            "--database-url",
            demo_country.url,
        ],
        input=json.dumps(birth("CLI-R-1", woman)),
    )
    assert result.exit_code == 2
    assert "Client.AccessDenied" in result.stderr
    assert counts(demo_country) == before
    with demo_country.reading() as session:
        refused = session.scalars(
            select(MessageLogRecord).where(
                MessageLogRecord.client_xroad_id == f"{INSTANCE}/{benefits}",
                MessageLogRecord.error_type == "Client.AccessDenied",
                MessageLogRecord.method == "POST",
            )
        ).all()
    assert len(refused) == 1
