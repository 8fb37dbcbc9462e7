"""Consumers: one transaction per event through the inbox, retries, dead letters, replay."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections import Counter

import nats
import nats.js.errors
import pytest
from bus_harness import (
    OtherThingHappened,
    Stack,
    ThingHappened,
    bus_url_fixture,  # noqa: F401 (fixture)
    effect_ns,
    effects_fixture,  # noqa: F401 (fixture)
    record_effect,
    registry_of,
    stack_fixture,  # noqa: F401 (fixture)
)
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from joinedup.core.bus import DEAD_LETTERED, DUPLICATE, HANDLED, IGNORED, Verdict
from joinedup.core.bus.jetstream import durable_name
from joinedup.core.clock import utcnow
from joinedup.core.consumers import Consumer, ConsumerRegistry, consumer
from joinedup.core.db import Database
from joinedup.core.errors import Conflict, NotFound
from joinedup.core.events import Delivered
from joinedup.core.handling import (
    MAX_RETRY_DELAY,
    EventHandling,
    list_dead_letters,
    replay_dead_letter,
    retry_delay,
)
from joinedup.core.outbox import ConsumerCursor, DeadLetter, InboxEvent
from joinedup.core.pagination import PageRequest
from joinedup.core.worker import bus_status


def delivered(n: int, *, name: str = ThingHappened.name, seq: int = 1) -> Delivered:
    return Delivered(
        event_id=uuid.uuid4(), name=name, payload={"n": n}, occurred_at=utcnow(), stream_seq=seq
    )


def handling(database: Database, target: Consumer, max_attempts: int = 3) -> EventHandling:
    return EventHandling(database, target, max_attempts=max_attempts, retry_delay=0.05)


class Flaky:
    """Writes its effect, then fails for event ``fail_n`` while ``failing`` is set."""

    def __init__(self, consumer_name: str, fail_n: int) -> None:
        self.write = record_effect(consumer_name)
        self.fail_n = fail_n
        self.failing = True
        self.calls: Counter[int] = Counter()
        self._lock = threading.Lock()

    def __call__(self, session: Session, event: Delivered) -> None:
        n = event.payload["n"]
        with self._lock:
            self.calls[n] += 1
        self.write(session, event)
        if self.failing and n == self.fail_n:
            raise RuntimeError(f"cannot handle event {n}")


# -- registration ---------------------------------------------------------------------------


def test_consumers_register_with_a_decorator() -> None:
    registry = ConsumerRegistry()

    @consumer("proactive.birth", events=["population.birth_registered.v1"], into=registry)
    def offer(session: Session, event: Delivered) -> None:
        """Registered, and still an ordinary function."""

    [registered] = list(registry)
    assert registered == Consumer(
        name="proactive.birth", events=frozenset({"population.birth_registered.v1"}), handler=offer
    )
    assert registry.get("proactive.birth") is registered
    with pytest.raises(NotFound):
        registry.get("nobody")


@pytest.mark.parametrize(
    ("name", "events", "message"),
    [
        ("Proactive Birth", ["a.b.v1"], "consumer name"),
        ("x" * 101, ["a.b.v1"], "consumer name"),
        ("ok", [], "subscribes to no event"),
        ("ok", ["population.*"], "event name"),
        ("ok", ["nodots"], "event name"),
    ],
)
def test_registration_refuses_names_the_bus_cannot_carry(
    name: str, events: list[str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        consumer(name, events=events, into=ConsumerRegistry())(record_effect(name))


def test_one_name_cannot_belong_to_two_handlers() -> None:
    registry = ConsumerRegistry()
    consumer("twice", events=["a.b.v1"], into=registry)(record_effect("first"))
    with pytest.raises(ValueError, match="already registered"):
        consumer("twice", events=["a.b.v1"], into=registry)(Flaky("second", 1))


def test_retries_wait_longer_each_time_up_to_a_limit() -> None:
    assert [retry_delay(2.0, attempt) for attempt in (1, 2, 3, 4)] == [2.0, 4.0, 8.0, 16.0]
    assert retry_delay(2.0, 30) == MAX_RETRY_DELAY


# -- one delivery ---------------------------------------------------------------------------


def test_delivering_the_same_event_twice_applies_it_once(effects: Database) -> None:
    database = effects
    registry = registry_of({"once": [ThingHappened.name]})
    handle = handling(database, registry.get("once"))
    event = delivered(1)

    async def twice() -> list[object]:
        return [await handle(event, 1), await handle(event, 1)]

    assert asyncio.run(twice()) == [HANDLED, DUPLICATE]
    assert effect_ns(database) == [1]


def test_concurrent_deliveries_of_one_event_apply_it_once(effects: Database) -> None:
    database = effects
    """Two workers handed the same event at the same moment (two threads, two connections)."""
    registry = registry_of({"race": [ThingHappened.name]})
    handle = handling(database, registry.get("race"))
    events = [delivered(n, seq=n) for n in range(20)]

    async def race() -> list[object]:
        outcomes: list[object] = []
        for event in events:
            outcomes += await asyncio.gather(handle(event, 1), handle(event, 1))
        return outcomes

    outcomes = asyncio.run(race())
    assert Counter(outcomes) == {HANDLED: 20, DUPLICATE: 20}
    assert sorted(effect_ns(database)) == list(range(20))


def test_events_not_asked_for_are_ignored(database: Database) -> None:
    registry = registry_of({"picky": [ThingHappened.name]})
    handle = handling(database, registry.get("picky"))
    outcome = asyncio.run(handle(delivered(1, name=OtherThingHappened.name), 1))
    assert outcome == IGNORED


def test_a_failing_handler_rolls_back_and_is_retried_then_parked(effects: Database) -> None:
    database = effects
    flaky = Flaky("flaky", fail_n=1)
    target = Consumer(name="flaky", events=frozenset({ThingHappened.name}), handler=flaky)
    handle = handling(database, target, max_attempts=3)
    event = delivered(1)

    outcomes = [asyncio.run(handle(event, attempt)) for attempt in (1, 2, 3)]
    assert [o.verdict for o in outcomes] == [Verdict.RETRY, Verdict.RETRY, Verdict.DEAD_LETTERED]
    assert [o.retry_after for o in outcomes[:2]] == [0.05, 0.1]
    assert effect_ns(database) == []  # every attempt's write was rolled back
    with database.reading() as session:
        assert session.scalar(select(func.count()).select_from(InboxEvent)) == 0
        dead = session.scalars(select(DeadLetter)).one()
        assert (dead.consumer, dead.event_id, dead.attempts) == ("flaky", event.event_id, 3)
        assert dead.error == "RuntimeError: cannot handle event 1"


def test_a_delivery_after_the_last_attempt_is_parked_without_running(database: Database) -> None:
    """The last attempt's process died before reporting: the next delivery gives up."""
    flaky = Flaky("flaky", fail_n=1)
    target = Consumer(name="flaky", events=frozenset({ThingHappened.name}), handler=flaky)
    outcome = asyncio.run(handling(database, target, max_attempts=3)(delivered(1), 4))
    assert outcome == DEAD_LETTERED
    assert flaky.calls == Counter()
    with database.reading() as session:
        dead = session.scalars(select(DeadLetter)).one()
        assert (dead.attempts, dead.error) == (3, "no outcome after the last attempt")


