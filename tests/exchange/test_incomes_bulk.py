"""``incomes``: the monthly income totals of many register references in one call, as the
single ``income-totals`` service answers them person by person (what the proactive services
read of a batch of births' parents), every person in the answer a data subject."""

from __future__ import annotations

from bulk_support import PURPOSE, benefits, refused_status, registry_service
from sqlalchemy import text

from joinedup.core.db import Database
from joinedup.exchange import INCOMES, exchange_client


def _service(code: str) -> str:
    return registry_service("tax-board", "employment", code)


def test_incomes_of_chosen_references_as_income_totals_answers_them(
    seeded_database: Database,
) -> None:
    with seeded_database.unit_of_work() as session:
        earners = session.execute(
            text(
                "SELECT p.id, p.personal_code FROM person p WHERE EXISTS (SELECT 1 FROM "
                "monthly_income i WHERE i.person_id = p.id AND i.superseded_at IS NULL) "
                "ORDER BY p.id LIMIT 3"
            )
        ).all()
        idle = session.execute(
            text(
                "SELECT p.id, p.personal_code FROM person p WHERE NOT EXISTS (SELECT 1 FROM "
                "monthly_income i WHERE i.person_id = p.id) ORDER BY p.id LIMIT 1"
            )
        ).one()
        months = session.execute(text("SELECT min(period), max(period) FROM monthly_income")).one()
        assert len(earners) == 3  # (the seeded country has earners)
        persons = [*earners, idle]
        asked = [earners[1][0], 10**12, *(ref for ref, _ in persons)]
        span = {"from": months[0], "to": max(months[0], months[1])}
        with exchange_client(session, client=benefits()) as calls:
            together = calls.call(
                _service(INCOMES),
                purpose=PURPOSE,
                query={"personRefs": ",".join(map(str, asked)), **span},
                fields=["personRef", "monthlyTotals"],
                issue="t-incomes",
            ).body["persons"]
            one_by_one = {
                ref: calls.call(
                    _service("income-totals"),
                    purpose=PURPOSE,
                    query={"personalCode": code, **span},
                    fields=["monthlyTotals"],
                ).body
                for ref, code in persons
            }
    # the records are written when the unit of work commits
    with seeded_database.reading() as session:
        usages = session.execute(
            text(
                "SELECT subject_code, fields FROM exchange_data_usage "
                "WHERE case_reference = 't-incomes'"
            )
        ).all()
    # the known references, each once, in the order asked; the unknown one left out
    order = [earners[1][0], *(ref for ref, _ in persons if ref != earners[1][0])]
    assert [person["personRef"] for person in together] == order
    for person in together:
        single = one_by_one[person["personRef"]]
        assert person["monthlyTotals"] == single["monthlyTotals"]
        assert set(person) == {"personRef", "monthlyTotals"}  # (only the fields asked for)
    earned = [sum(m["amount"] for m in person["monthlyTotals"]) for person in together]
    assert any(earned)
    assert earned[-1] == 0  # someone without income: every month 0
    assert len(together[-1]["monthlyTotals"]) == len(together[0]["monthlyTotals"]) > 1
    assert sorted(subject for subject, _ in usages) == sorted(code for _, code in persons)
    assert {fields for _, fields in usages} == {"personRef,monthlyTotals"}


def test_incomes_the_right_does_not_name_are_refused(seeded: Database) -> None:
    """The benefits agency may read the monthly totals, not the sum of them."""
    fields = ["personRef", "monthlyTotals", "total"]
    query = {"personRefs": "1,2"}
    assert refused_status(seeded, _service(INCOMES), query=query, fields=fields) == 403
