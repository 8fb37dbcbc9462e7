"""Shared by the re-evaluation tests: the demo's child benefit as a service, law versions
relative to today, and what the database holds after a run."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import text

from joinedup.core.clock import today
from joinedup.core.db import Database
from joinedup.demo.agencies import organisation
from joinedup.proactive.reevaluation import (
    ServiceSpec,
    publish_law_version,
    run_reevaluation,
    start_reevaluation,
)

CITATION = "Family Benefits (Amendment) Act 2026 §1"
AMOUNT = "family.child_benefit.amount_per_child"


def month_start(months_ahead: int) -> date:
    day = today()
    index = day.year * 12 + day.month - 1 + months_ahead
    return date(index // 12, index % 12 + 1, 1)


def child_benefit() -> ServiceSpec:
    sib = organisation("social-insurance")
    return ServiceSpec(
        code="child-benefit",
        names={"en": "child benefit", "et": "lapsetoetus"},
        owner_member_class=str(sib.member_class),
        owner_member_code=sib.member_code,
        owner_subsystem="benefits",
        delivery_mode="automatic",
        ruleset="demo",
        variable="child_benefit",
        purpose="child-benefit",
        legal_basis="Family Benefits Act § 23 (1)",
        legal_basis_url=None,
    )


def owner() -> str:
    sib = organisation("social-insurance")
    return f"{sib.member_class}/{sib.member_code}"


def plan(database: Database, *, amount: int, effective_from: date, chunk_persons: int = 100) -> Any:
    """Publish ``amount`` per child from ``effective_from`` and plan its re-evaluation."""
    with database.unit_of_work() as session:
        law = publish_law_version(
            session,
            ruleset="demo",
            changes=[f"{AMOUNT}={amount}"],
            effective_from=effective_from,
            citation=CITATION,
            owner=owner(),
            actor="test",
        )
        return start_reevaluation(
            session,
            law_version=law.uid,
            services=[child_benefit()],
            actor="test",
            chunk_persons=chunk_persons,
        )


def law_change(
    database: Database, *, amount: int, effective_from: date, chunk_persons: int = 100
) -> Any:
    run = plan(database, amount=amount, effective_from=effective_from, chunk_persons=chunk_persons)
    return run_reevaluation(database, uid=run.uid)


def revisions_of(database: Database, version: str) -> list[tuple[str, str, int | None, int]]:
    """(person, status, amount, revision) of every revision recorded under a law version."""
    with database.reading() as session:
        rows = session.execute(
            text(
                "SELECT e.person_code, r.status, r.amount, r.revision "
                "FROM proactive_entitlement_revision r "
                "JOIN proactive_entitlement e ON e.id = r.entitlement_id "
                "WHERE r.ruleset_version = :version"
            ),
            {"version": version},
        ).all()
    return sorted((r[0], r[1], r[2], r[3]) for r in rows)


def letters_of(database: Database, version: str) -> list[tuple[str, str]]:
    """(recipient, reference) of every letter about a revision under a law version."""
    with database.reading() as session:
        rows = session.execute(
            text(
                "SELECT l.recipient_code, l.reference FROM notify_letter l "
                "JOIN proactive_entitlement_revision r ON r.letter_reference = l.reference "
                "WHERE r.ruleset_version = :version"
            ),
            {"version": version},
        ).all()
    return sorted((r[0], r[1]) for r in rows)


def count(database: Database, table: str) -> int:
    with database.reading() as session:
        return int(session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
