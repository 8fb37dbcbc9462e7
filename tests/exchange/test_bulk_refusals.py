"""The registries' bulk services for a batch of life events (``relatives``, ``incomes``):
refused to a subsystem without a right to them, and bad parameters refused naming them."""

from __future__ import annotations

import pytest
from bulk_support import fields_refused, refused_status, registry_service

from joinedup.core.db import Database
from joinedup.demo.agencies import organisation
from joinedup.exchange import INCOMES, RELATIVES

SERVICES = {
    RELATIVES: registry_service("population-register", "population", RELATIVES),
    INCOMES: registry_service("tax-board", "employment", INCOMES),
}
#: What each is asked for (the benefits agency's right names these fields).
FIELDS = {RELATIVES: ["personRef", "children"], INCOMES: ["personRef", "monthlyTotals"]}


@pytest.mark.parametrize("bulk", [RELATIVES, INCOMES])
def test_only_under_a_right_to_them(seeded: Database, bulk: str) -> None:
    """The routing subsystem resolves personal codes; it may not read families or incomes."""
    routing = organisation("digital-office")
    client = f"{routing.member_class}/{routing.member_code}/life-events"
    status = refused_status(
        seeded, SERVICES[bulk], client=client, purpose="life-event-routing",
        query={"personRefs": "1,2"},
    )  # fmt: skip
    assert status == 403


_REFERENCES = [
    ({}, "personRefs"),
    ({"personRefs": "1,x"}, "personRefs"),
    ({"personRefs": ",".join(map(str, range(1, 1002)))}, "personRefs"),
]


@pytest.mark.parametrize(
    ("bulk", "query", "field"),
    [
        *((RELATIVES, query, field) for query, field in _REFERENCES),
        (RELATIVES, {"personRefs": "1,2", "asOf": "yesterday"}, "asOf"),
        *((INCOMES, query, field) for query, field in _REFERENCES),
        (INCOMES, {"personRefs": "1,2", "from": "2025-13"}, "from"),
        (INCOMES, {"personRefs": "1,2", "to": "last month"}, "to"),
        (INCOMES, {"personRefs": "1,2", "from": "2025-06", "to": "2025-01"}, "from"),
        (INCOMES, {"personRefs": "1,2", "from": "2020-01", "to": "2025-01"}, "from"),
    ],
)
def test_bad_parameters_are_refused_naming_them(
    seeded: Database, bulk: str, query: dict[str, str], field: str
) -> None:
    assert fields_refused(seeded, SERVICES[bulk], query, fields=FIELDS[bulk]) == {field}
