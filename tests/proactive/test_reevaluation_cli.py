"""``joinedup proactive publish-law`` and ``reevaluate``: a law change from the command line,
with a progress bar; bad input is refused with what to fix (exit status 2), nothing written."""

from __future__ import annotations

import json

from reevaluation_support import count, month_start, owner
from typer.testing import CliRunner

from joinedup.cli import app
from joinedup.core.db import Database

runner = CliRunner()


def _run(database: Database, *arguments: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["proactive", *arguments, "--database-url", database.url])
    return result.exit_code, result.stdout, result.stderr


def test_publish_then_reevaluate_then_resume_does_nothing_more(seeded: Database) -> None:
    code, out, err = _run(
        seeded,
        "publish-law",
        "--change",
        "family.child_benefit.amount_per_child=125",
        "--effective-from",
        month_start(1).isoformat(),
        "--citation",
        "Family Benefits (Amendment) Act 2026 §1",
        "--owner",
        owner(),
    )
    assert code == 0, err
    law = json.loads(out)
    code, out, err = _run(
        seeded,
        "reevaluate",
        "--law-version",
        law["lawVersion"],
        "--services",
        "child-benefit",
        "--chunk-persons",
        "1000",
        "--json",
    )
    assert code == 0, err
    outcome = json.loads(out)
    assert outcome["status"] == "completed"
    assert outcome["changes"] == outcome["letters"] > 0
    revisions = count(seeded, "proactive_entitlement_revision")
    code, out, err = _run(seeded, "reevaluate", "--resume", outcome["reevaluation"], "--json")
    assert code == 0, err
    assert json.loads(out)["changes"] == outcome["changes"]
    assert count(seeded, "proactive_entitlement_revision") == revisions


def test_bad_input_is_refused_with_what_to_fix(seeded: Database) -> None:
    day = month_start(1).isoformat()
    law = ["--effective-from", day, "--citation", "Act", "--owner", owner()]
    for arguments, says in (
        (["reevaluate"], "--law-version"),
        (["reevaluate", "--resume", "not-a-uuid"], "UUID"),
        (["reevaluate", "--law-version", "8d0c2a4e-0000-4000-8000-000000000000"], "--services"),
        (
            [
                "reevaluate",
                "--law-version",
                "8d0c2a4e-0000-4000-8000-000000000000",
                "--services",
                "child-benefit",
            ],
            "no such law version",
        ),
        (["publish-law", "--change", "family.child_benefit.nothing=1", *law], "no parameter"),
        (["publish-law", "--change", "family.child_benefit.amount_per_child=x", *law], "number"),
        (
            [
                "publish-law",
                "--change",
                "family.child_benefit.amount_per_child=130",
                "--effective-from",
                "2027-02-30",
                "--citation",
                "Act",
                "--owner",
                owner(),
            ],
            "YYYY-MM-DD",
        ),
    ):
        code, _, err = _run(seeded, *arguments)
        assert code == 2, (arguments, err)
        assert says in " ".join(err.split()), (arguments, err)
    assert count(seeded, "proactive_law_version") == 0
    assert count(seeded, "proactive_reevaluation") == 0
