"""The population register's bulk services: the extract (``population-extract``: a range of
persons, or chosen ones, and everyone living with them, as columns) and ``person-codes`` (the
personal codes of chosen register references), read only under a right to them, with a
data-usage record for every person in the answer; every bad parameter a 422 naming it."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from joinedup.core.db import Database
from joinedup.core.errors import ValidationFailed
from joinedup.demo.agencies import organisation
from joinedup.exchange import LocalCallRefused, exchange_client

PURPOSE = "benefit-eligibility"


def _service() -> str:
    population = organisation("population-register")
    return f"{population.member_class}/{population.member_code}/population/population-extract"


def _client(key: str, subsystem: str) -> str:
    org = organisation(key)
    return f"{org.member_class}/{org.member_code}/{subsystem}"


def test_a_range_and_its_households_with_a_usage_record_per_person(
    seeded_database: Database,
) -> None:
    db = seeded_database
    with (
        db.unit_of_work() as session,
        exchange_client(session, client=_client("social-insurance", "benefits")) as calls,
    ):
        answer = calls.call(
            _service(), purpose=PURPOSE, query={"fromRef": "1", "toRef": "101"}, issue="t-1"
        )
    # the records are written when the unit of work commits
    with db.reading() as session:
        usages = session.execute(
            text(
                "SELECT count(*), count(DISTINCT subject_code) FROM exchange_data_usage "
                "WHERE case_reference = 't-1'"
            )
        ).one()
    body = answer.body
    columns = body["columns"]
    refs = columns["personRef"]
    assert refs == sorted(refs)
    assert len(refs) == body["count"] == len(body["inRange"]) == len(columns["personalCode"])
    in_range = [ref for ref, inside in zip(refs, body["inRange"], strict=True) if inside]
    assert in_range == [ref for ref in refs if 1 <= ref < 101]
    assert len(in_range) == 100
    # everyone outside the range lives with someone inside it
    homes = {
        home
        for home, inside in zip(columns["householdRef"], body["inRange"], strict=True)
        if inside and home is not None
    }
    outside = [
        home
        for home, inside in zip(columns["householdRef"], body["inRange"], strict=True)
        if not inside
    ]
    assert all(home in homes for home in outside)
    assert set(answer.data_subjects) == set(columns["personalCode"])
    assert tuple(usages) == (len(refs), len(refs))


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"toRef": "10"}, "fromRef"),
        ({"fromRef": "1"}, "toRef"),
        ({"fromRef": "x", "toRef": "10"}, "fromRef"),
        ({"fromRef": "²", "toRef": "10"}, "fromRef"),  # a digit to isdigit(), not to int()
        ({"fromRef": "10", "toRef": "10"}, "toRef"),
        ({"fromRef": "1", "toRef": "300000"}, "toRef"),
        ({"fromRef": "1", "toRef": "10", "asOf": "2026-02-30"}, "asOf"),
        ({"personRefs": ""}, "personRefs"),
        ({"personRefs": "1,,2"}, "personRefs"),
        ({"personRefs": "1;2"}, "personRefs"),
        ({"personRefs": "-1"}, "personRefs"),
        ({"personRefs": ",".join(map(str, range(1, 1002)))}, "personRefs"),
        ({"personRefs": "1,2", "fromRef": "1", "toRef": "10"}, "personRefs"),
    ],
)
def test_bad_parameters_are_refused_naming_them(
    seeded: Database, query: dict[str, str], field: str
) -> None:
    client = _client("social-insurance", "benefits")
    with (
        seeded.unit_of_work() as session,
        pytest.raises(ValidationFailed) as refused,
        exchange_client(session, client=client) as calls,
    ):
        calls.call(_service(), purpose=PURPOSE, query=query)
    assert field in {error["field"] for error in refused.value.extensions["errors"]}


def test_only_a_right_to_the_extract_reads_it(seeded: Database) -> None:
    with (
        seeded.unit_of_work() as session,
        pytest.raises(LocalCallRefused) as refused,
        exchange_client(session, client=_client("tax-board", "tax")) as calls,
    ):
        calls.call(_service(), purpose="taxation", query={"fromRef": "1", "toRef": "10"})
    assert refused.value.call_status == 403


def _refs(session: Session, count: int) -> list[int]:
    """Every seventh person's register reference: scattered, not a range."""
    rows = session.execute(text("SELECT id FROM person ORDER BY id")).scalars().all()
    return [int(ref) for ref in rows[::7][:count]]


