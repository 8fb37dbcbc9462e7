"""The inputs of a re-evaluation, read in bulk through the exchange and turned into the rules
engine's columns.

One chunk is one ``population-extract`` call: the persons of a range of register references
and everyone living with them (a household is whole, so its values are right), read as the
owning agency's subsystem for the service's purpose. The exchange authorises the call and
leaves a data-usage record for every person in the answer, in the caller's transaction.

Households are the persons sharing a residence address on the first day of the month; a
person without a residence is a household of their own (and not resident). Household roles:
a child is under 18 on that day, everyone else an adult. What a household receives (child
benefit) is decided for its **parents**: the living adults of the household who are a
registered parent of one of its children (a grown-up child or a grandparent living there is
not) — the persons the proactive services decide it for when a child is born — and paid to one
of them, the payee (:mod:`joinedup.proactive.payees`); ``birth_parent`` marks the parent who
gave birth to the household's youngest child (its first registered parent).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt

from joinedup.exchange import ExchangeClient
from joinedup.rules import GroupColumns, Period, Population, Ruleset

Array = npt.NDArray[Any]
ADULT_AGE = 18
_NO_DEATH = np.datetime64(date.max, "D")


@dataclass(frozen=True)
class ChunkPersons:
    """One chunk's persons as columns (positions 0..n-1): what deciding needs once the rules
    are evaluated (plain arrays, sent from the process that reads ahead)."""

    person_ref: Array  # int64
    personal_code: Array  # str
    in_range: Array  # bool: decided in this chunk (else a co-resident read for the household)
    adult: Array  # bool
    #: Receives for the household: a living adult parent of one of the household's children.
    parent: Array  # bool
    #: The household each person belongs to (a number per household of the chunk).
    household: Array  # int64
    #: Gave birth to the household's youngest child (its first registered parent) and lives
    #: in the household.
    birth_parent: Array  # bool


@dataclass(frozen=True)
class ChunkInputs(ChunkPersons):
    """One chunk's persons as columns and the rules population."""

    population: Population

    def persons(self) -> ChunkPersons:
        """The columns without the rules population."""
        return ChunkPersons(
            person_ref=self.person_ref,
            personal_code=self.personal_code,
            in_range=self.in_range,
            adult=self.adult,
            parent=self.parent,
            household=self.household,
            birth_parent=self.birth_parent,
        )


def read_extract(
    calls: ExchangeClient,
    *,
    service: str,
    purpose: str,
    first_ref: int,
    end_ref: int,
    on: date,
    issue: str | None,
) -> dict[str, Any]:
    """One bulk read through the exchange (recorded by ``calls`` when its block ends)."""
    answer = calls.call(
        service,
        purpose=purpose,
        query={"fromRef": str(first_ref), "toRef": str(end_ref), "asOf": on.isoformat()},
        issue=issue,
    )
    return answer.body


def ages_on(birth: Array, on: date) -> Array:
    """Whole years from each birth date to ``on`` (a 29 February birthday is reached on
    1 March in other years)."""
    year = birth.astype("datetime64[Y]").astype(np.int64) + 1970
    month_start = birth.astype("datetime64[M]")
    month = month_start.astype(np.int64) % 12 + 1
    day = (birth - month_start.astype("datetime64[D]")).astype(np.int64) + 1
    before = (month > on.month) | ((month == on.month) & (day > on.day))
    ages: Array = on.year - year - before
    return ages


@dataclass(frozen=True)
class Households:
    """Who lives with whom, and in which role, as columns (positions ordered by register
    reference): the one definition of a household the re-evaluation and the life-event
    consumers share (:func:`joinedup.proactive.service.households.household_of`)."""

    person_ref: Array  # int64
    personal_code: Array  # str
    birth: Array  # datetime64[D]
    death: Array  # datetime64[D]; date.max for the living
    #: Has a residence (lives in the country) on the day read.
    resident: Array  # bool
    #: Each household's key: its address reference, or ``-1 - ref`` for a person without one.
    household_ids: Array  # int64
    #: The household each person belongs to (an index into ``household_ids``).
    household: Array  # int64
    adult: Array  # bool
    #: Receives for the household: a living adult parent of one of the household's children.
    parent: Array  # bool
    #: Gave birth to the household's youngest child (its first registered parent) and lives
    #: in the household.
    birth_parent: Array  # bool


