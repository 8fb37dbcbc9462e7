"""``relatives``: the parents and children of many register references in one call, as the
single ``relations`` service answers them person by person (what the proactive services read
of a batch of births' parents), every person in the answer a data subject."""

from __future__ import annotations

from bulk_support import PURPOSE, benefits, registry_service
from sqlalchemy import text

from joinedup.core.clock import today
from joinedup.core.db import Database
from joinedup.exchange import RELATIVES, exchange_client


def _service(code: str) -> str:
    return registry_service("population-register", "population", code)


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
        with exchange_client(session, client=benefits()) as calls:
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
    # the records are written when the unit of work commits
    with seeded_database.reading() as session:
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
