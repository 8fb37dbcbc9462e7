"""A transaction's memo (``core.db.transaction_memo``): kept for the whole transaction, from
the first lookup on — also when that lookup comes before the session has begun one."""

from __future__ import annotations

from sqlalchemy import event, text

from joinedup.core.db import Database, transaction_memo
from joinedup.identity import registry_service


def test_a_memo_asked_for_before_the_transaction_began_is_kept_for_all_of_it(
    sqlite_database: Database,
) -> None:
    with sqlite_database.read_session_factory() as session:
        assert session.get_transaction() is None  # nothing read yet
        first = transaction_memo(session, "test.memo")
        first["x"] = 1
        session.execute(text("SELECT 1"))  # the read the memo was for
        assert transaction_memo(session, "test.memo") is first
        session.rollback()  # a new transaction starts with an empty memo
        assert transaction_memo(session, "test.memo") == {}


def test_the_registers_owners_are_read_once_per_transaction(seeded: Database) -> None:
    """The acting-for page asks for three registry services in one read transaction: their
    owners are read once (the first two lookups each read them before)."""
    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if "registry" in statement.lower():
            statements.append(statement)

    engine = seeded.read_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        with seeded.read_session_factory() as session:
            services = [registry_service(session, code) for code in ("relations", "person")]
            services.append(registry_service(session, "representations"))
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert all(s.count("/") == 3 for s in services)
    assert len(statements) == 1, statements
