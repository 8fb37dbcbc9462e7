"""Tell Us Once taking a death in: the agencies' subscriptions and their bad input, a death
event taken in exactly once, and the next of kin's letter when no agency needs telling."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from sqlalchemy import select
from tuo_support import (
    PENSION_SERVICE,
    SIB,
    letters_to,
    married_couples,
    record_death,
    rows,
    scalar,
    take_in_deaths,
)

from joinedup import notify, tellusonce
from joinedup.core.clock import today
from joinedup.core.db import Database
from joinedup.core.errors import Conflict, NotFound, ValidationFailed
from joinedup.demo import organisation

# --- subscriptions ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"life_event": "birthday"}, "lifeEvent"),
        ({"scope": "galaxy"}, "scope"),
        ({"service": "not/a/service"}, "service"),
        ({"service": f"GOV/{SIB.member_code}/benefits/no-such-service"}, "service"),
        ({"service": f"GOV/{organisation('population-register').member_code}/population/person"},
         "service"),  # a registry's service, not an agency's own
        ({"scope": "residents"}, "scope"),  # a national agency has no municipality
    ],
)  # fmt: skip
def test_a_bad_subscription_is_refused_naming_the_field(
    seeded: Database, changes: dict[str, str], field: str
) -> None:
    values: dict[str, Any] = {"life_event": "marriage", "service": PENSION_SERVICE}
    values.update(changes)
    before = scalar(seeded, "SELECT count(*) FROM tellusonce_subscription")
    with pytest.raises(ValidationFailed) as refused, seeded.unit_of_work() as session:
        tellusonce.subscribe_agency(session, actor="test", **values)
    assert refused.value.extensions["errors"][0]["field"] == field
    assert scalar(seeded, "SELECT count(*) FROM tellusonce_subscription") == before


def test_an_agency_subscribes_once_ends_and_subscribes_again(seeded: Database) -> None:
    with seeded.unit_of_work() as session:
        record = tellusonce.subscribe_agency(
            session, life_event="marriage", service=PENSION_SERVICE, actor="test"
        )
    assert record.service == PENSION_SERVICE
    assert record.member_name == SIB.name
    with pytest.raises(Conflict), seeded.unit_of_work() as session:
        tellusonce.subscribe_agency(
            session, life_event="marriage", service=PENSION_SERVICE, actor="test"
        )
    with seeded.unit_of_work() as session:
        ended = tellusonce.end_subscription(session, subscription_id=record.id, actor="test")
    assert not ended.active
    with pytest.raises(Conflict), seeded.unit_of_work() as session:
        tellusonce.end_subscription(session, subscription_id=record.id, actor="test")
    with pytest.raises(NotFound), seeded.unit_of_work() as session:
        tellusonce.end_subscription(session, subscription_id=10**6, actor="test")
    with seeded.unit_of_work() as session:
        again = tellusonce.subscribe_agency(
            session, life_event="marriage", service=PENSION_SERVICE, actor="test"
        )
        assert again.id == record.id
        assert again.active
        deaths = tellusonce.list_subscriptions(session, life_event="death")
    # the demo: four national agencies for every death, each municipality for its residents
    assert sum(s.scope == "all" for s in deaths) == 4
    assert {s.scope for s in deaths} == {"all", "residents"}


# --- taking a death in ---------------------------------------------------------------------


def test_a_death_event_of_an_unknown_person_writes_nothing(seeded: Database) -> None:
    with seeded.unit_of_work() as session:
        found = tellusonce.receive_death(
            session,
            source_event_id=uuid.uuid4(),
            person_ref=10**9,
            date_of_death=today(),
            actor="test",
        )
    assert found is None
    assert scalar(seeded, "SELECT count(*) FROM tellusonce_life_event") == 0


def test_the_same_event_twice_is_taken_in_once(seeded: Database) -> None:
    couple = married_couples(seeded)[0]
    record_death(seeded, couple.deceased, "CRVS-UNIT-1")
    event_id, payload = rows(
        seeded,
        "SELECT event_id, payload FROM outbox_event WHERE name = 'population.death_registered.v1'",
    )[0]
    payload = json.loads(payload) if isinstance(payload, str) else payload
    for expected in (True, False):  # even without the consumer's inbox
        with seeded.unit_of_work() as session:
            found = tellusonce.receive_death(
                session,
                source_event_id=uuid.UUID(str(event_id)),
                person_ref=payload["person_id"],
                date_of_death=today(),
                actor="test",
            )
        assert (found is not None) is expected
    assert scalar(seeded, "SELECT count(*) FROM tellusonce_life_event") == 1
    assert scalar(seeded, "SELECT count(*) FROM tellusonce_notification") == 5


def test_without_subscribers_the_next_of_kin_still_get_a_letter_in_their_language(
    seeded: Database,
) -> None:
    couple = married_couples(seeded)[0]
    with seeded.unit_of_work() as session:
        for subscription in tellusonce.list_subscriptions(session):
            tellusonce.end_subscription(session, subscription_id=subscription.id, actor="test")
        notify.set_delivery_preference(
            session, person_code=couple.spouse, locale="et", actor="test"
        )
    record_death(seeded, couple.deceased, "CRVS-UNIT-2")
    assert take_in_deaths(seeded) == 1
    assert scalar(seeded, "SELECT status FROM tellusonce_life_event") == "completed"
    (letter,) = letters_to(seeded, couple.spouse)
    paragraphs = letter[1] if isinstance(letter[1], list) else json.loads(letter[1])
    assert letter[0].startswith("Teavitasime riigiasutusi")
    assert "Teisi asutusi ei olnud vaja teavitada." in paragraphs


def test_a_batch_of_deaths_is_read_through_one_client_and_taken_in_each(
    seeded: Database,
) -> None:
    """The consumer takes a batch of deaths in with one Tell Us Once client: every deceased
    and next of kin read (a data-usage record each), the records written together (one
    signed tree head), a life event and its notifications per death."""
    from joinedup.core.events import Delivered
    from joinedup.core.outbox import OutboxEvent
    from joinedup.tellusonce.handlers import take_in_deaths as consume

    couples = married_couples(seeded, 2)
    for number, couple in enumerate(couples):
        record_death(seeded, couple.deceased, f"CRVS-BATCH-{number}")
    with seeded.reading() as session:
        events = [
            Delivered.of(row, stream_seq=row.id)
            for row in session.scalars(
                select(OutboxEvent)
                .where(OutboxEvent.name == "population.death_registered.v1")
                .order_by(OutboxEvent.id)
            )
        ]
    heads = scalar(seeded, "SELECT count(*) FROM tlog_tree_head")
    with seeded.unit_of_work() as session:
        consume(session, events)
    assert scalar(seeded, "SELECT count(*) FROM tlog_tree_head") == heads + 1
    assert scalar(seeded, "SELECT count(*) FROM tellusonce_life_event") == len(couples)
    assert scalar(seeded, "SELECT count(*) FROM tellusonce_notification") == 5 * len(couples)
    read = {
        code
        for (code,) in rows(
            seeded,
            "SELECT subject_code FROM exchange_data_usage WHERE purpose = 'tell-us-once'",
        )
    }
    assert {code for c in couples for code in (c.deceased, c.spouse)} <= read


def test_a_batch_of_deaths_is_written_together(seeded: Database) -> None:
    """The deaths of a batch are read one by one and written together: one statement for
    their life events and one for their notifications (each event's own five), whatever the
    batch holds — a death twice (taken in once), a person the register does not know
    (nothing written for it) — and each gets its life event's id back."""
    from sqlalchemy import event as sqlalchemy_event

    couples = married_couples(seeded, 3)
    deaths = []
    for number, couple in enumerate(couples):
        record_death(seeded, couple.deceased, f"CRVS-TOGETHER-{number}")
    for event_id, payload in rows(
        seeded,
        "SELECT event_id, payload FROM outbox_event "
        "WHERE name = 'population.death_registered.v1' ORDER BY id",
    ):
        payload = json.loads(payload) if isinstance(payload, str) else payload
        deaths.append(tellusonce.Death(uuid.UUID(str(event_id)), payload["person_id"], today()))
    unknown = tellusonce.Death(uuid.uuid4(), 10**9, today())
    batch = [deaths[0], unknown, deaths[1], deaths[0], deaths[2]]
    inserts: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        flat = " ".join(statement.split())
        if flat.startswith("INSERT INTO tellusonce_"):
            inserts.append(flat.split(" ")[2])

    sqlalchemy_event.listen(seeded.engine, "before_cursor_execute", seen)
    try:
        with seeded.unit_of_work() as session:
            found = tellusonce.receive_deaths(session, batch, actor="test")
    finally:
        sqlalchemy_event.remove(seeded.engine, "before_cursor_execute", seen)
    assert inserts == ["tellusonce_life_event", "tellusonce_notification"]
    assert found[1] is None
    assert found[3] is None
    opened = [found[0], found[2], found[4]]
    assert all(isinstance(life_event, int) for life_event in opened)
    assert len(set(opened)) == 3
    by_event = rows(
        seeded,
        "SELECT e.id, e.subject_code, count(n.id) FROM tellusonce_life_event e "
        "JOIN tellusonce_notification n ON n.life_event_id = e.id GROUP BY e.id, e.subject_code "
        "ORDER BY e.id",
    )
    assert [(life_event, count) for life_event, _, count in by_event] == [
        (life_event, 5) for life_event in opened
    ]
    assert [code for _, code, _ in by_event] == [c.deceased for c in couples]
    received = scalar(
        seeded,
        "SELECT count(*) FROM outbox_event WHERE name = 'tellusonce.life_event_received.v1'",
    )
    assert received == 3
