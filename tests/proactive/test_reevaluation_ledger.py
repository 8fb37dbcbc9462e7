"""The re-evaluation's read of the stored entitlements (at the driver): what the ORM reads,
locked on PostgreSQL (``FOR UPDATE``) unless asked not to be."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from joinedup.core.db import Database
from joinedup.proactive.models import Entitlement
from joinedup.proactive.reevaluation.ledger import Stored, stored_entitlements


def _entitlement(session: Session, code: str, service: str, occasion: str = "") -> None:
    now = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
    session.add(
        Entitlement(
            uid=uuid.uuid4(),
            person_code=code,
            service_code=service,
            occasion=occasion,
            owner_member_class="GOV",
            owner_member_code="70000001",
            delivery_mode="automatic",
            status="granted",
            amount=None if code.endswith("2") else 10_000,
            period_start=date(2026, 1, 1),
            period_end=None,
            life_event=None,
            regarding_code=None,
            reason="before",
            explanation={},
            ruleset="demo",
            ruleset_version="1",
            variable="child_benefit",
            legal_basis="Act § 1",
            legal_basis_url=None,
            revision=3,
            created_at=now,
            updated_at=now,
            updated_by="test",
        )
    )


def test_the_stored_entitlements_are_read_as_the_orm_reads_them(database: Database) -> None:
    codes = [f"3900106000{i}" for i in range(4)]
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "proactive_entitlement" in statement and statement.lstrip().startswith("SELECT"):
            statements.append(statement)

    with database.unit_of_work() as session:
        for code in codes[:3]:
            _entitlement(session, code, "child-benefit")
        _entitlement(session, codes[0], "pension")  # another service
        _entitlement(session, codes[1], "child-benefit", occasion="birth:1")  # not continuing
        event.listen(database.engine, "before_cursor_execute", seen)
        try:
            # pending in the session: written before the read
            _entitlement(session, codes[3], "child-benefit")
            found = stored_entitlements(
                session, person_codes=[*codes, codes[0]], services=["child-benefit"]
            )
            unlocked = stored_entitlements(
                session, person_codes=codes, services=["child-benefit"], lock=False
            )
        finally:
            event.remove(database.engine, "before_cursor_execute", seen)
        e = Entitlement
        expected = {
            (row.person_code, row.service_code): Stored(
                row.id, row.uid, row.status, row.amount, row.revision, row.period_start,
                row.updated_at,
            )
            for row in session.scalars(
                select(e).where(e.service_code == "child-benefit", e.occasion == "")
            )
        }  # fmt: skip
    assert found == unlocked == expected
    assert set(found) == {(code, "child-benefit") for code in codes}
    assert found[codes[2], "child-benefit"].amount is None
    stored = found[codes[0], "child-benefit"]
    assert isinstance(stored.uid, uuid.UUID)
    assert stored.updated_at == datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
    assert stored.period_start == date(2026, 1, 1)
    locked, plain = statements
    assert ("FOR UPDATE" in locked) == (database.dialect == "postgresql")
    assert "FOR UPDATE" not in plain
