"""A bulk read's records sent between processes (the re-evaluation's read-ahead): the
data-usage rows travel in short (what they share once, then each row's own values) and are
written exactly as the rows they were made as; rows that are not one call's travel whole."""

from __future__ import annotations

import pickle
from typing import Any

import pytest
from records_support import recording
from sqlalchemy import select

from joinedup.core.db import Database
from joinedup.core.keys import SigningKey
from joinedup.exchange.recorder import Recording, write_recordings
from joinedup.exchange.records import DataUsageRecord
from joinedup.exchange.verification import verify_exchange_records

LOG_KEY = SigningKey.generate()
SUBJECTS = ("51501010002", "39001010008", "60001019906", "37605030299", "48807070001")


def _usages_only(subjects: tuple[str, ...] = SUBJECTS, **options: Any) -> Recording:
    made = recording(subjects=subjects, **options)
    return Recording(usages=made.usages, usage_leaves=made.usage_leaves)


def _sent(recording: Recording) -> Recording:
    """As the read-ahead's process pool sends it (pickled; our own bytes, never untrusted)."""
    return pickle.loads(pickle.dumps(recording))  # noqa: S301


def _stored(database: Database) -> list[dict[str, Any]]:
    columns = [c.key for c in DataUsageRecord.__table__.columns if c.key != "id"]
    with database.reading() as session:
        return [
            {key: getattr(row, key) for key in columns}
            for row in session.scalars(select(DataUsageRecord).order_by(DataUsageRecord.id))
        ]


def test_a_bulk_reads_usage_rows_travel_in_short_and_are_written_as_made(
    database: Database,
) -> None:
    made = _usages_only()
    original = [dict(row) for row in made.usages]
    sent = _sent(made)
    assert sent.usages == []
    assert sent.shared_usages is not None
    assert [own[2] for own in sent.shared_usages[1]] == list(SUBJECTS)
    again = _sent(sent)  # in short it stays in short
    assert again.shared_usages == sent.shared_usages
    with database.unit_of_work() as session:
        result = write_recordings(session, [sent], signer=LOG_KEY)
    assert result is not None
    stored = _stored(database)
    by_record = {row["record_id"]: row for row in stored}
    for position, row in enumerate(original):
        assert by_record[row["record_id"]] == {**row, "log_index": result.indices[position]}
    # written in the subject index's order; each still matches its log entry
    assert [row["subject_code"] for row in stored] == sorted(SUBJECTS)
    assert verify_exchange_records(database.url)[1] == []


def test_rows_of_different_calls_travel_whole(database: Database) -> None:
    first = _usages_only(SUBJECTS[:2])
    second = _usages_only(SUBJECTS[2:], hidden_until=None, status=200)
    second.usages[0]["purpose"] = "school-place"  # another call's row
    mixed = Recording(
        usages=first.usages + second.usages, usage_leaves=first.usage_leaves + second.usage_leaves
    )
    sent = _sent(mixed)
    assert sent.shared_usages is None
    assert sent.usages == mixed.usages


def test_given_row_dicts_get_their_log_index(database: Database) -> None:
    made = _usages_only()
    with database.unit_of_work() as session:
        result = write_recordings(session, [made], signer=LOG_KEY)
    assert result is not None
    assert [row["log_index"] for row in made.usages] == list(result.indices)


def test_a_usage_row_without_its_log_leaf_is_refused_and_nothing_written(
    database: Database,
) -> None:
    made = _usages_only()
    short = _sent(made)
    for broken in (
        Recording(usages=made.usages, usage_leaves=made.usage_leaves[:-1]),
        Recording(usage_leaves=made.usage_leaves[:-1], shared_usages=short.shared_usages),
    ):
        with (
            pytest.raises(ValueError, match="one log leaf input per data-usage row"),
            database.unit_of_work() as session,
        ):
            write_recordings(session, [broken], signer=LOG_KEY)
    assert _stored(database) == []


def test_one_batch_of_every_kind_of_recording_gets_the_right_log_indices(
    database: Database,
) -> None:
    """Messages with usages, usages in short, dict usages without a message and a call
    alone, in one batch: each row gets its own leaf's index and every record verifies."""
    with_message = recording(subjects=SUBJECTS[:2])
    in_short = _sent(_usages_only(SUBJECTS[2:4]))
    dicts_alone = _usages_only(SUBJECTS[4:])
    call_alone = recording(subjects=())
    call_alone.message = None
    batch = [with_message, in_short, dicts_alone, call_alone]
    with database.unit_of_work() as session:
        result = write_recordings(session, batch, signer=LOG_KEY)
    assert result is not None
    assert len(result.indices) == 1 + 2 + 2 + 1
    with database.reading() as session:
        indices = dict(
            session.execute(select(DataUsageRecord.subject_code, DataUsageRecord.log_index)).all()
        )
    first = result.indices[0]
    assert indices == {
        SUBJECTS[0]: first + 1,  # after its message
        SUBJECTS[1]: first + 2,
        SUBJECTS[2]: first + 3,
        SUBJECTS[3]: first + 4,
        SUBJECTS[4]: first + 5,
    }
    assert with_message.message is not None
    assert with_message.message.row["log_index"] == first
    assert dicts_alone.usages[0]["log_index"] == first + 5
    assert verify_exchange_records(database.url)[1] == []


def test_rows_with_equal_but_not_the_same_values_travel_whole() -> None:
    """An equal value of another type would be written as the first row's value, unlike what
    its log leaf was made of: only the very same objects are shared."""
    made = _usages_only(SUBJECTS[:2])
    made.usages[1]["law_enforcement"] = 0  # == False, another type
    assert _sent(made).shared_usages is None
    other = _usages_only(SUBJECTS[:2])
    del other.usages[1]["salt"]
    other.usages[1]["extra"] = b""
    assert _sent(other).shared_usages is None


def test_rows_of_one_batch_with_other_columns_are_refused(database: Database) -> None:
    first, second = _usages_only(SUBJECTS[:1]), _usages_only(SUBJECTS[1:2])
    for row in second.usages:
        row["extra"] = "x"
    with (
        pytest.raises(ValueError, match="must have the same columns"),
        database.unit_of_work() as session,
    ):
        write_recordings(session, [first, second], signer=LOG_KEY)
    assert _stored(database) == []
