"""Calls through the exchange from inside the platform: the same right, purpose and field
checks as /r1, the same signed message log, data-usage records and transparency log, written
in the caller's transaction."""

from __future__ import annotations

import pytest
from mediation_support import BASIS, INSTANCE, World
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError

from joinedup.core.db import Database
from joinedup.core.errors import NotFound, ValidationFailed
from joinedup.core.keys import load_log_signing_key
from joinedup.core.pagination import PageRequest
from joinedup.core.settings import get_settings
from joinedup.core.translog import inclusion_proof, latest_tree_head, leaf_hash, verify_inclusion
from joinedup.core.translog.models import TreeHead
from joinedup.core.translog.service import APPEND_LOCK_KEY
from joinedup.exchange import (
    LocalCallRefused,
    ServiceRef,
    SubsystemRef,
    exchange_client,
    list_access_rights,
    member_signing_key,
    revoke_access_right,
    write_records_now,
)
from joinedup.exchange.canonical import message_leaf
from joinedup.exchange.messagelog import message_row, signatures_valid
from joinedup.exchange.records import CallRecord, DataUsageRecord, MessageLogRecord
from joinedup.registries import find_person_id

BENEFITS = "GOV/70009997/benefits"


@pytest.fixture
def database(mediation_country: tuple[Database, World]) -> Database:
    """Instead of an empty database: a copy of the small country of :func:`make_world`."""
    return mediation_country[0]


@pytest.fixture
def world(mediation_country: tuple[Database, World]) -> World:
    return mediation_country[1]


def _count(database: Database, model: type) -> int:
    with database.reading() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_a_local_call_answers_the_allowed_fields_and_records_it_like_a_mediated_call(
    database: Database, world: World
) -> None:
    with (
        database.unit_of_work() as session,
        exchange_client(session, client=BENEFITS, user_id="EE38001010008") as calls,
    ):
        answer = calls.call(
            world.service,
            purpose="child-benefit",
            query={"personalCode": world.person},
            issue="case-7",
        )
        assert calls.pending == 1
    assert answer.body["personalCode"] == world.person
    assert set(answer.body) == {"personalCode", "givenNames", "familyName", "birthDate"}
    assert answer.data_subjects == (world.person,)
    assert answer.legal_basis == BASIS
    with database.reading() as session:
        row = message_row(session, message_id=answer.message_id)
        assert row["client_xroad_id"] == f"{INSTANCE}/{BENEFITS}"
        assert row["purpose"] == "child-benefit"
        assert row["status"] == 200
        social = member_signing_key(session, member_id=row["client_member_id"])
        register = member_signing_key(session, member_id=row["provider_member_id"])
        assert signatures_valid(row, client=social.verifying_key, provider=register.verifying_key)
        usage = session.scalars(
            select(DataUsageRecord).where(DataUsageRecord.message_id == answer.message_id)
        ).one()
        assert usage.subject_code == world.person
        assert usage.purpose == "child-benefit"
        assert usage.case_reference == "case-7"
        assert usage.user_id == "EE38001010008"
        assert usage.receiver_member_code == "70009997"
        head = latest_tree_head(session)
        assert head is not None
        proof = inclusion_proof(session, index=row["log_index"], tree_size=head.tree_size)
        assert verify_inclusion(
            leaf_hash(message_leaf(row)), proof.index, head.tree_size, proof.path, head.root_hash
        )
    assert _count(database, CallRecord) == 1


def test_the_register_reference_of_an_event_resolves_the_person(
    database: Database, world: World
) -> None:
    with database.reading() as session:
        person_id = find_person_id(session, personal_code=world.person)
    with database.unit_of_work() as session, exchange_client(session, client=BENEFITS) as calls:
        answer = calls.call(
            world.service, purpose="child-benefit", query={"personRef": str(person_id)}
        )
        assert answer.body["personalCode"] == world.person
        with pytest.raises(NotFound):
            calls.call(world.service, purpose="child-benefit", query={"personRef": "999999999"})
        with pytest.raises(ValidationFailed):
            calls.call(world.service, purpose="child-benefit", query={"personRef": "12a"})
    # the rejected questions are on record too, as the provider's refusals
    with database.reading() as session:
        statuses = sorted(session.scalars(select(MessageLogRecord.status)))
    assert statuses == [200, 404, 422]


