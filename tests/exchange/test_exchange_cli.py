"""Bootstrapping a production exchange from the command line, before any admin token exists."""

from __future__ import annotations

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from joinedup.cli import app
from joinedup.core.db import Database
from joinedup.core.settings import Settings
from joinedup.web import create_app

runner = CliRunner()


def _cli(url: str, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["exchange", *args, "--database-url", url])
    return result.exit_code, result.output


def test_bootstrap_an_administrator_that_can_get_a_token(
    sqlite_database: Database, settings: Settings
) -> None:
    url = sqlite_database.url
    assert _cli(url, "register-member", "GOV", "70000001", "--name", "Digital Office")[0] == 0
    code, out = _cli(url, "register-subsystem", "GOV/70000001/admin", "--name", "Admin desk")
    assert code == 0, out
    assert _cli(url, "appoint-admin", "GOV/70000001/admin")[0] == 0
    assert _cli(url, "appoint-admin", "GOV/70000001/admin")[0] == 0  # idempotent
    code, out = _cli(url, "create-client", "GOV/70000001/admin", "--name", "ops laptop")
    assert code == 0, out
    values = dict(line.split("=", 1) for line in out.strip().splitlines())
    assert values["client_id"]
    assert len(values["client_secret"]) >= 32

    with TestClient(create_app(settings, database=sqlite_database)) as client:
        token = client.post(
            "/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": values["client_id"],
                "client_secret": values["client_secret"],
            },
        )
        assert token.status_code == 200, token.text
        bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
        members = client.get("/api/v1/exchange/members", headers=bearer)
        assert members.status_code == 200, members.text

    assert _cli(url, "revoke-client", values["client_id"])[0] == 0
    with TestClient(create_app(settings, database=sqlite_database)) as client:
        refused = client.post(
            "/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": values["client_id"],
                "client_secret": values["client_secret"],
            },
        )
        assert refused.status_code in {400, 401}


def test_bad_input_is_refused_with_what_to_fix_and_writes_nothing(
    sqlite_database: Database,
) -> None:
    url = sqlite_database.url
    code, out = _cli(url, "register-member", "XXX", "1", "--name", "Nobody")
    assert code == 2
    assert "member_class must be GOV, COM or NGO" in out
    code, out = _cli(url, "appoint-admin", "GOV/99999999/none")
    assert code == 2
    assert "is not registered" in out
    code, _ = _cli(url, "create-client", "not-a-subsystem", "--name", "x")
    assert code == 2
    with sqlite_database.reading() as session:
        assert (
            session.connection().exec_driver_sql("SELECT COUNT(*) FROM exchange_member").scalar()
            == 0
        )
