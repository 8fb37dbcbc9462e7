"""The bulk inputs as the rules see them: households by address, children under 18, and what
a household receives decided for its parents only (not a grown-up child or a grandparent
living there, not a parent living elsewhere)."""

from __future__ import annotations

from datetime import date

import numpy as np

from joinedup.proactive.payees import choose_payee
from joinedup.proactive.reevaluation.chunk import service_values
from joinedup.proactive.reevaluation.inputs import ages_on, build_inputs
from joinedup.proactive.reevaluation.ledger import ServiceSpec
from joinedup.rules import Period, get_ruleset


def _body() -> dict[str, object]:
    # refs: 1 mother, 2 father, 3 son of 19, 4 daughter of 10, 5 grandmother (all at home 100);
    # 6 the daughter's father living elsewhere (home 200); 7 someone without a residence
    return {
        "count": 7,
        "inRange": [True] * 7,
        "columns": {
            "personRef": [1, 2, 3, 4, 5, 6, 7],
            "personalCode": ["m", "f", "s", "d", "g", "x", "n"],
            "birthDate": [
                "1985-03-01", "1984-05-05", "2007-01-10", "2016-06-06", "1950-01-01",
                "1983-02-02", "1990-01-01",
            ],
            "dateOfDeath": [None] * 7,
            "householdRef": [100, 100, 100, 100, 100, 200, None],
            "parentRefs": [[5], [], [1, 2], [1, 6], [], [], []],
        },
    }  # fmt: skip


def test_a_household_receives_through_its_parents_only() -> None:
    ruleset = get_ruleset("demo")
    period = Period.parse("2027-01")
    inputs = build_inputs(ruleset, _body(), period)
    assert inputs.adult.tolist() == [True, True, True, False, True, True, True]
    # the mother is a parent of the daughter at home; the father of the son who is grown up
    # is not a parent of a child here; the grandmother's child is an adult
    assert inputs.parent.tolist() == [True, False, False, False, False, False, False]
    spec = ServiceSpec(
        code="child-benefit", names={"en": "child benefit"}, owner_member_class="GOV",
        owner_member_code="1", owner_subsystem="benefits", delivery_mode="automatic",
        ruleset="demo", variable="child_benefit", purpose="benefit-eligibility",
        legal_basis="Family Benefits Act", legal_basis_url=None,
    )  # fmt: skip
    due, amount = service_values(ruleset, inputs, [spec], period)["child-benefit"]
    assert due.tolist() == [True, False, False, False, False, False, False]
    assert int(amount[0]) == 12000  # one child under 18 at home, 120.00 in 2027


def test_ages_are_whole_years_with_leap_birthdays_on_the_first_of_march() -> None:
    births = np.array(["2000-02-29", "2008-12-02", "2008-12-01"], dtype="datetime64[D]")
    assert ages_on(births, date(2026, 12, 1)).tolist() == [26, 17, 18]
    assert ages_on(births, date(2027, 2, 28)).tolist() == [26, 18, 18]
    assert ages_on(births, date(2027, 3, 1)).tolist() == [27, 18, 18]


def _spec() -> ServiceSpec:
    return ServiceSpec(
        code="child-benefit", names={"en": "child benefit"}, owner_member_class="GOV",
        owner_member_code="1", owner_subsystem="benefits", delivery_mode="automatic",
        ruleset="demo", variable="child_benefit", purpose="benefit-eligibility",
        legal_basis="Family Benefits Act", legal_basis_url=None,
    )  # fmt: skip


def _family(
    *, parent_refs: list[list[int]], deaths: list[str | None] | None = None
) -> dict[str, object]:
    # refs: 1 a parent, 2 a parent, 3 a child of 10, 4 a child of 2 (all at home 100)
    return {
        "count": 4,
        "inRange": [True] * 4,
        "columns": {
            "personRef": [1, 2, 3, 4],
            "personalCode": ["a", "b", "c", "d"],
            "birthDate": ["1985-03-01", "1984-05-05", "2016-06-06", "2024-09-09"],
            "dateOfDeath": deaths or [None] * 4,
            "householdRef": [100, 100, 100, 100],
            "parentRefs": [[], [], *parent_refs],
        },
    }


def _paid(body: dict[str, object], holders: list[bool] | None = None) -> list[int]:
    ruleset, period = get_ruleset("demo"), Period.parse("2027-01")
    inputs = build_inputs(ruleset, body, period)
    held = {"child-benefit": np.asarray(holders, dtype=np.bool_)} if holders else None
    _, amount = service_values(ruleset, inputs, [_spec()], period, holders=held)["child-benefit"]
    return [int(a) for a in amount]


def test_a_household_benefit_is_paid_to_one_parent_who_gave_birth_to_the_youngest() -> None:
    """Both parents receive for the household, but only one is paid: the parent who gave
    birth to the youngest child (its first registered parent), never both."""
    both = _family(parent_refs=[[2, 1], [1, 2]])
    inputs = build_inputs(get_ruleset("demo"), both, Period.parse("2027-01"))
    assert inputs.parent.tolist() == [True, True, False, False]
    assert inputs.birth_parent.tolist() == [True, False, False, False]  # the youngest's first
    assert _paid(both) == [24000, 0, 0, 0]  # two children, 120.00 each, paid once
    # the other way round: the youngest child's first registered parent is 2
    assert _paid(_family(parent_refs=[[1, 2], [2, 1]])) == [0, 24000, 0, 0]


def test_the_parent_who_holds_it_keeps_it_and_a_parent_who_died_is_not_paid() -> None:
    family = _family(parent_refs=[[1, 2], [1, 2]])
    assert _paid(family) == [24000, 0, 0, 0]
    # the other parent was paid it already: it stays with them (no move at a law change)
    assert _paid(family, holders=[False, True, False, False]) == [0, 24000, 0, 0]
    # both held it (as before one payee): one keeps it
    assert _paid(family, holders=[True, True, False, False]) == [24000, 0, 0, 0]
    # the parent who gave birth died before the month: the surviving parent is paid
    widowed = _family(parent_refs=[[1, 2], [1, 2]], deaths=["2026-11-20", None, None, None])
    assert _paid(widowed) == [0, 24000, 0, 0]
    assert _paid(widowed, holders=[True, False, False, False]) == [0, 24000, 0, 0]


def test_of_two_holders_the_parent_who_gave_birth_keeps_it_on_both_paths() -> None:
    """Two parents holding it (as recorded before one payee): the one who gave birth to the
    youngest child keeps it, in columns and for one household alike."""
    family = _family(parent_refs=[[2, 1], [2, 1]])  # parent 2 gave birth to both
    assert _paid(family, holders=[True, True, False, False]) == [0, 24000, 0, 0]
    assert choose_payee(["a", "b"], holders={"a", "b"}, birth_parent="b") == "b"
    assert choose_payee(["a", "b"], holders={"a", "b"}, birth_parent=None) == "a"