def households(columns: dict[str, Any], first_day: date) -> Households:
    """The extract's persons grouped into households, with their roles on ``first_day`` (the
    first day of the month decided; see the module docstring)."""
    refs = np.asarray(columns["personRef"], dtype=np.int64)
    n = len(refs)
    codes = np.asarray(columns["personalCode"], dtype=object)
    birth = np.asarray(columns["birthDate"], dtype="datetime64[D]")
    death = np.asarray(
        [d if d is not None else "NaT" for d in columns["dateOfDeath"]], dtype="datetime64[D]"
    )
    death = np.where(np.isnat(death), _NO_DEATH, death)
    homes = columns["householdRef"]
    home = np.asarray([h if h is not None else -1 for h in homes], dtype=np.int64)
    resident = home >= 0
    # a person without a residence is a household of their own, numbered apart from addresses
    key = np.where(resident, home, -1 - refs)
    household_ids, person_household = np.unique(key, return_inverse=True)
    household = person_household.reshape(n)
    adult = ages_on(birth, first_day) >= ADULT_AGE
    parent = np.zeros(n, dtype=np.bool_)
    birth_parent = np.zeros(n, dtype=np.bool_)
    living_adult = adult & (death > np.datetime64(first_day, "D"))
    children = np.flatnonzero(~adult)
    lists = columns["parentRefs"]
    counts = np.fromiter((len(lists[i]) for i in children.tolist()), np.int64, len(children))
    if counts.sum():
        wanted = np.fromiter(
            itertools.chain.from_iterable(lists[i] for i in children.tolist()),
            np.int64,
            int(counts.sum()),
        )
        child_of = np.repeat(children, counts)
        at = np.minimum(np.searchsorted(refs, wanted), n - 1)
        found = (refs[at] == wanted) & living_adult[at] & (household[at] == household[child_of])
        parent[at[found]] = True
        # each household's youngest child (the latest birth date, then the highest reference)
        # and its first registered parent (who gave birth), when they live there
        with_parents = children[counts > 0]
        youngest = np.lexsort((refs[with_parents], birth[with_parents], household[with_parents]))
        ordered = household[with_parents][youngest]
        last = np.ones(len(youngest), dtype=np.bool_)
        last[:-1] = ordered[:-1] != ordered[1:]
        first_pair = np.concatenate(([0], np.cumsum(counts)[:-1]))[counts > 0]
        chosen = youngest[last]
        mother_at, mother_found = at[first_pair[chosen]], found[first_pair[chosen]]
        birth_parent[mother_at[mother_found]] = True
    return Households(
        person_ref=refs,
        personal_code=codes,
        birth=birth,
        death=death,
        resident=resident,
        household_ids=household_ids,
        household=household.astype(np.int64),
        adult=adult,
        parent=parent,
        birth_parent=birth_parent,
    )


def build_inputs(ruleset: Ruleset, body: dict[str, Any], period: Period) -> ChunkInputs:
    """The extract's columns as a rules population for ``period`` (a month)."""
    homes = households(body["columns"], period.start)
    n = len(homes.person_ref)
    population = Population.build(
        ruleset,
        person_ids=np.arange(n, dtype=np.int64),
        groups={
            "household": GroupColumns(
                homes.household_ids,
                homes.household_ids[homes.household],
                np.where(homes.adult, 0, 1).astype(np.int8),
            )
        },
    )
    population.set_input("birth_date", homes.birth, native=True)
    population.set_input("date_of_death", homes.death, native=True)
    population.set_input("resident", homes.resident, period, native=True)
    return ChunkInputs(
        person_ref=homes.person_ref,
        personal_code=homes.personal_code,
        in_range=np.asarray(body["inRange"], dtype=np.bool_),
        adult=homes.adult,
        parent=homes.parent,
        household=homes.household,
        birth_parent=homes.birth_parent,
        population=population,
    )
