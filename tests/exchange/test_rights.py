"""Access rights: granting, revoking, expiry, listing, and refusing bad input whole."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from rights_support import descriptor, identity, service_ref, subsystem_ref
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from joinedup.core.clock import today
from joinedup.core.db import Database
from joinedup.core.errors import NotFound, ValidationFailed
from joinedup.core.outbox import OutboxEvent
from joinedup.core.pagination import PageRequest
from joinedup.demo.agencies import create_government
from joinedup.exchange import (
    AccessDenied,
    PurposeGrant,
    authorize,
    get_access_right,
    grant_access_right,
    list_access_rights,
    publish_registry_services,
    revoke_access_right,
)
from template_support import DatabaseTemplates

ACTOR = "rights-test"
CHILD = PurposeGrant(purpose="child-benefit", legal_basis="Family Benefits Act § 23 (1)")


def build_government(database: Database) -> None:
    """The demo government with the registries' services published, and no rights."""
    with database.unit_of_work() as session:
        create_government(session, founded=date(1992, 1, 1))
        publish_registry_services(session, actor=ACTOR)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def country(
    request: pytest.FixtureRequest, tmp_path: Path, database_templates: DatabaseTemplates
) -> Iterator[Session]:
    """A session on a copy of :func:`build_government`, in a transaction rolled back after
    the test (commits become savepoints)."""
    template = database_templates.template(request.param, build_government)
    with database_templates.copy(template, tmp_path) as database, database.engine.connect() as conn:
        transaction = conn.begin()
        with Session(
            bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False
        ) as session:
            yield session
        transaction.rollback()


def _grant(session: Session, **changes: Any) -> Any:
    values: dict[str, Any] = {
        "client": subsystem_ref("social-insurance", "benefits"),
        "service": service_ref("person"),
        "fields": ["personalCode", "birthDate"],
        "purposes": [CHILD],
        "valid_from": date(2020, 1, 1),
    }
    values.update(changes)
    return grant_access_right(session, **values, actor=ACTOR)


def _events(session: Session, name: str) -> list[dict[str, Any]]:
    session.flush()
    return [
        dict(e.payload)
        for e in session.scalars(select(OutboxEvent).where(OutboxEvent.name == name))
    ]


def test_grant_authorise_revoke(country: Session) -> None:
    session = country
    right = _grant(session, valid_to=date(2099, 1, 1))
    assert right.fields == ["personalCode", "birthDate"]
    assert right.client.endswith("/benefits")
    assert right.service.endswith("/population/person")
    assert right.purposes == [CHILD]
    assert _events(session, "exchange.access_right_granted.v1")[-1]["right_id"] == right.id
    client = identity(session, "social-insurance", "benefits")
    person = descriptor(session, "person")
    allowed = authorize(
        session, client=client, service=person, purpose="child-benefit", fields=None, on=today()
    )
    assert allowed.right_id == right.id
    assert allowed.fields == ("personalCode", "birthDate")
    assert allowed.legal_basis == "Family Benefits Act § 23 (1)"
    revoked = revoke_access_right(
        session, right_id=right.id, reason="benefit abolished", actor=ACTOR
    )
    assert revoked.revoked_at is not None
    assert revoked.revocation_reason == "benefit abolished"
    assert _events(session, "exchange.access_right_revoked.v1")[-1]["reason"] == "benefit abolished"
    with pytest.raises(AccessDenied) as refused:
        authorize(
            session, client=client, service=person, purpose="child-benefit", fields=None, on=today()
        )
    assert refused.value.reason == "no-right"
    again = revoke_access_right(session, right_id=right.id, reason="twice", actor=ACTOR)
    assert again.revocation_reason == "benefit abolished"  # revoking twice changes nothing


