"""The exchange's member directory: members at three levels, their subsystems."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from joinedup.core.errors import NotFound, ValidationFailed
from joinedup.core.outbox import OutboxEvent
from joinedup.core.pagination import PageRequest
from joinedup.exchange import (
    MemberClass,
    MemberLevel,
    count_members,
    get_member,
    get_subsystem,
    list_members,
    list_subsystems,
    member_names,
    register_member,
    register_subsystem,
)

ACTOR = "directory@test"


def _ministry(session: Session) -> None:
    register_member(
        session,
        member_class=MemberClass.GOV,
        member_code="70000007",
        name="Ministry of Social Affairs",
        level=MemberLevel.NATIONAL,
        actor=ACTOR,
    )


def _events(session: Session) -> list[tuple[str, dict[str, object]]]:
    session.flush()
    return [
        (e.name, dict(e.payload))
        for e in session.scalars(select(OutboxEvent).order_by(OutboxEvent.id))
    ]


def test_members_at_three_levels_with_parents(session: Session) -> None:
    _ministry(session)
    regional = register_member(
        session,
        member_class="GOV",
        member_code="70000036",
        name="Capital Region Health Authority",
        level="regional",
        parent=(MemberClass.GOV, "70000007"),
        region_code="01",
        actor=ACTOR,
    )
    local = register_member(
        session,
        member_class=MemberClass.GOV,
        member_code="75000001",
        name="Port Aldren Municipality",
        level=MemberLevel.LOCAL,
        region_code="01",
        municipality_code="0101",
        actor=ACTOR,
    )
    bank = register_member(
        session,
        member_class=MemberClass.COM,
        member_code="10000001",
        name="Savings Bank",
        level=MemberLevel.NATIONAL,
        actor=ACTOR,
    )
    assert regional.parent_member_code == "70000007"
    assert regional.identifier("JOINEDUP") == "JOINEDUP/GOV/70000036"
    assert local.municipality_code == "0101"
    assert bank.member_class is MemberClass.COM
    assert get_member(session, member_class="GOV", member_code="70000036") == regional
    assert count_members(session) == 4
    assert _events(session)[1] == (
        "exchange.member_registered.v1",
        {
            "member_id": regional.id,
            "member_class": "GOV",
            "member_code": "70000036",
            "level": "regional",
            "parent_member_code": "70000007",
        },
    )


def test_subsystems(session: Session) -> None:
    _ministry(session)
    benefits = register_subsystem(
        session,
        member_class="GOV",
        member_code="70000007",
        subsystem_code="benefits",
        name="Family benefits",
        actor=ACTOR,
    )
    register_subsystem(
        session,
        member_class="GOV",
        member_code="70000007",
        subsystem_code="archive",
        name="Archive",
        actor=ACTOR,
    )
    assert benefits.identifier("JOINEDUP") == "JOINEDUP/GOV/70000007/benefits"
    assert (
        get_subsystem(
            session, member_class="GOV", member_code="70000007", subsystem_code="benefits"
        )
        == benefits
    )
    assert [
        s.code for s in list_subsystems(session, member_class="GOV", member_code="70000007")
    ] == [
        "archive",
        "benefits",
    ]
    assert _events(session)[-1][0] == "exchange.subsystem_registered.v1"
    with pytest.raises(NotFound):
        get_subsystem(session, member_class="GOV", member_code="70000007", subsystem_code="nothing")
    with pytest.raises(NotFound):
        list_subsystems(session, member_class="NGO", member_code="1")


def _count(session: Session) -> tuple[int, int]:
    session.flush()
    return count_members(session), int(
        session.scalar(select(func.count()).select_from(OutboxEvent)) or 0
    )


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"member_class": "GOVT"}, "member_class must be GOV, COM or NGO"),
        ({"member_code": "70/07"}, "member_code must be"),
        ({"member_code": ""}, "member_code must be"),
        ({"name": " "}, "name must be 1 to 300 characters"),
        ({"level": "planetary"}, "level must be national, regional or local"),
        ({"level": "regional"}, "names its region_code"),
        ({"level": "local", "region_code": "01"}, "names the municipality_code"),
        ({"municipality_code": "0101"}, "national member serves the whole country"),
        ({"parent": ("GOV", "79999999")}, "parent member GOV/79999999 is not registered"),
        ({"member_code": "70000007"}, "already registered"),
        ({"level": "local", "municipality_code": "01 01"}, "administrative code"),
    ],
)
def test_bad_members_write_nothing(
    session: Session, changes: dict[str, object], fragment: str
) -> None:
    _ministry(session)
    values: dict[str, object] = {
        "member_class": "GOV",
        "member_code": "70000101",
        "name": "Some Agency",
        "level": "national",
    }
    values.update(changes)
    before = _count(session)
    with pytest.raises(ValidationFailed) as info:
        register_member(session, **values, actor=ACTOR)  # type: ignore[arg-type]
    assert fragment in info.value.detail
    assert _count(session) == before


def test_bad_subsystems_write_nothing(session: Session) -> None:
    _ministry(session)
    register_subsystem(
        session,
        member_class="GOV",
        member_code="70000007",
        subsystem_code="benefits",
        name="Benefits",
        actor=ACTOR,
    )
    before = _count(session)
    for code, member, fragment in [
        ("benefits", "70000007", "exists already"),
        ("bad code", "70000007", "subsystem_code must be"),
        ("benefits", "70000999", "is not registered"),
    ]:
        with pytest.raises(ValidationFailed) as info:
            register_subsystem(
                session,
                member_class="GOV",
                member_code=member,
                subsystem_code=code,
                name="X",
                actor=ACTOR,
            )
        assert fragment in info.value.detail
    assert _count(session) == before


def test_listing_members_in_pages(session: Session) -> None:
    _ministry(session)
    for i in range(5):
        register_member(
            session,
            member_class=MemberClass.NGO if i % 2 else MemberClass.COM,
            member_code=f"8000000{i}",
            name=f"Partner {i}",
            level=MemberLevel.NATIONAL,
            parent=(MemberClass.GOV, "70000007") if i == 0 else None,
            actor=ACTOR,
        )
    first = list_members(session, page=PageRequest(limit=4))
    assert len(first.items) == 4
    assert first.next_cursor is not None
    second = list_members(session, page=PageRequest(cursor=first.next_cursor, limit=4))
    assert [m.member_code for m in first.items + second.items] == ["70000007"] + [
        f"8000000{i}" for i in range(5)
    ]
    assert second.next_cursor is None
    assert first.items[1].parent_member_code == "70000007"
    ngos = list_members(session, page=PageRequest(), member_class=MemberClass.NGO)
    assert [m.member_code for m in ngos.items] == ["80000001", "80000003"]
    national = list_members(session, page=PageRequest(), level=MemberLevel.LOCAL)
    assert national.items == []


def test_member_names_of_several_members_in_one_lookup(session: Session) -> None:
    _ministry(session)
    register_member(
        session,
        member_class=MemberClass.COM,
        member_code="10000009",
        name="Joinland Post Ltd",
        level=MemberLevel.NATIONAL,
        actor=ACTOR,
    )
    names = member_names(
        session,
        [("GOV", "70000007"), (MemberClass.COM, "10000009"), ("GOV", "70000007"), ("NGO", "1")],
    )
    assert names == {
        ("GOV", "70000007"): "Ministry of Social Affairs",
        ("COM", "10000009"): "Joinland Post Ltd",
    }  # each once; one not registered left out
    assert member_names(session, []) == {}


def test_names_and_subsystems_come_from_the_directory_and_new_ones_are_still_found(
    session: Session,
) -> None:
    """The directory snapshot answers for members and subsystems (they are never renamed or
    removed; registering one bumps the directory). One a snapshot does not know yet — as
    another process's snapshot within its staleness bound — is found by checking the
    directory's generation at once and reloading it."""
    from sqlalchemy import event

    from joinedup.exchange import local_client_identity
    from joinedup.exchange.directory import current_directory

    _ministry(session)
    register_subsystem(
        session, member_class="GOV", member_code="70000007", subsystem_code="benefits",
        name="Benefits", actor=ACTOR,
    )  # fmt: skip
    before = current_directory(session)
    register_member(
        session, member_class=MemberClass.COM, member_code="10000009", name="Joinland Post Ltd",
        level=MemberLevel.NATIONAL, actor=ACTOR,
    )  # fmt: skip
    register_subsystem(
        session, member_class="COM", member_code="10000009", subsystem_code="letters",
        name="Letters", actor=ACTOR,
    )  # fmt: skip
    snapshot = current_directory(session)
    assert snapshot is not before, "a registration bumps the directory"
    assert snapshot.member_names[("COM", "10000009")] == "Joinland Post Ltd"
    # as if the post office had registered a moment ago in another process: this snapshot
    # lacks it, the database's generation has moved on (this process was not told)
    del snapshot.member_names[("COM", "10000009")]
    del snapshot.subsystems[("COM", "10000009", "letters")]
    session.execute(
        text("UPDATE exchange_directory_version SET generation = generation + 1 WHERE id = 1")
    )
    statements: list[str] = []
    engine = session.get_bind()

    def seen(_conn: object, _cursor: object, sql: str, *_: object) -> None:
        statements.append(sql)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        assert member_names(session, [("GOV", "70000007")]) == {
            ("GOV", "70000007"): "Ministry of Social Affairs"
        }
        known = local_client_identity(session, client="GOV/70000007/benefits")
        assert not [s for s in statements if "member" in s.lower()], statements
        assert member_names(session, [("COM", "10000009"), ("GOV", "70000007")]) == {
            ("COM", "10000009"): "Joinland Post Ltd",
            ("GOV", "70000007"): "Ministry of Social Affairs",
        }
        new = local_client_identity(session, client="COM/10000009/letters")
        assert [s for s in statements if "member" in s.lower()], "looked up in the database"
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert (known.member_name, known.subsystem_code) == ("Ministry of Social Affairs", "benefits")
    assert (new.member_name, new.member_code, new.xroad_id.split("/", 1)[1]) == (
        "Joinland Post Ltd", "10000009", "COM/10000009/letters",
    )  # fmt: skip
    with pytest.raises(NotFound):
        local_client_identity(session, client="COM/10000009/nothing")
