"""A seeded synthetic population for the country template ruleset, as plain NumPy columns, so
the same people can be given to joinedup and to OpenFisca (benchmark, differential tests).

Households of 1–5 persons; the first member is an adult, others adults or children; salaries,
capital returns and rents in whole euros (``cents=False``) or in euros and cents.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from joinedup.rules.periods import Period
from joinedup.rules.population import GroupColumns, Population
from joinedup.rules.ruleset import Ruleset

Array = npt.NDArray[Any]
STATUSES = ("owner", "tenant", "free_lodger", "homeless")


@dataclass(frozen=True, slots=True)
class SyntheticPopulation:
    person_ids: Array  # int64 0..n-1
    household_ids: Array  # int64 0..h-1
    person_household: Array  # int64, sorted
    person_role: Array  # int8: 0 adult, 1 child
    birth: Array  # datetime64[D]
    salary: Array  # int64 cents
    capital_returns: Array  # int64 cents
    rent: Array  # int64 cents, per household
    accommodation_size: Array  # float64 m², per household
    housing_occupancy_status: Array  # int8 code, per household

    @property
    def persons(self) -> int:
        return len(self.person_ids)

    @property
    def households(self) -> int:
        return len(self.household_ids)


def generate(
    persons: int, *, seed: int, cents: bool = True, today: str = "2018-01-01"
) -> SyntheticPopulation:
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 6, size=persons // 2 + 1)
    person_household = np.repeat(np.arange(len(sizes), dtype=np.int64), sizes)[:persons]
    households = int(person_household[-1]) + 1 if persons else 0
    first = np.ones(persons, dtype=np.bool_)
    first[1:] = person_household[1:] != person_household[:-1]
    adult = first | (rng.random(persons) < 0.35)
    role = np.where(adult, 0, 1).astype(np.int8)
    end = np.datetime64(today, "D")
    # adults born 18–95 years before today, children 0–18 years
    age_days = np.where(
        adult, rng.integers(18 * 365, 95 * 365, persons), rng.integers(0, 18 * 365, persons)
    )
    birth = end - age_days.astype("timedelta64[D]")

    def amounts(size: int, zero_share: float, high: int) -> Array:
        euros = rng.integers(0, high, size, dtype=np.int64) * 100
        if cents:
            euros += rng.integers(0, 100, size, dtype=np.int64)
        return np.where(rng.random(size) < zero_share, 0, euros)

    return SyntheticPopulation(
        person_ids=np.arange(persons, dtype=np.int64),
        household_ids=np.arange(households, dtype=np.int64),
        person_household=person_household,
        person_role=role,
        birth=birth,
        salary=np.where(adult, amounts(persons, 0.4, 6000), 0),
        capital_returns=amounts(persons, 0.8, 2000),
        rent=amounts(households, 0.3, 2000),
        accommodation_size=rng.integers(20, 400, households) / 2.0,
        housing_occupancy_status=rng.integers(0, len(STATUSES), households).astype(np.int8),
    )


def to_population(
    ruleset: Ruleset, synthetic: SyntheticPopulation, periods: list[Period]
) -> Population:
    """The population in joinedup's columns, with the monthly inputs given for ``periods``."""
    population = Population.build(
        ruleset,
        person_ids=synthetic.person_ids,
        groups={
            "household": GroupColumns(
                synthetic.household_ids, synthetic.person_household, synthetic.person_role
            )
        },
    )
    population.set_input("birth", synthetic.birth, native=True)
    for period in periods:
        for name in ("salary", "capital_returns", "rent", "accommodation_size"):
            population.set_input(name, getattr(synthetic, name), period, native=True)
        population.set_input(
            "housing_occupancy_status", synthetic.housing_occupancy_status, period, native=True
        )
    return population


def input_months(periods: list[Period]) -> list[Period]:
    """The months whose inputs the country template reads for ``periods`` (each month and the
    January of its year, which the yearly housing tax reads)."""
    months: dict[Period, None] = {}
    for period in periods:
        months[period.first_month] = None
        months[period.this_year.first_month] = None
    return list(months)