def test_a_right_holds_only_in_its_period(country: Session) -> None:
    session = country
    _grant(session, valid_from=date(2024, 1, 1), valid_to=date(2025, 1, 1))
    client = identity(session, "social-insurance", "benefits")
    person = descriptor(session, "person")

    def on(day: date) -> Any:
        return authorize(
            session, client=client, service=person, purpose="child-benefit", fields=None, on=day
        )

    assert on(date(2024, 1, 1)).fields
    assert on(date(2024, 12, 31)).fields
    for day in (date(2023, 12, 31), date(2025, 1, 1)):
        with pytest.raises(AccessDenied) as refused:
            on(day)
        assert refused.value.reason == "right-expired"


def test_two_rights_for_one_service_keep_their_own_fields(country: Session) -> None:
    session = country
    pension = PurposeGrant(purpose="old-age-pension", legal_basis="State Pension Insurance Act § 7")
    _grant(session, fields=["personalCode", "givenNames", "birthDate"], purposes=[CHILD])
    _grant(session, fields=["birthDate"], purposes=[pension])
    client = identity(session, "social-insurance", "benefits")
    person = descriptor(session, "person")
    pension_call = authorize(
        session, client=client, service=person, purpose="old-age-pension", fields=None, on=today()
    )
    assert pension_call.fields == ("birthDate",)
    with pytest.raises(AccessDenied) as refused:
        authorize(
            session,
            client=client,
            service=person,
            purpose="old-age-pension",
            fields=["givenNames"],
            on=today(),
        )
    assert refused.value.reason == "fields-not-allowed"
    assert refused.value.extensions["fields"] == ["givenNames"]


def test_law_enforcement_rights_hide_their_use(country: Session) -> None:
    session = country
    right = _grant(
        session,
        client=subsystem_ref("police", "investigations"),
        purposes=[PurposeGrant(purpose="criminal-investigation", legal_basis="CCP § 215")],
        law_enforcement=True,
        disclosure_delay_days=180,
    )
    assert right.law_enforcement
    assert right.disclosure_delay_days == 180
    allowed = authorize(
        session,
        client=identity(session, "police", "investigations"),
        service=descriptor(session, "person"),
        purpose="criminal-investigation",
        fields=None,
        on=date(2026, 1, 10),
    )
    assert allowed.law_enforcement
    assert allowed.hidden_until == date(2026, 1, 10) + timedelta(days=180)


def _rows(session: Session) -> tuple[int, int]:
    session.flush()
    rights = session.scalar(select(func.count()).select_from(OutboxEvent)) or 0
    granted = len(list_access_rights(session, page=PageRequest(limit=500)).items)
    return int(rights), granted


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"fields": []}, "fields: name at least one field"),
        ({"fields": ["personalCode", "shoeSize"]}, "shoeSize: not field(s) of person"),
        ({"fields": ["birthDate", "birthDate"]}, "name each field once"),
        ({"purposes": []}, "purposes: name at least one purpose"),
        ({"purposes": [PurposeGrant(purpose="Child Benefit", legal_basis="x")]}, "lower-case"),
        ({"purposes": [CHILD, CHILD]}, "is named twice"),
        ({"purposes": [PurposeGrant(purpose="child-benefit", legal_basis=" ")]}, "name the law"),
        ({"purposes": [PurposeGrant(purpose="a", legal_basis="b", legal_basis_url="ftp://x")]},
         "legal_basis_url: must be an http(s) URL"),
        ({"valid_to": date(2020, 1, 1)}, "valid_to: must be after valid_from"),
        ({"valid_to": date(2019, 1, 1)}, "valid_to: must be after valid_from"),
        ({"law_enforcement": True}, "names its disclosure delay"),
        ({"law_enforcement": True, "disclosure_delay_days": -1}, "must be 0 to 3650 days"),
        ({"disclosure_delay_days": 30}, "only a law-enforcement right delays disclosure"),
        ({"own_residents_only": True}, "only a member serving a municipality"),
        ({"service": service_ref("business"), "fields": ["name"], "own_residents_only": True,
          "client": subsystem_ref("municipality-0101", "social-services")},
         "applies only to registry services about a person"),
        ({"client": subsystem_ref("social-insurance", "pensions")}, "is not registered"),
        ({"service": service_ref("person").__class__("GOV", "1", "x", "person")},
         "is not published"),
    ],
)  # fmt: skip
def test_bad_grants_write_nothing(country: Session, changes: dict[str, Any], fragment: str) -> None:
    before = _rows(country)
    with pytest.raises(ValidationFailed) as refused:
        _grant(country, **changes)
    assert fragment in refused.value.detail
    assert refused.value.extensions["errors"]
    assert _rows(country) == before


