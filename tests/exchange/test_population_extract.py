"""The population register's bulk extract (``population-extract``): a range of persons and
everyone living with them, as columns, read only under a right to it, with a data-usage
record for every person in the answer; every bad parameter a 422 naming it."""

from __future__ import annotations

import pytest
from sqlalchemy import text

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
    with db.unit_of_work() as session:
        with exchange_client(session, client=_client("social-insurance", "benefits")) as calls:
            answer = calls.call(
                _service(), purpose=PURPOSE, query={"fromRef": "1", "toRef": "101"}, issue="t-1"
            )
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
