"""Periods, and the money rounding rules both evaluators share."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from joinedup.core.errors import ValidationFailed
from joinedup.rules.money import (
    cents_array,
    format_money,
    round_half_away,
    round_half_away_array,
    to_cents,
)
from joinedup.rules.periods import ETERNITY, Period, Unit, add_months


def test_periods_parse_print_and_derive() -> None:
    month = Period.parse("2016-03")
    assert (month.unit, month.start, month.stop) == (
        Unit.MONTH,
        date(2016, 3, 1),
        date(2016, 3, 31),
    )
    assert str(Period.parse("2017")) == "2017"
    assert Period.parse("ETERNITY") is ETERNITY
    assert str(Period.parse("2016-02-29")) == "2016-02-29"
    assert Period.parse("2016-02").stop == date(2016, 2, 29)
    assert month.this_year == Period.year(2016)
    assert month.first_month == month
    assert Period.year(2017).first_month == Period.month(2017, 1)
    assert month.last_month == Period.month(2016, 2)
    last3 = month.last_months(3)
    assert str(last3) == "month:2015-12:3"
    assert last3.subperiods(Unit.MONTH) == (
        Period.month(2015, 12),
        Period.month(2016, 1),
        Period.month(2016, 2),
    )
    assert Period.parse("month:2015-12:3") == last3
    assert add_months(date(2016, 1, 31), 1) == date(2016, 2, 29)


@pytest.mark.parametrize("text", ["2016-13", "16-01", "2016/01", "", "month:2016:2", "yesterday"])
def test_bad_periods_are_refused_with_the_accepted_forms(text: str) -> None:
    with pytest.raises(ValidationFailed, match="YYYY-MM"):
        Period.parse(text)


def test_rounding_is_half_away_from_zero_in_both_forms() -> None:
    values = [0.5, 1.5, 2.5, -0.5, -1.5, 2.4999, -2.4999, 0.0, -0.0, 18518.55, 7.0]
    expected = [1, 2, 3, -1, -2, 2, -2, 0, 0, 18519, 7]
    assert [round_half_away(v) for v in values] == expected
    assert round_half_away_array(np.array(values)).tolist() == expected
    assert round_half_away_array(np.array([5, -3])).tolist() == [5, -3]


@given(
    cents=st.integers(min_value=-(10**11), max_value=10**11),
    rate=st.decimals(min_value=Decimal("-2"), max_value=Decimal("2"), places=4),
)
def test_an_amount_times_a_rate_rounds_like_exact_decimal_arithmetic(
    cents: int, rate: Decimal
) -> None:
    # the engines compute (cents × num) / den once, then round half away from zero
    fraction = Fraction(rate)
    engine = round_half_away(cents * fraction.numerator / fraction.denominator)
    column = np.array([cents], dtype=np.int64) * fraction.numerator / fraction.denominator
    exact = (Decimal(cents) * rate).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    assert engine == int(exact) == round_half_away_array(column)[0]


def test_money_inputs_and_formatting() -> None:
    assert to_cents(4000) == 400_000
    assert to_cents("0.005") == 1
    assert to_cents(Decimal("-0.005")) == -1
    assert to_cents(0.1 + 0.2) == 30
    assert cents_array(np.array([1, 2])).tolist() == [100, 200]
    assert cents_array(np.array([1.005, 2.675])).tolist() == [101, 268]
    with pytest.raises(ValueError, match="not an amount"):
        to_cents(float("nan"))
    with pytest.raises(TypeError):
        to_cents(True)
    assert format_money(120_000) == "€1,200.00"
    assert format_money(-5) == "−€0.05"
    assert format_money(1.5) == "€0.02"


def test_a_period_parsed_again_is_the_same_and_what_is_kept_is_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A text parsed before is answered from what was kept (the same, immutable period);
    a text that is not a period is refused every time and never kept; past the bound, what
    is kept starts again."""
    import joinedup.rules.periods as periods

    monkeypatch.setattr(periods, "_PARSED", {})
    monkeypatch.setattr(periods, "_PARSED_KEPT", 3)
    first = Period.parse("2024-05")
    assert Period.parse("2024-05") is first
    assert first == Period(Unit.MONTH, date(2024, 5, 1))
    for _ in range(2):
        with pytest.raises(ValidationFailed):
            Period.parse("2024-13")
    assert "2024-13" not in periods._PARSED
    for text in ("2024", "2024-05-31", "eternity", "month:2024-01:3"):
        Period.parse(text)
    assert len(periods._PARSED) <= 3
    assert Period.parse("month:2024-01:3") == Period(Unit.MONTH, date(2024, 1, 1), 3)
