"""What a transaction gathers for after its commit (``core.events.after_this_commit``): handed
on once it commits, dropped if it rolls back, and a failure never looks like a failed commit."""

from __future__ import annotations

import contextlib

from sqlalchemy import text

from joinedup.core.db import Database
from joinedup.core.events import after_this_commit


def test_a_value_gathered_in_a_transaction_is_handed_on_once_it_commits(
    sqlite_database: Database,
) -> None:
    handed: list[list[int]] = []
    with sqlite_database.unit_of_work() as session:
        session.execute(text("SELECT 1"))
        for n in (1, 2):  # the same value each time it is asked for
            after_this_commit(session, "numbers", list, handed.append).append(n)
        assert handed == []
    assert handed == [[1, 2]]
    with sqlite_database.unit_of_work() as session:  # the next transaction starts afresh
        session.execute(text("SELECT 1"))
        after_this_commit(session, "numbers", list, handed.append).append(3)
    assert handed == [[1, 2], [3]]


def test_a_rolled_back_transaction_hands_nothing_on_and_a_failure_is_not_the_commits(
    sqlite_database: Database,
) -> None:
    handed: list[list[int]] = []
    with contextlib.suppress(RuntimeError), sqlite_database.unit_of_work() as session:
        session.execute(text("SELECT 1"))
        after_this_commit(session, "numbers", list, handed.append).append(1)
        raise RuntimeError("rolled back")
    with sqlite_database.unit_of_work() as session:
        session.execute(text("SELECT 1"))

        def fail(_value: object) -> None:
            raise ValueError("a failing taker")

        after_this_commit(session, "failing", list, fail)
        after_this_commit(session, "numbers", list, handed.append).append(2)
    assert handed == [[2]]  # (not the rolled-back 1; the failure logged, the others called)