def test_bad_revocations(country: Session) -> None:
    right = _grant(country)
    with pytest.raises(ValidationFailed):
        revoke_access_right(country, right_id=right.id, reason=" ", actor=ACTOR)
    with pytest.raises(NotFound):
        revoke_access_right(country, right_id=right.id + 1000, reason="x", actor=ACTOR)
    assert get_access_right(country, right_id=right.id).revoked_at is None


def test_listing_rights_in_pages(country: Session) -> None:
    session = country
    ids = [_grant(session).id for _ in range(5)]
    _grant(
        session,
        client=subsystem_ref("tax-board", "tax"),
        purposes=[PurposeGrant(purpose="taxation", legal_basis="Taxation Act § 59")],
    )
    revoke_access_right(session, right_id=ids[0], reason="replaced", actor=ACTOR)
    first = list_access_rights(
        session, page=PageRequest(limit=2), client=subsystem_ref("social-insurance", "benefits")
    )
    second = list_access_rights(
        session,
        page=PageRequest(limit=10, cursor=first.next_cursor),
        client=subsystem_ref("social-insurance", "benefits"),
    )
    assert [r.id for r in first.items + second.items] == ids[1:]
    assert second.next_cursor is None
    everything = list_access_rights(session, page=PageRequest(), include_revoked=True)
    assert len(everything.items) == 6
    by_service = list_access_rights(session, page=PageRequest(), service=service_ref("person"))
    assert len(by_service.items) == 5
    with pytest.raises(NotFound):
        list_access_rights(
            session,
            page=PageRequest(),
            service=service_ref("person").__class__("GOV", "1", "x", "y"),
        )


def test_a_right_granted_elsewhere_is_seen_by_other_sessions(database: Database) -> None:
    """Committed in one unit of work, the right authorises in the next (same process)."""
    with database.unit_of_work() as session:
        create_government(session, founded=date(1992, 1, 1))
        publish_registry_services(session, actor=ACTOR)
    with database.reading() as session:
        client = identity(session, "social-insurance", "benefits")
        person = descriptor(session, "person")
        with pytest.raises(AccessDenied):
            authorize(
                session,
                client=client,
                service=person,
                purpose="child-benefit",
                fields=None,
                on=today(),
            )
    with database.unit_of_work() as session:
        right = _grant(session)
    with database.reading() as session:
        assert (
            authorize(
                session,
                client=client,
                service=person,
                purpose="child-benefit",
                fields=None,
                on=today(),
            ).right_id
            == right.id
        )
    with database.unit_of_work() as session:
        revoke_access_right(session, right_id=right.id, reason="test", actor=ACTOR)
    with database.reading() as session, pytest.raises(AccessDenied):
        authorize(
            session, client=client, service=person, purpose="child-benefit", fields=None, on=today()
        )


def test_listing_rights_costs_the_same_queries_for_any_page_size(country: Session) -> None:
    from sqlalchemy import event

    session = country
    for _ in range(6):
        _grant(session)
    session.flush()
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    connection = session.connection()
    event.listen(connection, "before_cursor_execute", count)
    try:
        list_access_rights(session, page=PageRequest(limit=1))
        one = len(statements)
        statements.clear()
        list_access_rights(session, page=PageRequest(limit=6))
        assert len(statements) == one
    finally:
        event.remove(connection, "before_cursor_execute", count)
