"""Marriages and registered partnerships."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from registries_support import ACTOR, Country, adult, assert_refused, last_event
from sqlalchemy.orm import Session

from joinedup.core.clock import today
from joinedup.registries import (
    DissolutionReason,
    RelationKind,
    UnionKind,
    dissolve_marriage,
    register_birth,
    register_death,
    register_marriage,
    relations_of,
)


def test_marriage_and_divorce(session: Session, country: Country) -> None:
    anna = adult(session, country, birth_date=date(1980, 1, 1))
    karl = adult(session, country, birth_date=date(1979, 5, 5), sex="M", given_names="Karl")
    marriage = register_marriage(
        session, person_id=karl.id, spouse_id=anna.id, married_on=date(2005, 8, 20), actor=ACTOR
    )
    assert marriage.kind is RelationKind.SPOUSE
    assert (marriage.person_id, marriage.related_person_id) == (anna.id, karl.id), "lower id first"
    assert last_event(session, "population.marriage_registered.v1") == {
        "relation_id": marriage.id,
        "kind": "spouse",
        "person_ids": [anna.id, karl.id],
        "married_on": "2005-08-20",
    }
    ended = dissolve_marriage(
        session,
        relation_id=marriage.id,
        dissolved_on=date(2015, 3, 1),
        reason=DissolutionReason.DIVORCE,
        actor=ACTOR,
    )
    assert ended.valid_to == date(2015, 3, 1)
    assert ended.end_reason == "divorce"
    assert relations_of(session, person_id=anna.id, valid=date(2016, 1, 1)) == []
    assert [r.id for r in relations_of(session, person_id=karl.id, valid=date(2010, 1, 1))] == [
        ended.id
    ]
    assert last_event(session, "population.marriage_dissolved.v1")["reason"] == "divorce"
    # Divorced, they may marry again (each other, even).
    again = register_marriage(
        session, person_id=anna.id, spouse_id=karl.id, married_on=date(2018, 1, 1), actor=ACTOR
    )
    assert len(relations_of(session, person_id=anna.id, kinds=(RelationKind.SPOUSE,))) == 2
    assert again.valid_to is None


def test_registered_partnership(session: Session, country: Country) -> None:
    a = adult(session, country, birth_date=date(1980, 1, 1))
    b = adult(session, country, birth_date=date(1982, 2, 2), given_names="Eva")
    partnership = register_marriage(
        session,
        person_id=a.id,
        spouse_id=b.id,
        married_on=date(2012, 1, 1),
        kind=UnionKind.REGISTERED_PARTNERSHIP,
        actor=ACTOR,
    )
    assert partnership.kind is RelationKind.PARTNER


@pytest.mark.parametrize(
    ("scenario", "fragment"),
    [
        ("minor", "at least 18"),
        ("self", "must be another person"),
        ("bigamy", "married or in a registered partnership then"),
        ("future", "valid_from: is in the future"),
        ("dead", "on or after the death"),
        ("parent and child", "a parent and a child cannot marry"),
        ("unknown", "not a registered person"),
    ],
)
def test_marriages_that_cannot_be(
    session: Session, country: Country, scenario: str, fragment: str
) -> None:
    anna = adult(session, country, birth_date=date(1980, 1, 1))
    karl = adult(session, country, birth_date=date(1979, 5, 5), sex="M")
    other = adult(session, country, birth_date=date(1981, 1, 1), sex="M")
    spouse, married_on = karl.id, date(2005, 1, 1)
    if scenario == "minor":
        married_on = date(1997, 12, 31)
    elif scenario == "self":
        spouse = anna.id
    elif scenario == "bigamy":
        register_marriage(
            session, person_id=anna.id, spouse_id=other.id, married_on=date(2001, 1, 1), actor=ACTOR
        )
    elif scenario == "future":
        married_on = today() + timedelta(days=30)
    elif scenario == "dead":
        register_death(session, person_id=karl.id, date_of_death=date(2012, 1, 1), actor=ACTOR)
        married_on = date(2013, 1, 1)
    elif scenario == "parent and child":
        child = register_birth(
            session,
            given_names="Mia",
            family_name="Tamm",
            birth_date=date(2000, 1, 1),
            sex="M",
            birth_place="Port Aldren",
            parent_ids=[anna.id],
            actor=ACTOR,
        )
        spouse, married_on = child.id, date(2020, 1, 1)
    elif scenario == "unknown":
        spouse = 777_777
    assert_refused(
        session,
        lambda: register_marriage(
            session, person_id=anna.id, spouse_id=spouse, married_on=married_on, actor=ACTOR
        ),
        fragment,
    )


def test_dissolutions_that_cannot_be(session: Session, country: Country) -> None:
    anna = adult(session, country, birth_date=date(1980, 1, 1))
    karl = adult(session, country, birth_date=date(1979, 5, 5), sex="M")
    marriage = register_marriage(
        session, person_id=anna.id, spouse_id=karl.id, married_on=date(2005, 1, 1), actor=ACTOR
    )
    assert_refused(
        session,
        lambda: dissolve_marriage(
            session, relation_id=marriage.id, dissolved_on=date(2004, 1, 1), actor=ACTOR
        ),
        "dissolved_on: must be after the marriage",
    )
    assert_refused(
        session,
        lambda: dissolve_marriage(
            session, relation_id=123_456, dissolved_on=date(2010, 1, 1), actor=ACTOR
        ),
        "not a current, lasting marriage",
    )
    ended = dissolve_marriage(
        session, relation_id=marriage.id, dissolved_on=date(2010, 1, 1), actor=ACTOR
    )
    for relation_id in (marriage.id, ended.id):  # superseded, and already ended
        assert_refused(
            session,
            lambda relation_id=relation_id: dissolve_marriage(  # type: ignore[misc]
                session, relation_id=relation_id, dissolved_on=date(2011, 1, 1), actor=ACTOR
            ),
            "not a current, lasting marriage",
        )


def test_relations_now_and_as_known_then_and_the_relatives_codes_in_one_read(
    session: Session, country: Country
) -> None:
    """The current relations on a day (one statement built once) are the relations as the
    register knows them now; the relatives' codes and birth dates are read together, and a
    relative the register did not know yet is not found, as reading them one by one."""
    from joinedup.core.clock import utcnow
    from joinedup.core.errors import NotFound
    from joinedup.registries import codes_and_birth_dates, get_person

    anna = adult(session, country, birth_date=date(1980, 1, 1))
    karl = adult(session, country, birth_date=date(1979, 5, 5), sex="M", given_names="Karl")
    marriage = register_marriage(
        session, person_id=karl.id, spouse_id=anna.id, married_on=date(2005, 8, 20), actor=ACTOR
    )
    on = date(2010, 1, 1)
    now = relations_of(session, person_id=anna.id, valid=on)
    assert [(r.id, r.kind, r.valid_to) for r in now] == [(marriage.id, RelationKind.SPOUSE, None)]
    assert now == relations_of(session, person_id=anna.id, valid=on, known=utcnow())
    assert relations_of(session, person_id=anna.id, valid=date(2005, 8, 19)) == []
    found = codes_and_birth_dates(session, person_ids=[karl.id, anna.id, karl.id])
    assert found == {
        p.id: (p.personal_code, p.birth_date)
        for p in (get_person(session, person_id=i) for i in (anna.id, karl.id))
    }
    assert codes_and_birth_dates(session, person_ids=[]) == {}
    with pytest.raises(NotFound, match="is not registered"):
        codes_and_birth_dates(session, person_ids=[anna.id, 10**9])
    before = date(2000, 1, 1)  # known then: before either was recorded
    with pytest.raises(NotFound, match="is not registered"):
        get_person(session, person_id=karl.id, known=before)
    with pytest.raises(NotFound, match="is not registered"):
        codes_and_birth_dates(session, person_ids=[karl.id], known=before)
