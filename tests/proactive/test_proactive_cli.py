"""``joinedup proactive list`` and ``announce-ages``: what a person is entitled to, from the
command line; bad input is exit status 2 with what to fix."""

from __future__ import annotations

from proactive_support import adults, born_to
from typer.testing import CliRunner

from joinedup.cli import app
from joinedup.core.db import Database


def test_list_a_person_s_entitlements(seeded: Database) -> None:
    (mother,) = adults(seeded, sex="F", count=1, offset=12)
    born_to(seeded, mother)
    runner = CliRunner()
    result = runner.invoke(
        app,
        ["proactive", "list", "--person", mother, "--database-url", seeded.url],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    for service in ("child-benefit", "birth-grant", "parental-benefit"):
        assert service in result.output
    assert "offered" in result.output
    offered = runner.invoke(
        app,
        [
            *("proactive", "list", "--person", mother),
            *("--status", "offered", "--database-url", seeded.url),
        ],
        env={"COLUMNS": "200"},
    )
    assert "birth-grant" in offered.output
    assert "child-benefit" not in offered.output


def test_bad_input_is_exit_status_2(seeded: Database) -> None:
    runner = CliRunner()
    bad_code = runner.invoke(
        app, ["proactive", "list", "--person", "nonsense", "--database-url", seeded.url]
    )
    assert bad_code.exit_code == 2
    bad_day = runner.invoke(
        app, ["proactive", "announce-ages", "--on", "yesterday", "--database-url", seeded.url]
    )
    assert bad_day.exit_code == 2
    ran = runner.invoke(
        app, ["proactive", "announce-ages", "--on", "2026-03-02", "--database-url", seeded.url]
    )
    assert ran.exit_code == 0, ran.output
    assert "persons reached 6, 18, 66" in ran.output