def test_an_event_handled_meanwhile_is_not_parked(effects: Database) -> None:
    database = effects
    registry = registry_of({"steady": [ThingHappened.name]})
    handle = handling(database, registry.get("steady"))
    event = delivered(1)
    assert asyncio.run(handle(event, 1)) == HANDLED
    assert asyncio.run(handle(event, 9)) == DUPLICATE  # redelivered long after: not a failure
    with database.reading() as session:
        assert session.scalar(select(func.count()).select_from(DeadLetter)) == 0


# -- through the bus ------------------------------------------------------------------------


def test_a_failed_event_is_retried_dead_lettered_and_replayed(stack: Stack) -> None:
    flaky = Flaky("bus.flaky", fail_n=2)
    registry = ConsumerRegistry()
    consumer("bus.flaky", events=[ThingHappened.name], into=registry)(flaky)
    [_, failing_id, _] = stack.emit([ThingHappened(n=n) for n in (1, 2, 3)])

    def parked() -> bool:
        with stack.database.reading() as session:
            found = session.scalar(select(func.count()).select_from(DeadLetter))
        return found == 1 and len(stack.effects()) == 2

    stack.run_until(registry, parked)
    assert flaky.calls[2] == stack.settings.bus_max_deliveries == 3
    assert [row.n for row in stack.effects()] == [1, 3]  # event 2's writes were rolled back

    with stack.database.reading() as session:
        page = list_dead_letters(session, consumer="bus.flaky")
        assert (
            bus_status(session, consumers=registry)["consumers"]["bus.flaky"]["dead_letters"] == 1
        )
    [letter] = page.items
    assert (letter.event_id, letter.event_name, letter.attempts) == (
        failing_id,
        ThingHappened.name,
        3,
    )
    assert letter.stream_seq == 2
    assert letter.replayed_at is None

    # Still failing: the replay raises, rolls back, and the letter stays parked.
    with pytest.raises(RuntimeError, match="cannot handle event 2"):
        replay(stack.database, letter.id, registry)
    assert len(list_dead_letters_now(stack.database)) == 1
    assert [row.n for row in stack.effects()] == [1, 3]

    flaky.failing = False  # the operator fixed the cause
    view = replay(stack.database, letter.id, registry)
    assert view.replayed_by == "operator:test"
    assert sorted(row.n for row in stack.effects()) == [1, 2, 3]
    assert list_dead_letters_now(stack.database) == []
    with pytest.raises(Conflict):
        replay(stack.database, letter.id, registry)
    with pytest.raises(NotFound):
        replay(stack.database, letter.id + 1000, registry)

    # The consumer moves on and never applies the replayed event again.
    stack.emit([ThingHappened(n=4)])
    stack.run_until(registry, lambda: len(stack.effects()) == 4)
    assert sorted(row.n for row in stack.effects()) == [1, 2, 3, 4]


