"""Many births at once (the civil-registration entry point's group commit): each birth as
``register_birth`` would register or refuse it, the valid ones written together."""

from __future__ import annotations

import contextlib
from collections import Counter
from datetime import date, timedelta

import numpy as np
from registries_support import ACTOR, Country, adult, counts, event_names, make_country
from sqlalchemy import select
from sqlalchemy.orm import Session

from joinedup.core.clock import today
from joinedup.core.db import Database
from joinedup.core.errors import ValidationFailed
from joinedup.core.outbox import OutboxEvent
from joinedup.registries import (
    BirthRegistration,
    RegisteredBirth,
    get_person,
    is_valid_personal_code,
    parents_of,
    register_birth,
    register_births,
    register_death,
)
from joinedup.registries.codes import (
    first_free_personal_code,
    issuable_personal_codes,
    personal_code_prefixes,
)
from joinedup.registries.service import issued_codes
from joinedup.registries.service.checks import dates


def _birth(parents: list[int], born: date, **changes: object) -> BirthRegistration:
    values: dict[str, object] = {
        "given_names": "Mia",
        "family_name": "Tamm",
        "birth_date": born,
        "sex": "F",
        "birth_place": "Port Aldren",
        "parent_ids": tuple(parents),
        "actor": ACTOR,
    }
    values.update(changes)
    return BirthRegistration(**values)  # type: ignore[arg-type]


def test_a_group_of_births_is_registered_each_with_its_code_home_relations_and_event(
    session: Session, country: Country
) -> None:
    mother = adult(session, country, birth_date=date(1990, 4, 4), address_id=country.flat)
    other = adult(session, country, birth_date=date(1991, 5, 5))
    father = adult(session, country, birth_date=date(1988, 8, 8), sex="M", given_names="Karl")
    born = today() - timedelta(days=10)
    # one birth registered earlier the same day: the group's codes come after it
    earlier = register_birth(
        session,
        given_names="Ada",
        family_name="Tamm",
        birth_date=born,
        sex="F",
        birth_place="Port Aldren",
        parent_ids=[other.id],
        actor=ACTOR,
    )
    births = [
        _birth([mother.id, father.id], born),
        _birth([other.id], born),  # the same day and sex: the next serial
        _birth([other.id], born, sex="M", given_names="Jaan"),
    ]
    before = Counter(event_names(session))

    results = register_births(session, births=births)

    assert all(isinstance(r, RegisteredBirth) for r in results)
    registered = [r for r in results if isinstance(r, RegisteredBirth)]
    codes = [r.personal_code for r in registered]
    assert len(set(codes) | {earlier.personal_code}) == 4
    prefix = earlier.personal_code[:7]
    assert codes[:2] == list(issuable_personal_codes(prefix)[1:3])
    for result, birth in zip(registered, births, strict=True):
        child = get_person(session, person_id=result.person_id)
        assert child.personal_code == result.personal_code
        assert is_valid_personal_code(child.personal_code)
        assert (child.given_names, child.birth_date) == (birth.given_names, born)
        assert sorted(parents_of(session, person_id=child.id)) == sorted(birth.parent_ids)
        assert result.parent_ids == birth.parent_ids
    first = get_person(session, person_id=registered[0].person_id)
    assert first.residence is not None
    assert first.residence.address.id == country.flat  # the mother's home
    assert first.residence.valid_from == born
    assert registered[0].municipality_code == first.residence.address.municipality_code
    after = Counter(event_names(session))
    assert after["population.birth_registered.v1"] - before["population.birth_registered.v1"] == 3
    session.flush()
    payloads = [
        dict(p)
        for p in session.scalars(
            select(OutboxEvent.payload)
            .where(OutboxEvent.name == "population.birth_registered.v1")
            .order_by(OutboxEvent.id.desc())
            .limit(3)
        )
    ][::-1]
    assert payloads[0] == {
        "person_id": registered[0].person_id,
        "birth_date": born.isoformat(),
        "parent_ids": [mother.id, father.id],
        "municipality_code": registered[0].municipality_code,
    }


