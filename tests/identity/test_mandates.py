"""Mandates: parents for their minor children and representatives for their businesses,
read from the registries through the exchange (and recorded as data usage); powers of
attorney granted, checked, revoked; and :func:`authorise` refusing everything else."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest
from identity_support import (
    PORTAL,
    SEED,
    World,
    adult_children,
    businesses_of,
    load_world,
    minor_children,
)
from sqlalchemy import select
from sqlalchemy.orm import Session

from joinedup.core.clock import today, utcnow
from joinedup.core.db import Database
from joinedup.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from joinedup.core.outbox import OutboxEvent
from joinedup.demo import seed_country
from joinedup.exchange import exchange_client
from joinedup.exchange.records import DataUsageRecord
from joinedup.identity import (
    MandateKind,
    authorise,
    grant_power_of_attorney,
    mandate_options,
    revoke_power_of_attorney,
)
from joinedup.identity.models import PowerOfAttorney
from joinedup.registries import issue_personal_codes


def _unknown_code() -> str:
    birth = np.array([np.datetime64("1950-01-01", "D")])
    return str(issue_personal_codes(birth, np.array(["F"]), np.array([0]))[0])


def _grant(session: Session, grantor: str, grantee: str, **overrides: object) -> str:
    arguments: dict[str, object] = {
        "grantor_code": grantor,
        "grantor_name": "Grantor",
        "grantee_code": grantee,
        "everything": False,
        "services": [],
        "data_categories": ["income"],
        "valid_from": today(),
        "valid_to": None,
        "actor": f"person:{grantor}",
    }
    arguments.update(overrides)
    with exchange_client(session, client=PORTAL, user_id=grantor) as calls:
        return grant_power_of_attorney(session, calls=calls, **arguments).reference  # type: ignore[arg-type]


def _authorise(
    session: Session, actor: str, subject: str, action: str = "data:income"
) -> MandateKind:
    with exchange_client(session, client=PORTAL, user_id=actor) as calls:
        return authorise(
            session, actor_code=actor, subject_code=subject, action=action, on=today(), calls=calls
        ).kind


def test_a_parent_acts_for_a_minor_child_and_not_for_others(seeded: Database, world: World) -> None:
    parent = world.one("parent-of-minor").personal_code
    children = minor_children(seeded, parent)
    assert children
    others: set[str] = set()
    for account in world.tagged("parent-of-minor"):
        if account.personal_code != parent:
            others |= set(minor_children(seeded, account.personal_code)) - set(children)
    assert others, "no other family's minor child among the demo accounts"
    with seeded.unit_of_work() as session:
        assert _authorise(session, parent, children[0]) is MandateKind.PARENT
        with pytest.raises(Forbidden):
            _authorise(session, parent, sorted(others)[0])


def test_a_child_of_18_is_nobody_s_ward(seeded: Database, world: World) -> None:
    parent = world.one("parent-of-adult").personal_code
    adults = adult_children(seeded, parent)
    assert adults
    with seeded.unit_of_work() as session, pytest.raises(Forbidden):
        _authorise(session, parent, adults[0])


def test_a_representative_acts_for_their_business_only(seeded: Database, world: World) -> None:
    person = world.one("business-representative").personal_code
    own = businesses_of(seeded, person)
    assert own
    stranger = world.one("young-adult").personal_code
    with seeded.unit_of_work() as session:
        assert (
            _authorise(session, person, own[0], "service:vat-return") is MandateKind.REPRESENTATIVE
        )
        with pytest.raises(Forbidden):
            _authorise(session, stranger, own[0])


def test_mandate_checks_are_recorded_as_data_usage_naming_the_actor(
    seeded: Database, world: World
) -> None:
    parent = world.one("parent-of-minor").personal_code
    with (
        seeded.unit_of_work() as session,
        exchange_client(session, client=PORTAL, user_id=parent) as calls,
    ):
        options = mandate_options(
            session, calls, actor_code=parent, actor_name="Parent", on=today()
        )
    assert {o.mandate.kind for o in options.options} >= {MandateKind.SELF, MandateKind.PARENT}
    with seeded.reading() as session:
        usages = session.scalars(
            select(DataUsageRecord).where(
                DataUsageRecord.purpose == "mandate-check", DataUsageRecord.user_id == parent
            )
        ).all()
        assert usages
        assert parent in {u.subject_code for u in usages}
        assert {u.receiver_member_code for u in usages} == {PORTAL.split("/")[1]}


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"grantee_code": "GRANTOR"}, "grantee_code"),
        ({"grantee_code": "12345678901"}, "grantee_code"),  # not a personal code
        ({"grantee_code": "UNKNOWN"}, "grantee_code"),  # nobody has it
        ({"data_categories": []}, "scope"),
        ({"data_categories": ["everything-please"]}, "data_categories"),
        ({"services": ["Not A Code!"]}, "services"),
        ({"valid_from": date(2000, 1, 1)}, "valid_from"),
        ({"valid_to": date(2000, 1, 1)}, "valid_to"),
        ({"valid_to": date(today().year + 11, 1, 1)}, "valid_to"),
    ],
)
def test_a_power_of_attorney_that_cannot_be_given_is_refused_and_nothing_written(
    seeded: Database, world: World, overrides: dict[str, object], field: str
) -> None:
    grantor = world.one("widowed").personal_code
    grantee = world.one("newly-married").personal_code
    if overrides.get("grantee_code") == "GRANTOR":
        overrides["grantee_code"] = grantor
    if overrides.get("grantee_code") == "UNKNOWN":
        overrides["grantee_code"] = _unknown_code()
    with seeded.unit_of_work() as session:
        before = session.scalar(
            select(PowerOfAttorney.id).order_by(PowerOfAttorney.id.desc()).limit(1)
        )
        with pytest.raises(ValidationFailed) as refused:
            _grant(session, grantor, grantee, **overrides)
        assert field in {e["field"] for e in refused.value.extensions["errors"]}
        after = session.scalar(
            select(PowerOfAttorney.id).order_by(PowerOfAttorney.id.desc()).limit(1)
        )
        assert before == after


def _days(n: int) -> date:
    return today() + timedelta(days=n)


def test_powers_of_attorney_hold_within_their_scope_and_dates_only(
    seeded: Database, world: World
) -> None:
    grantor = world.one("widowed").personal_code
    holder = world.one("newly-married").personal_code
    with seeded.unit_of_work() as session:
        _grant(session, grantor, holder, data_categories=["income"], services=["child-benefit"])
        assert _authorise(session, holder, grantor, "data:income") is MandateKind.POWER_OF_ATTORNEY
        assert (
            _authorise(session, holder, grantor, "service:child-benefit")
            is MandateKind.POWER_OF_ATTORNEY
        )
        with pytest.raises(Forbidden, match="does not cover"):
            _authorise(session, holder, grantor, "data:messages")
        with pytest.raises(Forbidden):  # the power goes one way only
            _authorise(session, grantor, holder, "data:income")


@pytest.mark.parametrize("state", ["expired", "future", "revoked"])
def test_an_expired_future_or_revoked_power_gives_no_mandate(
    seeded: Database, world: World, state: str
) -> None:
    grantor = world.one("widowed").personal_code
    holder = world.one("young-adult").personal_code
    with seeded.unit_of_work() as session:
        reference = _grant(
            session,
            grantor,
            holder,
            everything=True,
            valid_from=_days(1) if state == "future" else today(),
        )
        if state == "expired":  # the use case refuses a past period; an old one has ended
            row = session.scalar(
                select(PowerOfAttorney).where(PowerOfAttorney.reference == reference)
            )
            assert row is not None
            row.valid_from, row.valid_to = _days(-30), _days(-1)
            session.flush()
        if state == "revoked":
            revoke_power_of_attorney(
                session, reference=reference, grantor_code=grantor, actor="person:x"
            )
        with pytest.raises(Forbidden):
            _authorise(session, holder, grantor, "data:income")


def test_only_the_grantor_revokes_and_only_once(seeded: Database, world: World) -> None:
    grantor = world.one("widowed").personal_code
    holder = world.one("young-adult").personal_code
    stranger = world.one("pensioner").personal_code
    with seeded.unit_of_work() as session:
        reference = _grant(session, grantor, holder)
        for someone in (holder, stranger):
            with pytest.raises(NotFound):
                revoke_power_of_attorney(
                    session, reference=reference, grantor_code=someone, actor="x"
                )
        with pytest.raises(NotFound):
            revoke_power_of_attorney(session, reference="0" * 24, grantor_code=grantor, actor="x")
        revoked = revoke_power_of_attorney(
            session, reference=reference, grantor_code=grantor, actor="person:g"
        )
        assert revoked.revoked_at is not None
        with pytest.raises(Conflict):
            revoke_power_of_attorney(session, reference=reference, grantor_code=grantor, actor="x")
        names = list(session.scalars(select(OutboxEvent.name).order_by(OutboxEvent.id)))
        assert names[-2:] == ["mandate.granted.v1", "mandate.revoked.v1"]


@pytest.mark.parametrize(
    "subject", ["", "x", "1234", "3800108571", "99999999999", "EE38001085718", "12345678"]
)
def test_malformed_or_guessed_subjects_get_the_same_refusal(
    seeded: Database, world: World, subject: str
) -> None:
    actor = world.one("pensioner").personal_code
    with seeded.unit_of_work() as session, pytest.raises(Forbidden, match="no mandate"):
        _authorise(session, actor, subject)


def test_malformed_actions_are_programming_errors(seeded: Database, world: World) -> None:
    actor = world.one("pensioner").personal_code
    with seeded.unit_of_work() as session:
        for action in ("everything", "data:unknown", "service:Bad Code", "*"):
            with pytest.raises(ValueError, match=r"action|category"):
                authorise(
                    session,
                    actor_code=actor,
                    subject_code=actor,
                    action=action,
                    on=today(),
                    calls=None,
                )


def test_mandates_on_both_databases(database: Database) -> None:
    """The same rules on PostgreSQL and SQLite (a small country of their own)."""
    seed_country(database, persons=300, seed=SEED + 1, progress=False)
    world = load_world(database)
    parents = [a.personal_code for a in world.tagged("parent-of-minor")]
    assert parents
    children = minor_children(database, parents[0])
    grantor, holder = world.one("newly-married").personal_code, world.one("pensioner").personal_code
    with database.unit_of_work() as session:
        assert _authorise(session, parents[0], children[0]) is MandateKind.PARENT
        reference = _grant(session, grantor, holder, valid_to=_days(30))
        assert _authorise(session, holder, grantor) is MandateKind.POWER_OF_ATTORNEY
        revoke_power_of_attorney(
            session, reference=reference, grantor_code=grantor, actor="person:g"
        )
        with pytest.raises(Forbidden):
            _authorise(session, holder, grantor)
    assert utcnow()  # the records were committed with the unit of work


def test_the_registers_owners_are_read_once_per_session(seeded: Database) -> None:
    """The acting-for page asks for three registry services and each mandate check for one or
    two: the registers' owners are read once per session, not once per service; a register
    nobody owns is refused as before."""
    from sqlalchemy import event, text

    from joinedup.identity import registry_service

    statements: list[str] = []
    with seeded.reading() as session:
        event.listen(
            session.connection(), "before_cursor_execute",
            lambda *args: statements.append(str(args[2])),
        )  # fmt: skip
        person = registry_service(session, "person")
        assert registry_service(session, "relations").rsplit("/", 1)[0] == person.rsplit("/", 1)[0]
        assert registry_service(session, "representations").endswith("/representations")
        assert len([s for s in statements if "registry" in s]) == 1
    with seeded.unit_of_work() as session:
        session.execute(text("DELETE FROM registry WHERE code = 'businesses'"))
        with pytest.raises(NotFound):
            registry_service(session, "representations")
        session.rollback()