@pytest.mark.parametrize(
    ("purpose", "fields", "error_type", "status"),
    [
        ("", None, "Client.MissingPurpose", 400),
        ("school-enrolment", None, "Client.PurposeNotAllowed", 403),
        ("child-benefit", ["residenceAddress"], "Client.FieldsNotAllowed", 403),
    ],
)
def test_a_local_call_outside_its_right_is_refused_and_the_refusal_recorded(
    database: Database,
    world: World,
    purpose: str,
    fields: list[str] | None,
    error_type: str,
    status: int,
) -> None:
    with database.unit_of_work() as session, exchange_client(session, client=BENEFITS) as calls:
        with pytest.raises(LocalCallRefused) as refused:
            calls.call(
                world.service, purpose=purpose, query={"personalCode": world.person}, fields=fields
            )
        assert refused.value.error_type == error_type
    with database.reading() as session:
        row = session.scalars(select(MessageLogRecord)).one()
        assert (row.status, row.error_type) == (status, error_type)
    assert _count(database, DataUsageRecord) == 0


def test_a_subsystem_without_a_right_reads_nothing(database: Database, world: World) -> None:
    with (
        database.unit_of_work() as session,
        exchange_client(session, client="GOV/70009998/investigations") as calls,
    ):
        with pytest.raises(LocalCallRefused) as refused:
            calls.call(
                world.service.replace("/person", "/relations"),
                purpose="investigation",
                query={"personalCode": world.person},
            )
        assert refused.value.error_type == "Client.AccessDenied"
        with pytest.raises(LocalCallRefused) as unknown:
            calls.call(
                f"GOV/{world.population}/population/no-such-service",
                purpose="investigation",
                query={"personalCode": world.person},
            )
        assert unknown.value.error_type == "Server.ServerProxy.UnknownService"
    assert _count(database, DataUsageRecord) == 0
    assert _count(database, MessageLogRecord) == 2


def test_a_right_revoked_between_two_calls_of_one_client_refuses_the_second(
    database: Database, world: World
) -> None:
    """A client remembers what the directory decided only while that directory is in force:
    a right revoked meanwhile (another snapshot) refuses the next call, which is recorded."""
    with database.unit_of_work() as session, exchange_client(session, client=BENEFITS) as calls:
        calls.call(world.service, purpose="child-benefit", query={"personalCode": world.person})
        rights = list_access_rights(
            session,
            page=PageRequest(limit=50),
            client=SubsystemRef.parse(BENEFITS, instance=INSTANCE),
            service=ServiceRef.parse(world.service, instance=INSTANCE),
        ).items
        for right in rights:
            revoke_access_right(session, right_id=right.id, reason="abolished", actor="test")
        with pytest.raises(LocalCallRefused) as refused:
            calls.call(world.service, purpose="child-benefit", query={"personalCode": world.person})
        assert refused.value.error_type == "Client.AccessDenied"
    with database.reading() as session:
        statuses = sorted(session.scalars(select(MessageLogRecord.status)))
    assert statuses == [200, 403]
    assert _count(database, DataUsageRecord) == 1


def test_a_decision_kept_with_the_snapshot_serves_only_the_client_it_was_made_for(
    database: Database, world: World
) -> None:
    """The directory snapshot keeps the calls it authorised for every client of the process:
    one client's right is never another's, and the day and purpose are part of the question."""
    from joinedup.exchange.directory import current_directory

    with database.unit_of_work() as session:
        with exchange_client(session, client=BENEFITS) as calls:
            # the first call of a member may give it its signing key (another snapshot)
            calls.call(world.service, purpose="child-benefit", query={"personalCode": world.person})
            calls.call(world.service, purpose="child-benefit", query={"personalCode": world.person})
        kept = current_directory(session).decisions
        assert any(shape[3] == "child-benefit" for shape in kept)
        with exchange_client(session, client="GOV/70009998/investigations") as other:
            with pytest.raises(LocalCallRefused) as refused:
                other.call(
                    world.service, purpose="child-benefit", query={"personalCode": world.person}
                )
            assert refused.value.error_type == "Client.PurposeNotAllowed"
        with exchange_client(session, client=BENEFITS) as again:
            with pytest.raises(LocalCallRefused) as wrong_purpose:
                again.call(
                    world.service, purpose="investigation", query={"personalCode": world.person}
                )
            assert wrong_purpose.value.error_type == "Client.PurposeNotAllowed"
        now = current_directory(session).decisions  # (another snapshot, if a key was made)
        assert not any(shape[3] == "investigation" for shape in (*kept, *now))  # refusals
    assert _count(database, DataUsageRecord) == 2


def test_an_unknown_client_subsystem_is_refused_before_any_call(
    database: Database, world: World
) -> None:
    with database.unit_of_work() as session:
        opening = exchange_client(session, client="GOV/70009997/no-such-system")
        with pytest.raises(NotFound):
            opening.__enter__()


