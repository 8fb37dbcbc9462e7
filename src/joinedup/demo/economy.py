"""The synthetic economy: businesses, who works where, monthly incomes, payment accounts and
board members. Drawn for the whole population at once, then loaded batch by batch."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt

from joinedup.demo.geography import AddressDraft, draw_addresses
from joinedup.demo.names import BUSINESS_WORDS, FAMILY
from joinedup.demo.population import ADULT_DAYS, ROLE_A, SINGLE_PARENT, Population, Y
from joinedup.registries import NATIONAL_COUNTRY, issue_business_codes, make_ibans

Ints = npt.NDArray[np.int64]
Dates = npt.NDArray[np.datetime64]
Texts = npt.NDArray[np.str_]

#: (legal form, share, code type digit, name suffix)
LEGAL_FORMS = (
    ("private_limited", 0.80, 1, "Ltd"),
    ("sole_proprietor", 0.08, 1, "(sole trader)"),
    ("partnership", 0.03, 1, "& Partners"),
    ("public_limited", 0.02, 1, "plc"),
    ("cooperative", 0.01, 1, "Cooperative"),
    ("non_profit", 0.04, 8, "Society"),
    ("foundation", 0.02, 9, "Foundation"),
)
#: Bank codes of the national account numbers and their market shares (the first is the
#: partner bank of the demo).
BANKS = (("1010", 0.45), ("2020", 0.25), ("3030", 0.20), ("4040", 0.10))
MONTHS_OF_INCOME = 12
NaT = np.datetime64("NaT", "D")


@dataclass(frozen=True, kw_only=True)
class BusinessDraft:
    registration_code: Texts
    name: Texts
    legal_form: Texts
    registered_on: Dates
    addresses: AddressDraft

    def __len__(self) -> int:
        return int(self.name.shape[0])


@dataclass(frozen=True, kw_only=True)
class Employers:
    """Businesses people can work for: database ids, registration dates, size weights."""

    ids: Ints
    registered_on: Dates
    weight: npt.NDArray[np.float64]
    sole_proprietor: npt.NDArray[np.bool_]
    #: Businesses created by this run (they get board members from its population).
    new: npt.NDArray[np.bool_]


@dataclass(frozen=True, kw_only=True)
class Economy:
    """Rows keyed by population index (``*_person``), each table sorted by person."""

    emp_person: Ints
    emp_employer: Ints  # index into Employers
    emp_from: Dates
    emp_to: Dates
    inc_person: Ints
    inc_employer: Ints
    inc_period: Texts
    inc_amount: Ints  # cents
    acc_person: Ints
    acc_iban: Texts
    acc_from: Dates
    rep_person: Ints
    rep_employer: Ints
    rep_role: Texts
    rep_from: Dates


def draw_businesses(rng: np.random.Generator, count: int, reference: date) -> BusinessDraft:
    """``count`` businesses of every legal form, registered over the last 30 years."""
    ref = np.datetime64(reference, "D")
    shares = np.array([f[1] for f in LEGAL_FORMS])
    form_index = rng.choice(len(LEGAL_FORMS), size=count, p=shares / shares.sum())
    codes = np.empty(count, dtype="U8")
    for kind in sorted({f[2] for f in LEGAL_FORMS}):
        rows = np.flatnonzero(np.array([LEGAL_FORMS[i][2] for i in form_index]) == kind)
        # Serials from 100000 up: the low ones belong to the demo's partner organisations.
        serials = rng.choice(
            np.arange(100_000, 1_000_000), size=int(rows.shape[0] * 1.15) + 20, replace=False
        )
        codes[rows] = issue_business_codes(kind, serials)[: rows.shape[0]]
    words = np.asarray(BUSINESS_WORDS)[rng.integers(0, len(BUSINESS_WORDS), count)]
    owners = np.asarray(FAMILY)[rng.integers(0, len(FAMILY), count)]
    suffix = np.array([f[3] for f in LEGAL_FORMS])[form_index]
    name = np.char.add(np.char.add(np.char.add(owners, " "), np.char.add(words, " ")), suffix)
    registered = ref - (365 + rng.random(count) * 29 * Y).astype("timedelta64[D]")
    return BusinessDraft(
        registration_code=codes,
        name=name,
        legal_form=np.array([f[0] for f in LEGAL_FORMS])[form_index],
        registered_on=registered,
        addresses=draw_addresses(rng, count, flats=False),
    )


def employer_weights(rng: np.random.Generator, count: int) -> npt.NDArray[np.float64]:
    """Heavy-tailed employer sizes: a few large employers, many small ones."""
    weight = np.asarray(rng.pareto(1.1, count), dtype=np.float64) + 1.0
    shares: npt.NDArray[np.float64] = weight / weight.sum()
    return shares


def _employment(
    rng: np.random.Generator, population: Population, employers: Employers, ref: np.datetime64
) -> tuple[Ints, Ints, Dates, Dates, npt.NDArray[np.float64]]:
    n = population.persons
    age = (ref - population.birth_date).astype(np.int64)
    alive = np.isnat(population.date_of_death)
    working = alive & (age >= 18.1 * Y) & (age < 67 * Y)
    chance = np.where(age < 25 * Y, 0.5, np.where(age < 61 * Y, 0.8, 0.55))
    single_parent = (population.role == ROLE_A) & (
        population.group_type[population.group] == SINGLE_PARENT
    )
    chance = np.where(single_parent, chance * 0.8, chance)
    employed = working & (rng.random(n) < chance)
    person = np.flatnonzero(employed)
    wage = np.clip(rng.lognormal(np.log(1650.0), 0.55, n), 400, 25_000) * 100
    wage *= np.where(rng.random(n) < 0.12, 0.5, 1.0)  # part-time
    wage *= np.where(age < 25 * Y, 0.75, 1.0) * np.where(single_parent, 0.8, 1.0)
    employers_count = employers.ids.shape[0]
    employer = rng.choice(employers_count, size=person.shape[0], p=employers.weight)
    # A second, smaller job for some, never with the same employer.
    second = (
        np.flatnonzero(rng.random(person.shape[0]) < 0.06)
        if employers_count > 1
        else np.zeros(0, np.int64)
    )
    second_employer = (
        employer[second] + 1 + rng.integers(0, employers_count - 1, second.shape[0])
    ) % employers_count
    is_second = np.concatenate(
        [np.zeros(person.shape[0], np.bool_), np.ones(second.shape[0], np.bool_)]
    )
    share = np.where(is_second, 0.3, 1.0)
    person = np.concatenate([person, person[second]])
    employer = np.concatenate([employer, second_employer])
    low = np.maximum(
        np.maximum(
            employers.registered_on[employer],
            population.birth_date[person] + np.timedelta64(ADULT_DAYS, "D"),
        ),
        ref - np.where(is_second, 3 * Y, 15 * Y).astype(np.int64).astype("timedelta64[D]"),
    )
    high = ref - np.timedelta64(20, "D")
    days = np.maximum((high - low).astype(np.int64), 0)
    start = low + (rng.random(person.shape[0]) * days).astype(np.int64).astype("timedelta64[D]")
    ended = ~is_second & (rng.random(person.shape[0]) < 0.05)  # recently lost their job
    end = ref - rng.integers(20, 240, person.shape[0]).astype("timedelta64[D]")
    ended &= end > start
    order = np.argsort(person, kind="stable")
    return (
        person[order],
        employer[order],
        start[order],
        np.where(ended, end, NaT)[order],
        (wage[person] * share)[order],
    )


def _incomes(
    rng: np.random.Generator,
    person: Ints,
    employer: Ints,
    start: Dates,
    end: Dates,
    wage: npt.NDArray[np.float64],
    ref: np.datetime64,
) -> tuple[Ints, Ints, Texts, Ints]:
    """Monthly incomes for the twelve complete months before the reference month."""
    this_month = ref.astype("datetime64[M]")
    months = this_month - np.arange(MONTHS_OF_INCOME, 0, -1)
    m_start = months.astype("datetime64[D]")[None, :]
    m_end = (months + 1).astype("datetime64[D]")[None, :]
    e_start = start[:, None]
    e_end = np.where(np.isnat(end), np.datetime64("9999-12-31"), end)[:, None]
    worked = (np.minimum(e_end, m_end) - np.maximum(e_start, m_start)).astype(np.int64)
    fraction = np.clip(worked / (m_end - m_start).astype(np.int64), 0.0, 1.0)
    noise = 1.0 + rng.normal(0.0, 0.04, fraction.shape)
    bonus = np.where(
        (months.astype(np.int64) % 12 == 11)[None, :] & (rng.random(fraction.shape) < 0.1), 1.5, 1.0
    )
    amount = np.rint(wage[:, None] * fraction * noise * bonus).astype(np.int64)
    row, column = np.nonzero(fraction > 0)
    periods = np.datetime_as_string(months, unit="M")
    return person[row], employer[row], periods[column], np.maximum(amount[row, column], 0)


def _accounts(
    rng: np.random.Generator, population: Population, ref: np.datetime64
) -> tuple[Ints, Texts, Dates]:
    n = population.persons
    adult = np.isnat(population.date_of_death) & (
        (ref - population.birth_date).astype(np.int64) >= 18.1 * Y
    )
    person = np.flatnonzero(adult & (rng.random(n) < 0.95))
    banks = np.array([b for b, _ in BANKS])
    shares = np.array([s for _, s in BANKS])
    bank = banks[rng.choice(len(BANKS), size=person.shape[0], p=shares)]
    account = np.char.zfill(rng.integers(0, 10**12, person.shape[0]).astype(np.str_), 12)
    ibans = make_ibans(NATIONAL_COUNTRY, np.char.add(bank, account))
    since = np.maximum(
        ref - (rng.random(person.shape[0]) * 10 * Y).astype("timedelta64[D]"),
        population.birth_date[person] + np.timedelta64(ADULT_DAYS, "D"),
    )
    return person, ibans, np.minimum(since, ref)


def _representatives(
    rng: np.random.Generator, population: Population, employers: Employers, ref: np.datetime64
) -> tuple[Ints, Ints, Texts, Dates]:
    age = (ref - population.birth_date).astype(np.int64)
    eligible = np.flatnonzero(np.isnat(population.date_of_death) & (age >= 21 * Y) & (age < 80 * Y))
    business = np.flatnonzero(employers.new)
    if eligible.size == 0 or business.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0, dtype=np.str_), np.zeros(0, dtype="datetime64[D]")
    two = ~employers.sole_proprietor[business] & (rng.random(business.shape[0]) < 0.35)
    employer = np.concatenate([business, business[two]])
    pick: Ints = np.asarray(rng.integers(0, eligible.shape[0], employer.shape[0]), dtype=np.int64)
    # A business's chair is never its first representative again: take the next eligible person.
    first, second = pick[: business.shape[0]][two], pick[business.shape[0] :]
    pick[business.shape[0] :] = np.where(second == first, (second + 1) % eligible.shape[0], second)
    if eligible.shape[0] == 1:  # nobody else to chair: only the first representatives remain
        employer, pick = business, pick[: business.shape[0]]
    person = eligible[pick]
    role = np.where(employers.sole_proprietor[employer], "owner", "board_member")
    role[business.shape[0] :] = "chair"
    since = np.maximum(
        employers.registered_on[employer],
        population.birth_date[person] + np.timedelta64(ADULT_DAYS + 365, "D"),
    )
    order = np.argsort(person, kind="stable")
    return person[order], employer[order], role[order], np.minimum(since, ref)[order]


def draw_economy(
    rng: np.random.Generator, population: Population, employers: Employers, reference: date
) -> Economy:
    ref = np.datetime64(reference, "D")
    emp_person, emp_employer, emp_from, emp_to, wage = _employment(rng, population, employers, ref)
    inc_person, inc_employer, inc_period, inc_amount = _incomes(
        rng, emp_person, emp_employer, emp_from, emp_to, wage, ref
    )
    order = np.argsort(inc_person, kind="stable")
    acc_person, acc_iban, acc_from = _accounts(rng, population, ref)
    rep_person, rep_employer, rep_role, rep_from = _representatives(rng, population, employers, ref)
    return Economy(
        emp_person=emp_person,
        emp_employer=emp_employer,
        emp_from=emp_from,
        emp_to=emp_to,
        inc_person=inc_person[order],
        inc_employer=inc_employer[order],
        inc_period=inc_period[order],
        inc_amount=inc_amount[order],
        acc_person=acc_person,
        acc_iban=acc_iban,
        acc_from=acc_from,
        rep_person=rep_person,
        rep_employer=rep_employer,
        rep_role=rep_role,
        rep_from=rep_from,
    )