def _rows(columns: dict[str, list[Any]]) -> dict[int, tuple[Any, ...]]:
    """Each person's values, by register reference."""
    values = zip(*columns.values(), strict=True)
    return dict(zip(columns["personRef"], values, strict=True))


def test_chosen_persons_give_the_households_their_ranges_give(seeded_database: Database) -> None:
    """``personRefs``: the persons named and everyone living with them, the same rows as a
    range of one per person gives, in one call (one message, a usage record per person)."""
    client = _client("social-insurance", "benefits")
    with seeded_database.unit_of_work() as session:
        refs = _refs(session, 12)
        with exchange_client(session, client=client) as calls:
            chosen = calls.call(
                _service(),
                purpose=PURPOSE,
                query={"personRefs": ",".join(map(str, [*refs, refs[0]]))},  # one twice
                issue="t-chosen",
            ).body
            ones = [
                calls.call(
                    _service(), purpose=PURPOSE, query={"fromRef": str(ref), "toRef": str(ref + 1)}
                ).body
                for ref in refs
            ]
    # the records are written when the unit of work commits
    with seeded_database.reading() as session:
        messages, usages = session.execute(
            text(
                "SELECT count(DISTINCT message_id), count(*) FROM exchange_data_usage "
                "WHERE case_reference = 't-chosen'"
            )
        ).one()
    columns = chosen["columns"]
    rows = _rows(columns)
    expected = {}
    for one in ones:
        expected.update(_rows(one["columns"]))
    assert rows == expected
    assert columns["personRef"] == sorted(columns["personRef"])
    assert [r for r, inside in zip(columns["personRef"], chosen["inRange"], strict=True)
            if inside] == sorted(refs)  # fmt: skip
    assert (messages, usages) == (1, len(rows))


def _codes_service() -> str:
    return _service().replace("population-extract", "person-codes")


def test_person_codes_of_chosen_references(seeded_database: Database) -> None:
    """The routing subsystem resolves a batch's references in one call: the known ones, in
    the order asked, each person a data subject; an unknown reference is left out."""
    client = _client("digital-office", "life-events")
    with seeded_database.unit_of_work() as session:
        refs = _refs(session, 5)
        codes = dict(
            session.execute(
                text("SELECT id, personal_code FROM person WHERE id IN :refs").bindparams(
                    bindparam("refs", expanding=True)
                ),
                {"refs": refs},
            ).all()
        )
        asked = [refs[3], 10**12, *refs]
        with exchange_client(session, client=client) as calls:
            answer = calls.call(
                _codes_service(),
                purpose="life-event-routing",
                query={"personRefs": ",".join(map(str, asked))},
                issue="t-codes",
            )
    # the records are written when the unit of work commits
    with seeded_database.reading() as session:
        usages = session.execute(
            text(
                "SELECT subject_code, fields FROM exchange_data_usage "
                "WHERE case_reference = 't-codes'"
            )
        ).all()
    order = [refs[3], *[r for r in refs if r != refs[3]]]
    assert answer.body == {
        "persons": [{"personRef": ref, "personalCode": codes[ref]} for ref in order]
    }
    assert sorted(subject for subject, _ in usages) == sorted(codes.values())
    assert {fields for _, fields in usages} == {"personRef,personalCode"}


def test_person_codes_only_under_a_right_to_them(seeded: Database) -> None:
    """The benefits subsystem may read the extract, not the routing's codes."""
    with (
        seeded.unit_of_work() as session,
        pytest.raises(LocalCallRefused) as refused,
        exchange_client(session, client=_client("social-insurance", "benefits")) as calls,
    ):
        calls.call(_codes_service(), purpose=PURPOSE, query={"personRefs": "1,2"})
    assert refused.value.call_status == 403


@pytest.mark.parametrize(
    "query",
    [{}, {"personRefs": "1,x"}, {"personRefs": ",".join(map(str, range(1, 1002)))}],
)
def test_person_codes_bad_references_are_refused(seeded: Database, query: dict[str, str]) -> None:
    client = _client("digital-office", "life-events")
    with (
        seeded.unit_of_work() as session,
        pytest.raises(ValidationFailed) as refused,
        exchange_client(session, client=client) as calls,
    ):
        calls.call(_codes_service(), purpose="life-event-routing", query=query)
    assert {error["field"] for error in refused.value.extensions["errors"]} == {"personRefs"}
