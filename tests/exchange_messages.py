"""What the exchange logged: the messages since a point, by the service they went to."""

from __future__ import annotations

from sqlalchemy import text

from joinedup.core.db import Database


def messages_since(database: Database, since: int) -> dict[str, int]:
    """The exchange messages logged after the row ``since``, by service code."""
    with database.reading() as session:
        rows = session.execute(
            text(
                "SELECT service_xroad_id, count(*) FROM exchange_message "
                "WHERE id > :since GROUP BY service_xroad_id"
            ),
            {"since": since},
        ).all()
    return {str(service).rsplit("/", 1)[-1]: int(count) for service, count in rows}


def last_message(database: Database) -> int:
    """The row of the last message logged (0: none yet)."""
    with database.reading() as session:
        return int(
            session.execute(text("SELECT coalesce(max(id), 0) FROM exchange_message")).scalar()
        )
