"""The person decides: accept or decline an offer, opt out of an automatic grant — and only
the person, or someone whose mandate covers the service, may."""

from __future__ import annotations

import uuid

import pytest
from proactive_support import (
    adults,
    born_to,
    entitlements_of,
    latest_events,
    letters_of,
    react_to,
)
from sqlalchemy import select

from joinedup import proactive
from joinedup.core.clock import today
from joinedup.core.db import Database
from joinedup.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from joinedup.core.outbox import OutboxEvent
from joinedup.exchange import exchange_client
from joinedup.identity import grant_power_of_attorney

Status = proactive.EntitlementStatus


def _decide(
    database: Database, entitlement: uuid.UUID, decision: str, actor: str
) -> proactive.EntitlementDetail:
    with database.unit_of_work() as session:
        return proactive.decide(
            session, entitlement_id=entitlement, decision=decision, actor_code=actor
        )


def test_accepting_the_birth_grant_grants_it_with_a_letter_and_a_revision(seeded: Database) -> None:
    (mother,) = adults(seeded, sex="F", count=1, offset=2)
    born_to(seeded, mother)
    grant = entitlements_of(seeded, mother)["birth-grant"]
    detail = _decide(seeded, grant.id, "accept", mother)
    assert detail.status is Status.GRANTED
    assert detail.decisions == []
    assert [(r.revision, r.status) for r in detail.history] == [
        (1, Status.OFFERED),
        (2, Status.GRANTED),
    ]
    assert detail.history[1].actor == f"person:{mother}"
    assert detail.history[1].acting_for is None
    assert detail.history[1].letter_reference == f"entitlement:{grant.id}:r2"
    assert len(letters_of(seeded, mother)) == 4  # three at the birth, one for the acceptance
    with seeded.reading() as session:
        granted = session.scalars(
            select(OutboxEvent).where(OutboxEvent.name == "entitlement.granted.v1")
        ).all()
        assert any(e.payload["entitlement_id"] == str(grant.id) for e in granted)
    with pytest.raises(Conflict):  # accepted already: nothing to accept or decline
        _decide(seeded, grant.id, "decline", mother)


def test_a_declined_offer_stays_declined_when_the_life_event_comes_again(seeded: Database) -> None:
    (mother,) = adults(seeded, sex="F", count=1, offset=3)
    born_to(seeded, mother)
    grant = entitlements_of(seeded, mother)["birth-grant"]
    detail = _decide(seeded, grant.id, "decline", mother)
    assert detail.status is Status.DECLINED
    assert detail.period_end == today()
    react_to(seeded, latest_events(seeded, "population.birth_registered.v1"))  # redelivered
    again = entitlements_of(seeded, mother)["birth-grant"]
    assert again.status is Status.DECLINED
    assert again.revision == 2


def test_opting_out_of_the_automatic_child_benefit(seeded: Database) -> None:
    (mother,) = adults(seeded, sex="F", count=1, offset=4)
    born_to(seeded, mother)
    benefit = entitlements_of(seeded, mother)["child-benefit"]
    with pytest.raises(Conflict):  # an automatic grant is opted out of, not declined
        _decide(seeded, benefit.id, "decline", mother)
    detail = _decide(seeded, benefit.id, "opt_out", mother)
    assert detail.status is Status.OPTED_OUT
    assert detail.decisions == []
    with pytest.raises(Conflict):
        _decide(seeded, benefit.id, "opt_out", mother)
    letters = letters_of(seeded, mother)
    assert any("opted out" in le.subject for le in letters)


def test_bad_decisions_are_refused_and_change_nothing(seeded: Database) -> None:
    mother, stranger = adults(seeded, sex="F", count=2, offset=5)
    born_to(seeded, mother)
    grant = entitlements_of(seeded, mother)["birth-grant"]
    with pytest.raises(ValidationFailed):
        _decide(seeded, grant.id, "maybe", mother)
    with pytest.raises(ValidationFailed):
        _decide(seeded, grant.id, "accept", "not-a-code")
    with pytest.raises(NotFound):
        _decide(seeded, uuid.uuid4(), "accept", mother)
    with pytest.raises(Forbidden):  # no mandate for the mother
        _decide(seeded, grant.id, "accept", stranger)
    with seeded.reading() as session, pytest.raises(NotFound):  # another person's: not found
        proactive.get_entitlement(session, entitlement_id=grant.id, person_code=stranger)
    assert entitlements_of(seeded, mother)["birth-grant"].status is Status.OFFERED
    assert entitlements_of(seeded, mother)["birth-grant"].revision == 1


def test_an_attorney_decides_for_the_person_and_the_revision_names_both(seeded: Database) -> None:
    mother, attorney = adults(seeded, sex="F", count=2, offset=7)
    born_to(seeded, mother)
    grant = entitlements_of(seeded, mother)["birth-grant"]
    with (
        seeded.unit_of_work() as session,
        exchange_client(session, client="GOV/70000579/portal", user_id=mother) as calls,
    ):
        grant_power_of_attorney(
            session,
            grantor_code=mother,
            grantor_name="Mother",
            grantee_code=attorney,
            everything=False,
            services=["birth-grant"],
            data_categories=[],
            valid_from=today(),
            valid_to=None,
            calls=calls,
            actor=f"person:{mother}",
        )
    detail = _decide(seeded, grant.id, "accept", attorney)
    assert detail.status is Status.GRANTED
    assert detail.history[-1].actor == f"person:{attorney}"
    assert detail.history[-1].acting_for == mother
    benefit = entitlements_of(seeded, mother)["child-benefit"]
    with pytest.raises(Forbidden):  # the power covers the birth grant only
        _decide(seeded, benefit.id, "opt_out", attorney)


def test_listing_filters_and_refuses_bad_input(seeded: Database) -> None:
    (mother,) = adults(seeded, sex="F", count=1, offset=9)
    born_to(seeded, mother)
    with seeded.reading() as session:
        offered = proactive.list_entitlements(session, person_code=mother, status=["offered"])
        assert [e.service_code for e in offered.items] == ["birth-grant"]
        first = proactive.list_entitlements(
            session, person_code=mother, page=proactive_page(limit=2)
        )
        assert len(first.items) == 2
        assert first.next_cursor is not None
        rest = proactive.list_entitlements(
            session, person_code=mother, page=proactive_page(first.next_cursor, limit=2)
        )
        assert len(rest.items) == 1
        assert rest.next_cursor is None
        with pytest.raises(ValidationFailed):
            proactive.list_entitlements(session, person_code=mother, status=["pending"])
        with pytest.raises(ValidationFailed):
            proactive.list_entitlements(session, person_code="x' OR 1=1")
        with pytest.raises(ValidationFailed):
            proactive.list_entitlements(
                session, person_code=mother, page=proactive_page("forged", limit=2)
            )


def proactive_page(cursor: str | None = None, *, limit: int):  # type: ignore[no-untyped-def]
    from joinedup.core.pagination import PageRequest

    return PageRequest(cursor=cursor, limit=limit)