def replay(database: Database, letter_id: int, registry: ConsumerRegistry) -> object:
    with database.unit_of_work() as session:
        return replay_dead_letter(
            session, dead_letter_id=letter_id, actor="operator:test", consumers=registry
        )


def list_dead_letters_now(database: Database) -> list[object]:
    with database.reading() as session:
        return list(list_dead_letters(session).items)


def test_a_consumer_that_forgets_its_position_applies_nothing_twice(stack: Stack) -> None:
    """Everything is delivered again (a lost cursor, a recreated JetStream consumer)."""
    registry = registry_of({"bus.forgetful": [ThingHappened.name]})
    stack.emit([ThingHappened(n=i) for i in range(20)])
    stack.run_until(registry, lambda: len(stack.effects()) == 20)

    forget_position(stack, "bus.forgetful")
    stack.emit([ThingHappened(n=20)])
    stack.run_until(registry, lambda: caught_up(stack, "bus.forgetful", 21))
    assert sorted(row.n for row in stack.effects()) == list(range(21))


def forget_position(stack: Stack, name: str) -> None:
    if stack.uses_nats:

        async def delete() -> None:
            nc = await nats.connect(stack.settings.bus_url)
            try:
                await nc.jetstream().delete_consumer(stack.settings.nats_stream, durable_name(name))
            finally:
                await nc.close()

        asyncio.run(delete())
        return
    with stack.database.unit_of_work() as session:
        session.execute(
            update(ConsumerCursor).where(ConsumerCursor.consumer == name).values(position=0)
        )


def caught_up(stack: Stack, name: str, head: int) -> bool:
    """Whether the consumer had every event up to ``head`` delivered and acknowledged."""
    if stack.uses_nats:

        async def info() -> bool:
            nc = await nats.connect(stack.settings.bus_url)
            try:
                found = await nc.jetstream().consumer_info(
                    stack.settings.nats_stream, durable_name(name)
                )
                return bool(found.ack_floor.stream_seq >= head)
            except nats.js.errors.NotFoundError:
                return False  # not created again yet
            finally:
                await nc.close()

        return asyncio.run(info())
    with stack.database.reading() as session:
        return bool(session.get(ConsumerCursor, name).position >= head)  # type: ignore[union-attr]


def test_dead_letters_are_listed_a_page_at_a_time(database: Database) -> None:
    now = utcnow()
    with database.unit_of_work() as session:
        for i in range(5):
            session.add(
                DeadLetter(
                    consumer="a" if i % 2 else "b",
                    event_id=uuid.uuid4(),
                    name=ThingHappened.name,
                    stream_seq=i + 1,
                    attempts=3,
                    error="RuntimeError",
                    failed_at=now,
                    replayed_at=now if i == 4 else None,
                )
            )
    with database.reading() as session:
        first = list_dead_letters(session, page=PageRequest(limit=2))
        second = list_dead_letters(session, page=PageRequest(limit=2, cursor=first.next_cursor))
        every = list_dead_letters(session, include_replayed=True)
        only_a = list_dead_letters(session, consumer="a")
    assert [d.stream_seq for d in first.items + second.items] == [1, 2, 3, 4]
    assert second.next_cursor is None
    assert [d.stream_seq for d in every.items] == [1, 2, 3, 4, 5]
    assert [d.stream_seq for d in only_a.items] == [2, 4]
