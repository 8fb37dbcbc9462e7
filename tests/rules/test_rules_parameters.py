"""Parameters: dated values with references, repeals, bracket scales; reforms of them."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from joinedup.rules.model import RulesetDefinitionError
from joinedup.rules.parameters import Parameter, ParameterTree, Scale, with_value
from joinedup.rules.ruleset import Ruleset


def test_dated_values_with_their_references(template: Ruleset) -> None:
    majority = template.parameters.get("general.age_of_majority")
    assert isinstance(majority, Parameter)
    assert majority.at(date(1970, 12, 31)).value == Decimal(21)  # type: ignore[union-attr]
    assert majority.at(date(1971, 1, 1)).value == Decimal(18)  # type: ignore[union-attr]
    assert majority.at(date(1944, 12, 31)) is None
    amount = template.parameters.get("benefits.basic_income")
    dated = amount.at(date(2016, 1, 1))  # type: ignore[union-attr]
    assert dated is not None
    assert dated.value == Decimal("600.00")
    assert dated.reference is not None
    assert dated.reference.url == ("https://law.gov.example/basic-income/amount/2015-12")


def test_a_repealed_parameter_has_no_value(template: Ruleset) -> None:
    rate = template.parameters.get("benefits.housing_allowance")
    assert rate.at(date(2016, 11, 30)).value == Decimal("0.25")  # type: ignore[union-attr]
    assert rate.at(date(2016, 12, 1)) is None  # type: ignore[union-attr]


def test_scale_brackets_in_force_on_a_date(template: Ruleset) -> None:
    scale = template.parameters.get("taxes.social_security_contribution")
    assert isinstance(scale, Scale)
    assert scale.kind == "marginal_rate"
    in_2016 = scale.at(date(2016, 6, 1))
    assert [(b.threshold, b.value) for b in in_2016] == [
        (Decimal(0), Decimal("0.04")),
        (Decimal(12300), Decimal("0.12")),
    ]
    in_2017 = scale.at(date(2017, 1, 1))
    assert [b.threshold for b in in_2017] == [0, 6000, 12400]
    assert scale.at(date(2012, 1, 1)) == ()


def test_a_changed_value_holds_until_the_law_next_changes(template: Ruleset) -> None:
    rate = template.parameters.get("taxes.income_tax_rate")
    assert isinstance(rate, Parameter)
    changed = with_value(rate, Decimal("0.2"), date(2013, 6, 1))
    assert changed.at(date(2013, 6, 1)).value == Decimal("0.2")  # type: ignore[union-attr]
    assert changed.at(date(2014, 1, 1)).value == Decimal("0.14")  # type: ignore[union-attr]
    assert changed.at(date(2013, 5, 31)).value == Decimal("0.13")  # type: ignore[union-attr]
    everywhere = with_value(rate, Decimal("0.2"), None)
    assert {d.value for d in everywhere.values} == {Decimal("0.2")}


def test_a_malformed_parameter_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text('[a.b]\nunit = "furlongs"\nvalues = [{ start = 2020-01-01, value = 1 }]\n')
    with pytest.raises(RulesetDefinitionError, match="unit must be one of"):
        ParameterTree.load(path)
    path.write_text('[a.b]\nunit = "rate"\nvalues = [{ value = 1 }]\n')
    with pytest.raises(RulesetDefinitionError, match="start"):
        ParameterTree.load(path)
