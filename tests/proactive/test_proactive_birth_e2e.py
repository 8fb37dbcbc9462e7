"""A birth registered through civil registration's public entry point reaches the parents:
the automatic child benefit and the birth-grant offer for the household (paid to the parent
who gave birth), a note to each that they may apply for parental benefit, their letters, and
the Social Insurance Board's reads in both parents' data usage — on SQLite with the in-process
bus, and on PostgreSQL with NATS JetStream."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from proactive_support import SIB, handled, low_income_adults, record_birth, run_workers
from sqlalchemy import select, text

from joinedup import notify, proactive, rules
from joinedup.core.clock import today
from joinedup.core.db import Database
from joinedup.core.events import Delivered
from joinedup.core.outbox import OutboxEvent
from joinedup.core.pagination import PageRequest
from joinedup.core.settings import Settings
from joinedup.exchange.usage_queries import list_usage
from joinedup.proactive.handlers import handle_births
from joinedup.proactive.reevaluation.law import ruleset_in_force
from nats_support import delete_stream


@pytest.fixture(
    params=[
        "inprocess",
        pytest.param("nats", marks=[pytest.mark.nats, pytest.mark.postgres]),
    ]
)
def stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Settings, Database]]:
    """SQLite + the in-process bus, or PostgreSQL + NATS JetStream (its own stream, deleted
    afterwards)."""
    if request.param == "inprocess":
        database = request.getfixturevalue("seeded")
        bus_url = "inprocess://"
    else:
        database = request.getfixturevalue("seeded_postgres")
        bus_url = request.getfixturevalue("nats_url")
    settings = Settings(
        environment="test",
        data_dir=tmp_path / "var",
        log_format="console",
        database_url=database.url,
        bus_url=bus_url,
        nats_stream=f"TEST_{uuid.uuid4().hex[:12].upper()}",
        bus_retry_delay=0.05,
        bus_max_deliveries=3,
    )
    try:
        yield settings, database
    finally:
        if request.param != "inprocess":
            delete_stream(bus_url, settings.nats_stream)


def _by_service(items: list[proactive.EntitlementView]) -> dict[str, Any]:
    return {e.service_code: e for e in items}


def test_a_birth_to_low_income_parents_grants_offers_informs_and_writes_to_both(
    stack: tuple[Settings, Database],
) -> None:
    settings, database = stack
    (mother,) = low_income_adults(database, sex="F", count=1)
    (father,) = low_income_adults(database, sex="M", count=1)
    born = today()
    child = record_birth(database, mother=mother, father=father, born=born)
    run_workers(settings, database, handled(database, "proactive.births", 1))

    with database.reading() as session:
        for parent in (mother, father):
            found = _by_service(proactive.list_entitlements(session, person_code=parent).items)
            # the household's benefits are paid once, to the parent who gave birth
            household = {"child-benefit", "birth-grant"} if parent == mother else set()
            assert set(found) == household | {"parental-benefit"}
            if parent == mother:
                benefit = found["child-benefit"]
                assert benefit.status is proactive.EntitlementStatus.GRANTED
                assert benefit.amount_cents == 12_000  # one child, €120.00 a month (2023 rate)
                assert benefit.period_start == born.replace(day=1)
                assert benefit.legal_basis.startswith("Family Benefits Act 2019")
                assert benefit.ruleset == "demo"
                assert benefit.ruleset_version
                assert "Eligible" in benefit.reason
                assert benefit.explanation["complete"] is True
                # the value decided in full, what it was computed from by value
                (decided,) = benefit.explanation["results"]
                assert decided["conditions"]
                assert decided["inputs"]
                assert benefit.explanation["depth"] == 1
                assert all("inputs" not in value for value in decided["inputs"])
                given = {key.split("/")[0] for key in benefit.explanation["given"]}
                assert {"birth_date", "resident"} <= given  # (the facts it rests on)
                # explained again under the law it was decided by, every step comes back
                law = ruleset_in_force(session, "demo")
                again = rules.explain_situation(
                    ruleset=law,
                    data=rules.situation_given(law, benefit.explanation),
                    variables=[decided["variable"]],
                    period=rules.Period.parse(decided["period"]),
                    entity="person",
                    entity_id=mother,
                )
                assert again.sentences == benefit.explanation["sentences"]
                assert again.as_dict(depth=1)["results"] == benefit.explanation["results"]
                assert again.as_dict()["results"][0]["inputs"][0].get("inputs")
                assert benefit.decisions == [proactive.Decision.OPT_OUT]
                grant = found["birth-grant"]
                assert grant.status is proactive.EntitlementStatus.OFFERED
                assert grant.amount_cents == 100_000
                assert grant.regarding_code == child["personalCode"]
                assert grant.decisions == [proactive.Decision.ACCEPT, proactive.Decision.DECLINE]
            parental = found["parental-benefit"]
            assert parental.status is proactive.EntitlementStatus.ELIGIBLE
            assert parental.amount_cents == 60_000  # no income: the minimum
            assert parental.apply_url

            letters = notify.list_letters(
                session, recipient_code=parent, request=PageRequest(limit=50)
            ).items
            ours = [le for le in letters if (le.regarding or "").startswith("entitlement:")]
            if parent == father:  # the parental benefit only
                assert [le.kind for le in ours] == [notify.LetterKind.INFORMATION]
            else:
                assert {le.kind for le in ours} == {
                    notify.LetterKind.DECISION,
                    notify.LetterKind.OFFER,
                    notify.LetterKind.INFORMATION,
                }
                assert len(ours) == 3
                decision = next(le for le in ours if le.kind is notify.LetterKind.DECISION)
                detail = notify.get_letter(
                    session, message_id=decision.message_id, recipient_code=parent
                )
                body = " ".join(detail.paragraphs)
                assert "Child benefit" in body
                assert "Why:" in body
                assert "challenge this decision" in body
                assert "30 days" in body
                assert detail.deemed_delivered_on is not None
                assert detail.sender_member_code == SIB.member_code

            reads = list_usage(
                session,
                subject_code=parent,
                member_code=SIB.member_code,
                request=PageRequest(limit=500),
            ).items
            assert reads, "the Social Insurance Board's reads are in the parent's data usage"
            assert {u.purpose for u in reads} == {"benefit-eligibility"}
            assert all("Social Insurance Board Act" in u.legal_basis for u in reads)

    # the entitlement events went through the outbox
    with database.reading() as session:
        names = set(
            session.scalars(text("SELECT name FROM outbox_event WHERE name LIKE 'entitlement.%'"))
        )
    assert names == {
        "entitlement.granted.v1",
        "entitlement.offered.v1",
        "entitlement.eligible.v1",
    }


def test_handling_the_birth_again_changes_nothing(seeded: Database) -> None:
    """The handler is idempotent on its own (the inbox aside): a repeated list of events
    records no new revision and sends no new letter."""
    (mother,) = low_income_adults(seeded, sex="F", count=1, offset=1)
    record_birth(seeded, mother=mother, father=None, born=today())
    with seeded.reading() as session:
        row = session.scalars(
            select(OutboxEvent).where(OutboxEvent.name == "population.birth_registered.v1")
        ).one()
        event = Delivered(
            event_id=row.event_id,
            name=row.name,
            payload=row.payload,
            occurred_at=row.occurred_at,
            stream_seq=1,
        )
    for _ in range(2):
        with seeded.unit_of_work() as session:
            handle_births(session, [event, event])
    with seeded.reading() as session:
        items = proactive.list_entitlements(session, person_code=mother).items
        assert {e.service_code: e.revision for e in items} == {
            "child-benefit": 1,
            "birth-grant": 1,
            "parental-benefit": 1,
        }
        letters = notify.list_letters(session, recipient_code=mother, request=PageRequest()).items
        assert len([le for le in letters if (le.regarding or "").startswith("entitlement:")]) == 3
