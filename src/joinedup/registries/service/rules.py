"""The population register's rules, on columns: persons, parentage, marriages.

Both the one-record use cases and the batch import (``import_population``) call these
functions; they only look at arrays, so where the values come from (the input, the database)
does not matter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt

from joinedup.registries.codes import inspect_personal_codes
from joinedup.registries.service.checks import (
    Problems,
    check_not_future,
    check_one_of,
    check_order,
    check_required_dates,
    check_text,
    years_between,
)

#: Minimum age to marry or register a partnership, and to represent a business.
ADULT_AGE = 18
#: Minimum age to be employed.
WORKING_AGE = 14

Dates = npt.NDArray[np.datetime64]
Texts = npt.NDArray[np.str_]


@dataclass(frozen=True, kw_only=True)
class PersonColumns:
    """Persons to register, one entry per person (all arrays of one length).

    ``family_name`` is the current family name; when ``birth_family_name`` is not "" the person
    was born with that one and took the current one on ``name_changed_on`` (e.g. on marrying).
    ``address_id`` 0 means no registered residence; otherwise the person has lived there since
    ``resident_since`` (until ``date_of_death`` for the dead).
    """

    personal_code: Texts
    given_names: Texts
    family_name: Texts
    birth_family_name: Texts
    name_changed_on: Dates
    birth_date: Dates
    birth_place: Texts
    sex: Texts
    citizenship: Texts
    date_of_death: Dates
    address_id: npt.NDArray[np.int64]
    resident_since: Dates

    def __len__(self) -> int:
        return int(self.personal_code.shape[0])


def check_persons(problems: Problems, persons: PersonColumns, today: date) -> None:
    """Every rule about the persons themselves (references are checked by the caller)."""
    report = inspect_personal_codes(persons.personal_code)
    problems.check(report.malformed, "personal_code", "must be 11 digits")
    problems.check(
        report.bad_check_digit,
        "personal_code",
        "has a wrong check digit (or a serial that is never issued): check for a mistyped digit",
    )
    problems.check(report.bad_date, "personal_code", "does not encode a valid birth date")
    missing_birth = check_required_dates(problems, "birth_date", persons.birth_date)
    usable = ~report.invalid & ~missing_birth
    problems.check(
        usable & (report.birth_date != persons.birth_date),
        "birth_date",
        "does not match the birth date in the personal code",
    )
    check_one_of(problems, "sex", persons.sex, ("F", "M"))
    problems.check(
        ~report.invalid & np.isin(persons.sex, ("F", "M")) & (report.sex != persons.sex),
        "sex",
        "does not match the sex in the personal code",
    )
    check_not_future(problems, "birth_date", persons.birth_date, today)
    check_not_future(problems, "date_of_death", persons.date_of_death, today)
    check_order(
        problems,
        "date_of_death",
        persons.birth_date,
        persons.date_of_death,
        "is before the birth date",
    )
    check_text(problems, "given_names", persons.given_names, max_length=200)
    check_text(problems, "family_name", persons.family_name, max_length=200)
    check_text(problems, "birth_place", persons.birth_place, max_length=200)
    _check_name_change(problems, persons, today)
    citizenship = np.asarray(persons.citizenship, dtype=np.str_)
    problems.check(
        (np.char.str_len(citizenship) != 2)
        | ~np.char.isupper(citizenship)
        | ~np.char.isalpha(citizenship),
        "citizenship",
        "must be an ISO 3166 two-letter country code in capitals",
    )
    _check_residence_dates(problems, persons, today)


def _check_name_change(problems: Problems, persons: PersonColumns, today: date) -> None:
    changed = np.char.str_len(np.asarray(persons.birth_family_name, dtype=np.str_)) > 0
    check_text(
        problems, "birth_family_name", persons.birth_family_name, max_length=200, required=False
    )
    problems.check(
        changed & np.isnat(persons.name_changed_on),
        "name_changed_on",
        "is required when a birth family name is given",
    )
    problems.check(
        ~changed & ~np.isnat(persons.name_changed_on),
        "name_changed_on",
        "is only given with a birth family name",
    )
    check_order(
        problems,
        "name_changed_on",
        persons.birth_date,
        persons.name_changed_on,
        "must be after the birth date",
        strict=True,
    )
    check_not_future(problems, "name_changed_on", persons.name_changed_on, today)


def _check_residence_dates(problems: Problems, persons: PersonColumns, today: date) -> None:
    has_address = persons.address_id != 0
    problems.check(
        has_address & np.isnat(persons.resident_since),
        "resident_since",
        "is required with an address",
    )
    problems.check(
        ~has_address & ~np.isnat(persons.resident_since),
        "resident_since",
        "is only given with an address",
    )
    problems.check(persons.address_id < 0, "address_id", "must be a registered address or 0")
    check_order(
        problems,
        "resident_since",
        persons.birth_date,
        persons.resident_since,
        "is before the birth",
    )
    check_not_future(problems, "resident_since", persons.resident_since, today)
    check_order(
        problems,
        "resident_since",
        persons.resident_since,
        persons.date_of_death,
        "must be before the date of death",
        strict=True,
    )


def check_parentage(
    problems: Problems,
    *,
    parent_birth: Dates,
    child_birth: Dates,
    valid_from: Dates,
    field: str = "parent",
) -> None:
    """A parent is born before the child; parentage starts on or after the child's birth."""
    check_order(
        problems, field, parent_birth, child_birth, "must be older than the child", strict=True
    )
    check_order(problems, "valid_from", child_birth, valid_from, "is before the child's birth")


