"""The bulk inputs as the rules see them: households by address, children under 18, and what
a household receives decided for its parents only (not a grown-up child or a grandparent
living there, not a parent living elsewhere)."""

from __future__ import annotations

from datetime import date

import numpy as np

from joinedup.proactive.reevaluation.inputs import ages_on, build_inputs
from joinedup.proactive.reevaluation.ledger import ServiceSpec
from joinedup.proactive.reevaluation.service import service_values
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
