"""``relatives``: the parents and children of many register references in one call, as the
single ``relations`` service answers them person by person (what the proactive services read
of a batch of births' parents), every person in the answer a data subject."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from joinedup.core.clock import today
from joinedup.core.db import Database
from joinedup.core.errors import ValidationFailed
from joinedup.demo.agencies import organisation
from joinedup.exchange import RELATIVES, LocalCallRefused, exchange_client

PURPOSE = "benefit-eligibility"


def _service(code: str) -> str:
    population = organisation("population-register")
    return f"{population.member_class}/{population.member_code}/population/{code}"


def _benefits() -> str:
    sib = organisation("social-insurance")
    return f"{sib.member_class}/{sib.member_code}/benefits"


def test_relatives_of_chosen_references_as_relations_answers_them(
    seeded_database: Database,
) -> None:
    with seeded_database.unit_of_work() as session:
        parents = session.execute(
            text(
                "SELECT p.id, p.personal_code FROM person p WHERE EXISTS (SELECT 1 FROM relation r "
                "WHERE r.kind = 'parent' AND r.person_id = p.id AND r.superseded_at IS NULL) "
                "ORDER BY p.id LIMIT 4"
            )
        ).all()
        assert len(parents) == 4  # (the seeded country has parents)
        asked = [parents[2][0], 10**12, *(ref for ref, _ in parents)]
        on = today().isoformat()
        with exchange_client(session, client=_benefits()) as calls:
            together = calls.call(
                _service(RELATIVES),
                purpose=PURPOSE,
                query={"personRefs": ",".join(map(str, asked)), "asOf": on},
                fields=["personRef", "parents", "children"],
                issue="t-relatives",
            ).body["persons"]
            one_by_one = {
                ref: calls.call(
                    _service("relations"),
                    purpose=PURPOSE,
                    query={"personalCode": code, "asOf": on},
                    fields=["parents", "children"],
                ).body
                for ref, code in parents
            }
        usages = session.execute(
            text(
                "SELECT subject_code, fields FROM exchange_data_usage "
                "WHERE case_reference = 't-relatives'"
            )
        ).all()
    # the known references, each once, in the order asked; the unknown one left out
    order = [parents[2][0], *(ref for ref, _ in parents if ref != parents[2][0])]
    assert [person["personRef"] for person in together] == order
    for person in together:
        single = one_by_one[person["personRef"]]
        assert person["children"] == single["children"]
        assert person["parents"] == single["parents"]
    assert any(person["children"] for person in together)
    named = {code for _, code in parents}
    relatives = {
        relative["personalCode"]
        for person in together
        for relative in (*person["parents"], *person["children"])
    }
    assert {subject for subject, _ in usages} == named | relatives
    assert len(usages) == len(named | relatives)  # one record each
    assert {fields for _, fields in usages} == {"personRef,parents,children"}


def test_relatives_only_under_a_right_to_them(seeded: Database) -> None:
    """The routing subsystem resolves personal codes; it may not read families."""
    routing = organisation("digital-office")
    client = f"{routing.member_class}/{routing.member_code}/life-events"
    with (
        seeded.unit_of_work() as session,
        pytest.raises(LocalCallRefused) as refused,
        exchange_client(session, client=client) as calls,
    ):
        calls.call(_service(RELATIVES), purpose="life-event-routing", query={"personRefs": "1,2"})
    assert refused.value.call_status == 403


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({}, "personRefs"),
        ({"personRefs": "1,x"}, "personRefs"),
        ({"personRefs": ",".join(map(str, range(1, 1002)))}, "personRefs"),
        ({"personRefs": "1,2", "asOf": "yesterday"}, "asOf"),
    ],
)
def test_relatives_bad_parameters_are_refused_naming_them(
    seeded: Database, query: dict[str, str], field: str
) -> None:
    with (
        seeded.unit_of_work() as session,
        pytest.raises(ValidationFailed) as refused,
        exchange_client(session, client=_benefits()) as calls,
    ):
        calls.call(_service(RELATIVES), purpose=PURPOSE, query=query)
    assert {error["field"] for error in refused.value.extensions["errors"]} == {field}