def test_records_are_written_only_with_the_callers_work(database: Database, world: World) -> None:
    def read_then_fail() -> None:
        with database.unit_of_work() as session:
            with exchange_client(session, client=BENEFITS) as calls:
                calls.call(
                    world.service, purpose="child-benefit", query={"personalCode": world.person}
                )
            raise RuntimeError("the caller's work failed after the read")

    with pytest.raises(RuntimeError):
        read_then_fail()
    assert _count(database, MessageLogRecord) == 0
    assert _count(database, DataUsageRecord) == 0


def test_many_calls_share_one_signed_tree_head(database: Database, world: World) -> None:
    with database.reading() as session:
        before = latest_tree_head(session)
    signer = load_log_signing_key(get_settings())
    with (
        database.unit_of_work() as session,
        exchange_client(session, client=BENEFITS, log_signer=signer) as calls,
    ):
        for _ in range(5):
            calls.call(world.service, purpose="child-benefit", query={"personalCode": world.person})
    with database.reading() as session:
        after = latest_tree_head(session)
    assert after is not None
    assert after.tree_size - (before.tree_size if before else 0) == 10  # 5 messages, 5 usages
    assert _count(database, DataUsageRecord) == 5


def test_the_records_of_a_block_are_written_when_its_transaction_commits(
    database: Database, world: World
) -> None:
    """A block's records wait for the commit, and every block of the transaction shares one
    transparency-log batch (one signed tree head): on PostgreSQL the log's lock, held until
    the commit, is taken there and not where the first block ended."""
    with database.reading() as session:
        before = latest_tree_head(session)
    with database.unit_of_work() as session:
        for _ in range(2):
            with exchange_client(session, client=BENEFITS) as calls:
                calls.call(
                    world.service, purpose="child-benefit", query={"personalCode": world.person}
                )
        assert session.scalar(select(func.count()).select_from(DataUsageRecord)) == 0
        if database.engine.dialect.name == "postgresql":
            with database.engine.connect() as other:  # the log's lock is free until the commit
                assert other.scalar(
                    text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": APPEND_LOCK_KEY}
                )
                other.rollback()
    with database.reading() as session:
        after = latest_tree_head(session)
        heads = session.scalar(
            select(func.count())
            .select_from(TreeHead)
            .where(TreeHead.tree_size > (before.tree_size if before else 0))
        )
    assert after is not None
    assert after.tree_size - (before.tree_size if before else 0) == 4  # 2 messages, 2 usages
    assert heads == 1
    assert _count(database, DataUsageRecord) == 2


def test_write_records_now_writes_them_in_the_callers_transaction(
    database: Database, world: World
) -> None:
    with database.unit_of_work() as session:
        with exchange_client(session, client=BENEFITS) as calls:
            answer = calls.call(
                world.service, purpose="child-benefit", query={"personalCode": world.person}
            )
        write_records_now(session)
        usage = session.scalars(
            select(DataUsageRecord).where(DataUsageRecord.message_id == answer.message_id)
        ).one()
        assert usage.subject_code == world.person
        write_records_now(session)  # (nothing left: written once)
    assert _count(database, DataUsageRecord) == 1
    assert _count(database, MessageLogRecord) == 1


def test_a_rolled_back_transaction_leaves_no_records_for_the_sessions_next(
    database: Database, world: World
) -> None:
    with database.session_factory() as session:
        with session.begin():
            with exchange_client(session, client=BENEFITS) as calls:
                calls.call(
                    world.service, purpose="child-benefit", query={"personalCode": world.person}
                )
            session.rollback()
        with session.begin():  # the same session's next transaction writes nothing of them
            pass
    assert _count(database, DataUsageRecord) == 0
    assert _count(database, MessageLogRecord) == 0


def test_a_block_in_a_transaction_that_only_reads_does_not_drop_its_records(
    database: Database, world: World
) -> None:
    """A read-only transaction never commits: its block's records are written when the block
    ends, as before — refused on SQLite, whose reading connections cannot write (an error,
    never a call left without its record)."""

    def read_in_a_reading_transaction() -> None:
        with (
            database.reading() as session,
            exchange_client(session, client=BENEFITS) as calls,
        ):
            calls.call(world.service, purpose="child-benefit", query={"personalCode": world.person})
            assert calls.pending == 1

    if database.dialect == "sqlite":
        with pytest.raises(OperationalError, match="readonly"):
            read_in_a_reading_transaction()
    else:  # (written in it, and rolled back with it)
        read_in_a_reading_transaction()
    assert _count(database, MessageLogRecord) == 0