def test_a_refused_birth_is_refused_as_alone_and_the_others_are_registered(
    session: Session, country: Country
) -> None:
    mother = adult(session, country, birth_date=date(1990, 4, 4))
    dead = adult(session, country, birth_date=date(1980, 1, 1))
    register_death(session, person_id=dead.id, date_of_death=date(2019, 6, 1), actor=ACTOR)
    born = date(2020, 1, 1)
    births = [
        _birth([mother.id], born),
        _birth([mother.id], date(1989, 1, 1)),  # before its mother was born
        _birth([mother.id, 987_654], born),  # an unknown parent
        _birth([dead.id], born),  # the mother died before the birth
        _birth([mother.id], today() + timedelta(days=1)),  # in the future
        _birth([mother.id], born, given_names="x" * 201),  # a name too long
        _birth([mother.id], born, given_names="Eva"),
    ]
    before = counts(session)

    results = register_births(session, births=births)

    refusals = {i: r for i, r in enumerate(results) if isinstance(r, ValidationFailed)}
    assert sorted(refusals) == [1, 2, 3, 4, 5]
    assert "must be older than the child" in refusals[1].detail
    assert "not registered" in refusals[2].detail
    assert "was not alive" in refusals[3].detail
    assert "birth_date: is in the future" in refusals[4].detail
    assert "given_names" in refusals[5].detail
    after = counts(session)
    assert after["person"] - before["person"] == 2  # the two valid births only
    registered = [r for r in results if isinstance(r, RegisteredBirth)]
    assert [get_person(session, person_id=r.person_id).given_names for r in registered] == [
        "Mia",
        "Eva",
    ]


def test_an_empty_group_registers_nothing(session: Session) -> None:
    assert register_births(session, births=[]) == []


def test_the_first_free_code_follows_the_issuing_order() -> None:
    for prefix in ("4900101", "5250521", "6250229", "3991231"):
        issued = issuable_personal_codes(prefix)
        taken: set[str] = set()
        for expected in issued[:40]:
            code = first_free_personal_code(prefix, taken)
            assert code == expected
            taken.add(code)
        assert first_free_personal_code(prefix, set(issued)) is None


def test_the_first_free_code_from_a_serial_on_skips_only_the_serials_below_it() -> None:
    prefix = "6250229"
    issued = issuable_personal_codes(prefix)
    serial = int(issued[7][7:10])
    assert first_free_personal_code(prefix, set(), serial) == issued[7]
    assert first_free_personal_code(prefix, {issued[7]}, serial) == issued[8]
    assert first_free_personal_code(prefix, set(), serial + 1) == issued[8]  # (7 not issuable)


def _group(database: Database, mothers: list[int], born: date, fail: bool = False) -> list[str]:
    """Register a birth to each mother in one transaction (rolled back with ``fail``)."""
    with contextlib.suppress(RuntimeError), database.unit_of_work() as session:
        results = register_births(session, births=[_birth([m], born) for m in mothers])
        codes = [r.personal_code for r in results if isinstance(r, RegisteredBirth)]
        assert len(codes) == len(mothers)
        if fail:
            raise RuntimeError("rolled back")
        return codes
    return codes


def _marks(database: Database, prefix: str) -> dict[str, int]:
    with database.unit_of_work() as session:  # (codes are issued by the writing engine)
        return issued_codes.last_issued(session, [prefix])


def test_a_group_reads_the_codes_from_the_last_one_issued_on_and_sees_another_process(
    database: Database,
) -> None:
    with database.unit_of_work() as session:
        country = make_country(session)
        mothers = [
            adult(session, country, birth_date=date(1990, 1, 1) + timedelta(days=i)).id
            for i in range(8)
        ]
    born = today() - timedelta(days=3)
    first = _group(database, mothers[:3], born)
    prefix = first[0][:7]
    issued = list(issuable_personal_codes(prefix))
    assert first == issued[:3]
    assert _marks(database, prefix) == {prefix: int(issued[2][7:10])}
    # another process (its own engine, no marks) issues the next ones; this one sees them
    other = Database(database.url)
    try:
        assert _group(other, mothers[3:5], born) == issued[3:5]
    finally:
        other.dispose()
    # a transaction rolled back leaves no mark: its codes are issued again
    assert _group(database, mothers[5:6], born, fail=True) == issued[5:6]
    assert _marks(database, prefix) == {prefix: int(issued[2][7:10])}
    assert _group(database, mothers[5:7], born) == issued[5:7]
    assert _marks(database, prefix) == {prefix: int(issued[6][7:10])}


def test_a_mark_whose_code_is_gone_is_forgotten_and_the_codes_read_from_the_first(
    database: Database,
) -> None:
    """A mark can outlive its code only where the database was emptied under the process (as
    tests do): the code is then looked for from the first serial again, not skipped."""
    with database.unit_of_work() as session:
        country = make_country(session)
        mother = adult(session, country).id
    born = today() - timedelta(days=2)
    prefix = str(int(personal_code_prefixes(dates([born]), np.array(["F"]))[0]))
    stale = issuable_personal_codes(prefix)[20]
    with database.unit_of_work() as session:
        session.connection()  # (a transaction that commits, the code never written)
        issued_codes.issued(session, [stale])
    assert _marks(database, prefix) == {prefix: int(stale[7:10])}
    assert _group(database, [mother], born) == list(issuable_personal_codes(prefix)[:1])
    assert _marks(database, prefix) == {prefix: int(issuable_personal_codes(prefix)[0][7:10])}
