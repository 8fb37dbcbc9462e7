"""A batch of life events reads whom they concern in one ``person-codes`` call, and the
households its household benefits are decided for in one ``population-extract`` call per day:
the same decisions and the same data-usage records, per person, as reading them one person
at a time, in a handful of messages. A deployment whose routing subsystem has no right to
``person-codes`` yet resolves one person at a time."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from proactive_support import clone, latest_events, low_income_adults, record_birth, what_they_hold
from sqlalchemy import bindparam, text
from sqlalchemy import event as sqlalchemy_event
from sqlalchemy.orm import Session
from structlog.testing import capture_logs

from exchange_messages import last_message, messages_since
from joinedup.cli.server import _seed
from joinedup.core.clock import today
from joinedup.core.db import Database
from joinedup.core.settings import Settings, get_settings
from joinedup.demo.agencies import organisation
from joinedup.demo.exchange_setup import setup_exchange, update_demo_exchange
from joinedup.exchange import INCOMES, PERSON_CODES, RELATIVES, exchange_client
from joinedup.exchange.directory import bump_generation
from joinedup.exchange.service.rights import revoke_access_right
from joinedup.proactive.handlers import handle_births
from joinedup.proactive.service.gathering import Gatherer
from joinedup.proactive.service.households import household_of, households_of

BIRTH = "population.birth_registered.v1"


def _births(database: Database, count: int) -> tuple[list[Any], list[str]]:
    """``count`` births to distinct low-income mothers, on two days; their events."""
    mothers = low_income_adults(database, sex="F", count=count)
    for number, mother in enumerate(mothers):
        record_birth(
            database, mother=mother, father=None, born=today() - timedelta(days=number % 2)
        )
    return latest_events(database, BIRTH, count=count), mothers


def _last_usage(database: Database) -> int:
    with database.reading() as session:
        return int(
            session.execute(text("SELECT coalesce(max(id), 0) FROM exchange_data_usage")).scalar()
        )


def _usages(database: Database, since: int, service: str) -> set[tuple[str, str, str]]:
    """The data-usage records left after the row ``since`` by reads of ``service``: whose
    data, who read it, for what purpose."""
    with database.reading() as session:
        rows = session.execute(
            text(
                "SELECT subject_code, receiver_member_code, purpose FROM exchange_data_usage "
                "WHERE id > :since AND service_xroad_id LIKE :service"
            ),
            {"since": since, "service": f"%/{service}"},
        ).all()
    return {(str(a), str(b), str(c)) for a, b, c in rows}


#: A bulk service → the single one, and the fields the single read asks for.
_READ_ALONE = {
    RELATIVES: ("relations", ("children",)),
    INCOMES: ("income-totals", ("monthlyTotals",)),
}


def _read_alone(service: str, purpose: str, fields: tuple[str, ...]) -> tuple[Any, ...]:
    """A read recorded by a bulk service as the single read records it."""
    head, _, code = service.rpartition("/")
    if code not in _READ_ALONE:
        return service, purpose, fields
    single, single_fields = _READ_ALONE[code]
    return f"{head}/{single}", purpose, single_fields


def _as_read_alone(held: dict[str, Any]) -> dict[str, Any]:
    """What persons hold, their family and incomes read in bulk (``relatives``: the children,
    by register reference; ``incomes``: the monthly totals, by register reference) written as
    the single reads record them (``relations``: the children; ``income-totals``: the
    monthly totals)."""
    for person in held.values():
        person["usage"] = sorted(_read_alone(*usage) for usage in person["usage"])
    return held


def _one_at_a_time(database: Database, events: list[Any]) -> None:
    for event in events:
        with database.unit_of_work() as session:
            handle_births(session, [event])


def test_a_batch_reads_together_and_decides_as_one_at_a_time(
    seeded: Database, tmp_path: Path
) -> None:
    events, mothers = _births(seeded, 4)
    children = [str(event.payload["person_id"]) for event in events]
    alone = clone(seeded, tmp_path / "alone.db")
    try:
        before, used_before = last_message(seeded), _last_usage(seeded)
        with seeded.unit_of_work() as session:
            handle_births(session, events)
        together = messages_since(seeded, before)
        before_alone, used_before_alone = last_message(alone), _last_usage(alone)
        _one_at_a_time(alone, events)
        apart = messages_since(alone, before_alone)
        assert together[PERSON_CODES] == 1  # every newborn and mother of the batch
        assert apart[PERSON_CODES] == len(events)
        assert together["population-extract"] == 2  # one per day of birth
        assert apart["population-extract"] == len(events)
        # the mothers' families and incomes (parental benefit; the incomes those of their
        # evaluations asked for): one bulk read per day, not one each — the same persons
        # read, by the same agency, for the same purpose
        for bulk, (single, _) in _READ_ALONE.items():
            assert together[bulk] == 2
            assert single not in together
            assert apart[single] == len(events)
            assert bulk not in apart
            read_together = _usages(seeded, used_before, bulk)
            assert read_together == _usages(alone, used_before_alone, single)
            assert set(mothers) <= {subject for subject, _, _ in read_together}
        assert _as_read_alone(what_they_hold(seeded, *mothers)) == what_they_hold(alone, *mothers)
        granted = what_they_hold(seeded, *mothers)
        assert all(held["entitlements"] for held in granted.values()), granted
    finally:
        alone.dispose()
    assert len(set(children)) == len(events)


def _holders_asked(database: Database) -> Any:
    """A counter of the statements asking who holds a service (``holders_of``)."""
    asked: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        flat = " ".join(statement.split())
        if flat.startswith("SELECT proactive_entitlement.person_code FROM proactive_entitlement"):
            asked.append(flat)

    return asked, seen


def test_a_batch_asks_who_holds_its_household_benefits_once_per_service(
    seeded: Database, tmp_path: Path
) -> None:
    """Each household's payee is chosen among who holds the benefit already: a batch reads
    that for all its households in one query per service and occasion, and decides as one
    birth at a time does."""
    events, mothers = _births(seeded, 4)
    alone = clone(seeded, tmp_path / "alone.db")
    try:
        counts = []
        for database, handle in (
            (seeded, lambda db: _in_one(db, events)),
            (alone, lambda db: _one_at_a_time(db, events)),
        ):
            asked, seen = _holders_asked(database)
            sqlalchemy_event.listen(database.engine, "before_cursor_execute", seen)
            try:
                handle(database)
            finally:
                sqlalchemy_event.remove(database.engine, "before_cursor_execute", seen)
            counts.append(len(asked))
        together, apart = counts
        # child benefit and the birth grant for each birth's household, one at a time; in the
        # batch at most one per service and month of birth (two days: one month or two)
        assert apart == 2 * len(events)
        assert 2 <= together <= 4
        assert _as_read_alone(what_they_hold(seeded, *mothers)) == what_they_hold(alone, *mothers)
    finally:
        alone.dispose()


def test_a_batchs_letters_read_the_recipients_preferences_once(seeded: Database) -> None:
    """The decision letters of a batch of births are written in each recipient's language and
    sent on their channel, both read in one query for the batch (the sending used to read
    them again)."""
    events, mothers = _births(seeded, 3)
    asked: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        flat = " ".join(statement.split())
        if flat.startswith("SELECT") and "FROM notify_preference" in flat:
            asked.append(flat)

    sqlalchemy_event.listen(seeded.engine, "before_cursor_execute", seen)
    try:
        _in_one(seeded, events)
    finally:
        sqlalchemy_event.remove(seeded.engine, "before_cursor_execute", seen)
    assert len(asked) == 1
    held = what_they_hold(seeded, *mothers)
    assert all(h["letters"] for h in held.values()), held


def _in_one(database: Database, events: list[Any]) -> None:
    with database.unit_of_work() as session:
        handle_births(session, events)


def test_households_read_together_are_those_read_one_by_one(seeded: Database) -> None:
    """Twins (two chosen persons of one household), a mother's household asked for itself,
    someone without a residence, someone dead, and one person asked for two months: the same
    households as one call each."""
    events, mothers = _births(seeded, 3)
    record_birth(seeded, mother=mothers[0], father=None, born=today())  # a twin
    (twin,) = latest_events(seeded, BIRTH)
    refs = [int(event.payload["person_id"]) for event in [*events, twin]]
    with seeded.unit_of_work() as session:
        mother_ref, homeless, dead = session.execute(
            text(
                "SELECT (SELECT id FROM person WHERE personal_code = :mother), "
                "(SELECT min(p.id) FROM person p WHERE NOT EXISTS (SELECT 1 FROM residence r "
                " WHERE r.person_id = p.id AND r.superseded_at IS NULL AND r.valid_to IS NULL)), "
                "(SELECT min(id) FROM person WHERE date_of_death IS NOT NULL)"
            ),
            {"mother": mothers[0]},
        ).one()
    assert homeless is not None  # (the seeded country has both)
    assert dead is not None
    this_month = today().replace(day=1)
    next_month = (this_month + timedelta(days=32)).replace(day=1)
    wanted = [(ref, this_month) for ref in [*refs, mother_ref, homeless, dead]]
    wanted.append((refs[0], next_month))
    sib = organisation("social-insurance")
    client = f"{sib.member_class}/{sib.member_code}/benefits"
    with seeded.unit_of_work() as session, exchange_client(session, client=client) as calls:
        together = households_of(Gatherer(calls, purpose="benefit-eligibility", on=today()), wanted)
        one_by_one = {
            (ref, first): household_of(
                Gatherer(calls, purpose="benefit-eligibility", on=today()), ref, first_day=first
            )
            for ref, first in wanted
        }
    assert together == one_by_one
    twins = together[refs[0], this_month]
    assert twins == together[refs[-1], this_month] == together[mother_ref, this_month]
    assert len(twins.children) >= 2
    assert twins.birth_parent == mothers[0]
    assert together[homeless, this_month].address_ref is None


def _rights_on(session: Session, code: str) -> list[int]:
    """The rights on the service ``code``."""
    return list(
        session.execute(
            text(
                "SELECT r.id FROM exchange_access_right r JOIN exchange_service s "
                "ON s.id = r.service_id WHERE s.code = :code"
            ),
            {"code": code},
        ).scalars()
    )


def _routing_rights(session: Session) -> list[int]:
    """The life-event routing subsystem's rights on ``person-codes`` (the portal has one
    too, for the deaths that end mandates)."""
    routing = get_settings().life_event_subsystem.rsplit("/", 1)[-1]
    return list(
        session.execute(
            text(
                "SELECT r.id FROM exchange_access_right r JOIN exchange_service s "
                "ON s.id = r.service_id JOIN exchange_subsystem c "
                "ON c.id = r.client_subsystem_id WHERE s.code = :code AND c.code = :client"
            ),
            {"code": PERSON_CODES, "client": routing},
        ).scalars()
    )


def test_without_a_right_to_person_codes_one_person_at_a_time(seeded: Database) -> None:
    """A deployment whose routing subsystem may read ``person`` only (its right to
    ``person-codes`` revoked, or never granted)."""
    events, mothers = _births(seeded, 3)
    with seeded.unit_of_work() as session:
        for right in _routing_rights(session):
            revoke_access_right(session, right_id=right, reason="test", actor="test")
    before = last_message(seeded)
    with capture_logs() as logs, seeded.unit_of_work() as session:
        handle_births(session, events)
    calls = messages_since(seeded, before)
    assert calls[PERSON_CODES] == 1  # refused, and on record
    assert calls["person"] == 2 * len(events)  # each newborn and mother
    assert all(held["entitlements"] for held in what_they_hold(seeded, *mothers).values())
    assert [log["error_type"] for log in logs if log["event"] == "person_codes_refused"] == [
        "Client.AccessDenied"
    ]


@pytest.mark.parametrize("bulk", [RELATIVES, INCOMES])
def test_without_a_right_to_a_bulk_read_each_is_read_alone(seeded: Database, bulk: str) -> None:
    """A deployment that has not granted the benefits agency ``relatives`` (or ``incomes``):
    the bulk read is refused (on record, and logged) and each mother's family (income) is
    read as before — the evaluations that waited for the incomes read them alone and decide
    as they would have."""
    single, _ = _READ_ALONE[bulk]
    events, mothers = _births(seeded, 4)
    with seeded.unit_of_work() as session:
        for right in _rights_on(session, bulk):
            revoke_access_right(session, right_id=right, reason="test", actor="test")
    before = last_message(seeded)
    with capture_logs() as logs, seeded.unit_of_work() as session:
        handle_births(session, events)
    calls = messages_since(seeded, before)
    assert calls[bulk] == 2  # refused, one per day, and on record
    assert calls[single] == len(events)
    granted = what_they_hold(seeded, *mothers)
    assert all(held["entitlements"] for held in granted.values()), granted
    refused = [log["error_type"] for log in logs if log["event"] == f"{bulk}_ahead_refused"]
    assert refused == ["Client.AccessDenied", "Client.AccessDenied"]


def _forget_person_codes(database: Database, *, service_too: bool) -> None:
    """The database as an earlier version set it up: no right on ``person-codes`` (and, with
    ``service_too``, the service not published)."""
    with database.unit_of_work() as session:
        rights = {"rights": _rights_on(session, PERSON_CODES)}
        session.execute(
            text("DELETE FROM exchange_access_right_purpose WHERE right_id IN :rights").bindparams(
                bindparam("rights", expanding=True)
            ),
            rights,
        )
        session.execute(
            text("DELETE FROM exchange_access_right WHERE id IN :rights").bindparams(
                bindparam("rights", expanding=True)
            ),
            rights,
        )
        if service_too:
            session.execute(
                text("DELETE FROM exchange_service WHERE code = :code"), {"code": PERSON_CODES}
            )
        bump_generation(session)


@pytest.mark.parametrize("published", [False, True])
def test_a_demo_set_up_before_person_codes_gets_it(seeded: Database, published: bool) -> None:
    """Setting the demo exchange up again publishes a registry service declared since, and
    grants the demo's rights not granted yet (on it, or on a service an administrator
    published meanwhile)."""
    _forget_person_codes(seeded, service_too=not published)
    with seeded.unit_of_work() as session:
        assert setup_exchange(session, seed=7) is False  # it existed: brought up to date
        assert len(_routing_rights(session)) == 1
    events, _ = _births(seeded, 2)
    before = last_message(seeded)
    with seeded.unit_of_work() as session:
        handle_births(session, events)
    calls = messages_since(seeded, before)
    assert calls[PERSON_CODES] == 1
    assert "person" not in calls


def test_a_demo_reusing_its_country_brings_its_exchange_up_to_date(seeded: Database) -> None:
    """``joinedup demo`` (and ``seed`` without ``--force``) reuse a seeded country: its demo
    exchange gets what this version declared since."""
    _forget_person_codes(seeded, service_too=True)
    _seed(Settings(database_url=seeded.url), persons=100, seed=7, only_if_empty=True)
    with seeded.reading() as session:
        assert len(_routing_rights(session)) == 1


def test_a_demo_right_revoked_stays_revoked(seeded: Database) -> None:
    with seeded.unit_of_work() as session:
        for right in _routing_rights(session):
            revoke_access_right(session, right_id=right, reason="test", actor="test")
    with seeded.unit_of_work() as session:
        setup_exchange(session, seed=7)
        (right,) = _routing_rights(session)
        revoked = session.execute(
            text("SELECT revoked_at FROM exchange_access_right WHERE id = :id"), {"id": right}
        ).scalar()
    assert revoked is not None


def _rights_by_purpose(session: Session) -> dict[tuple[str, str, str], int]:
    rows = session.execute(
        text(
            "SELECT c.code, s.code, p.purpose, count(*) FROM exchange_access_right r "
            "JOIN exchange_access_right_purpose p ON p.right_id = r.id "
            "JOIN exchange_subsystem c ON c.id = r.client_subsystem_id "
            "JOIN exchange_service s ON s.id = r.service_id "
            "GROUP BY c.code, s.code, p.purpose"
        )
    ).all()
    return {(client, service, purpose): count for client, service, purpose, count in rows}


def test_a_demo_right_beside_another_on_the_same_service_is_granted(seeded: Database) -> None:
    """The Social Insurance Board's benefits subsystem holds several rights on ``person``
    (one per purpose): one of them missing is granted again, and no other twice."""
    with seeded.unit_of_work() as session:
        before = _rights_by_purpose(session)
        (right,) = session.execute(
            text(
                "SELECT r.id FROM exchange_access_right r "
                "JOIN exchange_access_right_purpose p ON p.right_id = r.id "
                "JOIN exchange_subsystem c ON c.id = r.client_subsystem_id "
                "JOIN exchange_service s ON s.id = r.service_id "
                "WHERE c.code = 'benefits' AND s.code = 'person' "
                "AND p.purpose = 'benefit-eligibility'"
            )
        ).scalars()
        others = session.execute(
            text(
                "SELECT count(*) FROM exchange_access_right r "
                "JOIN exchange_subsystem c ON c.id = r.client_subsystem_id "
                "JOIN exchange_service s ON s.id = r.service_id "
                "WHERE c.code = 'benefits' AND s.code = 'person' AND r.id <> :id"
            ),
            {"id": right},
        ).scalar()
        assert others  # (the point: another right on the same service)
        session.execute(
            text("DELETE FROM exchange_access_right_purpose WHERE right_id = :id"), {"id": right}
        )
        session.execute(text("DELETE FROM exchange_access_right WHERE id = :id"), {"id": right})
        bump_generation(session)
    with seeded.unit_of_work() as session:
        assert update_demo_exchange(session)
        assert _rights_by_purpose(session) == before


def test_a_demo_right_whose_client_an_earlier_version_lacked_is_left_out(
    seeded: Database,
) -> None:
    """An earlier version did not create a subsystem a demo right is for: the others are
    granted, that one is logged, and the demo still starts."""
    _forget_person_codes(seeded, service_too=False)
    with seeded.unit_of_work() as session:
        session.execute(text("UPDATE exchange_subsystem SET code = 'post' WHERE code = 'mailbox'"))
        bump_generation(session)
    with capture_logs() as logs, seeded.unit_of_work() as session:
        assert update_demo_exchange(session)
        assert len(_routing_rights(session)) == 1
    left_out = [log for log in logs if log["event"] == "demo_right_not_granted"]
    assert left_out
    assert all(log["client"].endswith("/mailbox") for log in left_out)
