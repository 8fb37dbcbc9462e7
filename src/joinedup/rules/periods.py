"""Periods: the span of time a value of a variable describes.

A period is a unit (day, month, year, eternity), a first day and a number of units: ``2017-01``
is one month, ``2017`` one year, ``month:2016-10:3`` the three months October–December 2016.
Parameters are read at an instant (a date): the first day of the period being computed, as in
OpenFisca.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum

from joinedup.core.errors import ValidationFailed


class Unit(StrEnum):
    DAY = "day"
    MONTH = "month"
    YEAR = "year"
    ETERNITY = "eternity"


def add_months(day: date, months: int) -> date:
    """``day`` moved by ``months`` calendar months (the day clamped to the month's length)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_YEAR = re.compile(r"^(\d{4})$")
_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_MULTI = re.compile(r"^(day|month|year):([\d-]+):(\d+)$")
#: Periods parsed so far, by their text (a period is immutable); at most :data:`_PARSED_KEPT`.
_PARSED: dict[str, Period] = {}
_PARSED_KEPT = 4096


@dataclass(frozen=True, slots=True, order=True)
class Period:
    """``size`` units of ``unit`` starting on ``start`` (which is the unit's first day)."""

    unit: Unit
    start: date
    size: int = 1
    # periods key every memo of the engines: hash once, not on every lookup
    _hash: int = field(init=False, repr=False, compare=False, default=0)
    # and they name every value of an explanation: write the text once, when first asked
    _text: str = field(init=False, repr=False, compare=False, default="")

    def __post_init__(self) -> None:
        object.__setattr__(self, "_hash", hash((self.unit, self.start, self.size)))

    def __hash__(self) -> int:
        return self._hash

    @staticmethod
    def month(year: int, month: int) -> Period:
        return Period(Unit.MONTH, date(year, month, 1))

    @staticmethod
    def year(year: int) -> Period:
        return Period(Unit.YEAR, date(year, 1, 1))

    @staticmethod
    def parse(text: str) -> Period:
        """``2017-01`` (month), ``2017`` (year), ``2017-01-15`` (day), ``eternity``, or
        ``month:2016-10:3``. Raises ``ValidationFailed`` with the accepted forms. A text
        parsed before is answered from :data:`_PARSED` (a situation names the same few
        periods over and over)."""
        found = _PARSED.get(text)
        if found is not None:
            return found
        period = Period._parse(text)
        if len(_PARSED) >= _PARSED_KEPT:
            _PARSED.clear()
        _PARSED[text] = period
        return period

    @staticmethod
    def _parse(text: str) -> Period:
        value = text.strip()
        try:
            if value.lower() == "eternity":
                return ETERNITY
            if m := _MONTH.match(value):
                return Period(Unit.MONTH, date(int(m[1]), int(m[2]), 1))
            if m := _YEAR.match(value):
                return Period(Unit.YEAR, date(int(m[1]), 1, 1))
            if m := _DAY.match(value):
                return Period(Unit.DAY, date(int(m[1]), int(m[2]), int(m[3])))
            if m := _MULTI.match(value):
                first = Period.parse(m[2])
                if first.unit != Unit(m[1]) or int(m[3]) < 1:
                    raise ValueError(value)
                return Period(first.unit, first.start, int(m[3]))
        except ValueError:
            pass
        raise ValidationFailed(
            f"'{text}' is not a period: use YYYY-MM (a month), YYYY (a year), YYYY-MM-DD "
            "(a day) or 'eternity'.",
            period=text,
        )

    @property
    def stop(self) -> date:
        """The last day of the period."""
        if self.unit is Unit.ETERNITY:
            return date.max
        if self.unit is Unit.DAY:
            return self.start + timedelta(days=self.size - 1)
        months = self.size * (12 if self.unit is Unit.YEAR else 1)
        return add_months(self.start, months) - timedelta(days=1)

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.stop

    @property
    def first_month(self) -> Period:
        return Period(Unit.MONTH, self.start.replace(day=1))

    @property
    def this_year(self) -> Period:
        return Period(Unit.YEAR, date(self.start.year, 1, 1))

    @property
    def last_month(self) -> Period:
        return Period(Unit.MONTH, add_months(self.start.replace(day=1), -1))

    @property
    def last_year(self) -> Period:
        return Period(Unit.YEAR, date(self.start.year - 1, 1, 1))

    def last_months(self, count: int) -> Period:
        """The ``count`` whole months before this period's first month."""
        return Period(Unit.MONTH, add_months(self.start.replace(day=1), -count), count)

    def subperiods(self, unit: Unit) -> tuple[Period, ...]:
        """This period cut into single ``unit`` periods (months of a year, …)."""
        if unit is self.unit and self.size == 1:
            return (self,)
        if unit is Unit.MONTH and self.unit in (Unit.MONTH, Unit.YEAR):
            months = self.size * (12 if self.unit is Unit.YEAR else 1)
            return tuple(Period(Unit.MONTH, add_months(self.start, i)) for i in range(months))
        if unit is Unit.YEAR and self.unit is Unit.YEAR:
            return tuple(Period.year(self.start.year + i) for i in range(self.size))
        raise ValueError(f"{self} cannot be cut into {unit.value}s")

    def __str__(self) -> str:
        if not self._text:
            object.__setattr__(self, "_text", self._write())
        return self._text

    def _write(self) -> str:
        if self.unit is Unit.ETERNITY:
            return "eternity"
        if self.unit is Unit.YEAR:
            text = f"{self.start.year:04d}"
        elif self.unit is Unit.MONTH:
            text = f"{self.start.year:04d}-{self.start.month:02d}"
        else:
            text = self.start.isoformat()
        return text if self.size == 1 else f"{self.unit.value}:{text}:{self.size}"


ETERNITY = Period(Unit.ETERNITY, date.min)


def period_of_unit(unit: Unit, period: Period) -> Period:
    """The ``unit`` period a value of a variable defined per ``unit`` takes inside ``period``
    (the month a day falls in, the year of a month, …)."""
    if unit is Unit.ETERNITY:
        return ETERNITY
    if unit is Unit.YEAR:
        return period.this_year
    if unit is Unit.MONTH:
        return period.first_month
    return Period(Unit.DAY, period.start)