def check_unions(
    problems: Problems,
    *,
    birth_a: Dates,
    birth_b: Dates,
    death_a: Dates,
    death_b: Dates,
    valid_from: Dates,
    valid_to: Dates,
    end_reason: Texts,
    today: date,
) -> None:
    """Marriages and registered partnerships: both adults, both alive, ends are explained."""
    check_required_dates(problems, "valid_from", valid_from)
    check_not_future(problems, "valid_from", valid_from, today)
    check_not_future(problems, "valid_to", valid_to, today)
    check_order(problems, "valid_to", valid_from, valid_to, "must be after valid_from", strict=True)
    known = ~np.isnat(valid_from)
    age_a = np.where(known, years_between(birth_a, np.where(known, valid_from, birth_a)), 0)
    age_b = np.where(known, years_between(birth_b, np.where(known, valid_from, birth_b)), 0)
    problems.check(
        known & ((age_a < ADULT_AGE) | (age_b < ADULT_AGE)),
        "valid_from",
        f"both persons must be at least {ADULT_AGE} years old to marry",
    )
    first_death = np.minimum(
        np.where(np.isnat(death_a), np.datetime64("9999-12-31"), death_a),
        np.where(np.isnat(death_b), np.datetime64("9999-12-31"), death_b),
    )
    somebody_died = ~np.isnat(death_a) | ~np.isnat(death_b)
    problems.check(
        known & somebody_died & (valid_from >= first_death),
        "valid_from",
        "is on or after the death of one of the persons",
    )
    problems.check(
        somebody_died & (np.isnat(valid_to) | (valid_to > first_death)),
        "valid_to",
        "a union ends at the latest on the death of one of the persons",
    )
    ended = ~np.isnat(valid_to)
    reasons = np.asarray(end_reason, dtype=np.str_)
    problems.check(
        ended & ~np.isin(reasons, ("divorce", "annulment", "death")),
        "end_reason",
        "an ended union needs end_reason divorce, annulment or death",
    )
    problems.check(
        ~ended & (np.char.str_len(reasons) > 0), "end_reason", "is only given with valid_to"
    )


def check_no_overlap(
    problems: Problems,
    field: str,
    keys: npt.NDArray[np.int64],
    starts: Dates,
    ends: Dates,
    message: str,
) -> None:
    """Periods ``[start, end)`` of the same key must not overlap (NaT end = open)."""
    if keys.shape[0] < 2:
        return
    order = np.lexsort((starts, keys))
    k, s, e = keys[order], starts[order], ends[order]
    same = k[1:] == k[:-1]
    previous_open = np.isnat(e[:-1])
    overlap = same & (previous_open | (e[:-1] > s[1:]))
    rows = np.zeros(keys.shape[0], dtype=np.bool_)
    rows[order[1:][overlap]] = True
    rows[order[:-1][overlap]] = True  # both sides: one of them may not be an input row
    problems.check(rows, field, message)
