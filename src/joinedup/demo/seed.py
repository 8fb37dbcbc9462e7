"""Seeding the synthetic country through the registries' batch use cases.

The whole country is drawn first (numpy, one seeded generator), then loaded in batches of
whole households, one transaction per batch: addresses, persons with names, residences and
relations, board members, employments with monthly incomes, payment accounts. Every batch
goes through the same validation as the registries' API, so a seed is also a large test of
the rules. A run is recorded in ``demo_seed_run``; it counts as seeded once its last batch
committed.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from joinedup import notify
from joinedup.core.clock import today, utcnow
from joinedup.core.db import Database
from joinedup.demo.accounts import create_demo_accounts
from joinedup.demo.agencies import ACTOR, create_government
from joinedup.demo.catalogue import seed_catalogue
from joinedup.demo.economy import (
    Economy,
    Employers,
    draw_businesses,
    draw_economy,
    employer_weights,
)
from joinedup.demo.exchange_setup import setup_exchange
from joinedup.demo.geography import AddressDraft
from joinedup.demo.models import SeedRun
from joinedup.demo.population import Population, generate_population
from joinedup.demo.tell_us_once import setup_tell_us_once
from joinedup.exchange import count_members
from joinedup.registries import (
    SERIALS_PER_DAY,
    AddressColumns,
    BusinessColumns,
    EmploymentColumns,
    IncomeColumns,
    PersonColumns,
    RelationColumns,
    RepresentativeColumns,
    count_businesses,
    employer_directory,
    import_addresses,
    import_businesses,
    import_employment,
    import_payment_accounts,
    import_population,
    import_representatives,
)

BATCH_PERSONS = 20_000
#: One business per this many persons.
PERSONS_PER_BUSINESS = 25


@dataclass(frozen=True)
class SeedSummary:
    persons: int
    households: int
    deceased: int
    relations: int
    businesses: int
    members: int
    employments: int
    incomes: int
    accounts: int

    def describe(self) -> str:
        return (
            f"{self.households:,} households, {self.deceased:,} deceased, "
            f"{self.relations:,} family relations, {self.businesses:,} businesses, "
            f"{self.members:,} exchange members, {self.employments:,} employments with "
            f"{self.incomes:,} monthly incomes, {self.accounts:,} payment accounts"
        )


def is_seeded(database: Database) -> bool:
    """Whether a seed run has completed in this database."""
    with database.reading() as session:
        return (
            session.scalar(select(SeedRun.id).where(SeedRun.completed_at.is_not(None)).limit(1))
            is not None
        )


def _addresses(draft: AddressDraft, rows: npt.NDArray[np.int64]) -> AddressColumns:
    return AddressColumns(
        municipality_code=draft.municipality_codes()[rows],
        street=draft.street[rows],
        house_number=draft.house_number[rows],
        apartment=draft.apartment[rows],
        postcode=draft.postcode[rows],
    )


def _serial_ranks_used(session: Session) -> int:
    """The first personal-code serial rank a new run may use (earlier runs took the others)."""
    runs = session.scalars(select(SeedRun))
    return max((r.first_serial_rank + r.serial_ranks for r in runs), default=0)


def _prepare(
    session: Session, rng: np.random.Generator, persons: int, reference: date, seed: int
) -> Employers:
    """Create the government, its data exchange and the businesses on the first run; later
    runs find them."""
    first_run = session.scalar(select(SeedRun.id).limit(1)) is None
    if count_members(session) == 0:
        create_government(session, founded=date(1992, 1, 1))
    setup_exchange(session, seed=seed)
    seed_catalogue(session)
    setup_tell_us_once(session)
    known_ids, known_registered = employer_directory(session)
    none = np.zeros(known_ids.shape[0], dtype=np.bool_)
    if not first_run:
        return Employers(
            ids=known_ids,
            registered_on=known_registered,
            weight=employer_weights(rng, known_ids.shape[0]),
            sole_proprietor=none,
            new=none,
        )
    draft = draw_businesses(rng, max(20, persons // PERSONS_PER_BUSINESS), reference)
    address_ids = import_addresses(
        session, addresses=_addresses(draft.addresses, np.arange(len(draft))), actor=ACTOR
    )
    ids = import_businesses(
        session,
        businesses=BusinessColumns(
            registration_code=draft.registration_code,
            name=draft.name,
            legal_form=draft.legal_form,
            address_id=address_ids,
            registered_on=draft.registered_on,
        ),
        actor=ACTOR,
    )
    all_ids = np.concatenate([known_ids, ids])
    return Employers(
        ids=all_ids,
        registered_on=np.concatenate([known_registered, draft.registered_on]),
        weight=employer_weights(rng, all_ids.shape[0]),
        sole_proprietor=np.concatenate([none, draft.legal_form == "sole_proprietor"]),
        new=np.concatenate([none, np.ones(ids.shape[0], dtype=np.bool_)]),
    )


def _batches(population: Population, size: int) -> list[tuple[int, int]]:
    """Group ranges of about ``size`` persons (groups are never split)."""
    starts = population.group_start
    cuts = np.searchsorted(starts, np.arange(size, population.persons, size))
    edges = np.unique(np.concatenate([[0], cuts, [population.groups]]))
    return [(int(a), int(b)) for a, b in itertools.pairwise(edges)]


def _span(keys: npt.NDArray[np.int64], low: int, high: int) -> slice:
    return slice(int(np.searchsorted(keys, low)), int(np.searchsorted(keys, high)))


def _load_batch(
    session: Session,
    population: Population,
    economy: Economy,
    employers: Employers,
    g0: int,
    g1: int,
) -> int:
    p0, p1 = int(population.group_start[g0]), int(population.group_start[g1])
    people = slice(p0, p1)
    dwellings, local = np.unique(population.dwelling[people], return_inverse=True)
    address_ids = import_addresses(
        session, addresses=_addresses(population.addresses, dwellings), actor=ACTOR
    )
    n = p1 - p0
    relation_key = np.minimum(population.rel_person, population.rel_related)
    rel = _span(relation_key, p0, p1)
    person_ids = import_population(
        session,
        persons=PersonColumns(
            personal_code=population.personal_code[people],
            given_names=population.given_names[people],
            family_name=population.family_name[people],
            birth_family_name=population.birth_family_name[people],
            name_changed_on=population.name_changed_on[people],
            birth_date=population.birth_date[people],
            birth_place=population.birth_place[people],
            sex=population.sex[people],
            citizenship=population.citizenship[people],
            date_of_death=population.date_of_death[people],
            address_id=address_ids[local.reshape(n)],
            resident_since=population.resident_since[people],
        ),
        relations=RelationColumns(
            kind=population.rel_kind[rel],
            person=population.rel_person[rel] - p0,
            related=population.rel_related[rel] - p0,
            valid_from=population.rel_from[rel],
            valid_to=population.rel_to[rel],
            end_reason=population.rel_reason[rel],
        ),
        actor=ACTOR,
    )
    reps = _span(economy.rep_person, p0, p1)
    if reps.stop > reps.start:
        import_representatives(
            session,
            representatives=RepresentativeColumns(
                business_id=employers.ids[economy.rep_employer[reps]],
                person_id=person_ids[economy.rep_person[reps] - p0],
                role=economy.rep_role[reps],
                valid_from=economy.rep_from[reps],
            ),
            actor=ACTOR,
        )
    emp, inc = _span(economy.emp_person, p0, p1), _span(economy.inc_person, p0, p1)
    import_employment(
        session,
        employments=EmploymentColumns(
            person_id=person_ids[economy.emp_person[emp] - p0],
            business_id=employers.ids[economy.emp_employer[emp]],
            valid_from=economy.emp_from[emp],
            valid_to=economy.emp_to[emp],
        ),
        incomes=IncomeColumns(
            person_id=person_ids[economy.inc_person[inc] - p0],
            business_id=employers.ids[economy.inc_employer[inc]],
            period=economy.inc_period[inc],
            amount=economy.inc_amount[inc],
        ),
        actor=ACTOR,
    )
    acc = _span(economy.acc_person, p0, p1)
    import_payment_accounts(
        session,
        person_ids=person_ids[economy.acc_person[acc] - p0],
        ibans=economy.acc_iban[acc],
        valid_from=economy.acc_from[acc],
        actor=ACTOR,
    )
    return n


#: The demo's persons exempt from digital post: about one in eight of those aged 80 or more
#: (chosen by personal code, so the main random stream is not disturbed).
EXEMPT_AGE = 80
EXEMPT_REASON = "Aged 80 or over; asked for letters on paper"


def _exempt_from_digital_post(
    session: Session, population: Population, g0: int, g1: int, reference: date
) -> None:
    p0, p1 = int(population.group_start[g0]), int(population.group_start[g1])
    born = population.birth_date[p0:p1]
    alive = np.isnat(population.date_of_death[p0:p1])
    limit = np.datetime64(date(reference.year - EXEMPT_AGE, reference.month, 1), "D")
    codes = population.personal_code[p0:p1][alive & (born <= limit)]
    chosen = [str(code) for code in codes if int(code) % 8 == 3]
    if chosen:
        notify.exempt_from_digital_post(
            session, person_codes=chosen, reason=EXEMPT_REASON, actor=ACTOR
        )


@contextmanager
def _progress(enabled: bool, total: int) -> Iterator[Progress | None]:
    if not enabled:
        yield None
        return
    columns = (
        TextColumn("Seeding the synthetic country"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("persons"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=False) as bar:
        yield bar


def seed_country(
    database: Database,
    *,
    persons: int,
    seed: int,
    progress: bool,
    reference: date | None = None,
    batch_persons: int = BATCH_PERSONS,
    accounts: bool = True,
) -> SeedSummary:
    """Load a synthetic country of ``persons`` people, deterministic for ``seed`` and the
    ``reference`` day (default today). On a database that has one already, the people are
    added to it (new personal-code serials, the same government and businesses). With
    ``accounts`` (the default), the first run also creates the demo's sign-in accounts, staff
    roles and powers of attorney (:mod:`joinedup.demo.accounts`)."""
    reference = reference or today()
    rng = np.random.default_rng(seed)
    with database.reading() as session:
        first_rank = _serial_ranks_used(session)
    population = generate_population(
        rng, persons=persons, reference=reference, first_serial_rank=first_rank
    )
    if first_rank + population.serial_ranks > SERIALS_PER_DAY:
        raise RuntimeError(
            "personal-code serials of some birth dates are used up: seed a new database"
        )
    with database.unit_of_work() as session:
        employers = _prepare(session, rng, persons, reference, seed)
        run = SeedRun(
            seed=seed,
            persons_requested=persons,
            persons_loaded=0,
            first_serial_rank=first_rank,
            serial_ranks=population.serial_ranks,
            started_at=utcnow(),
            completed_at=None,
            started_by=ACTOR,
        )
        session.add(run)
        session.flush()
        run_id = run.id
    economy = draw_economy(rng, population, employers, reference)
    batches = _batches(population, batch_persons)
    with _progress(progress, persons) as bar:
        task = bar.add_task("seed", total=persons) if bar else None
        for number, (g0, g1) in enumerate(batches):
            with database.unit_of_work() as session:
                loaded = _load_batch(session, population, economy, employers, g0, g1)
                _exempt_from_digital_post(session, population, g0, g1, reference)
                row = session.get(SeedRun, run_id)
                assert row is not None
                row.persons_loaded += loaded
                if number == len(batches) - 1:
                    row.completed_at = utcnow()
            if bar is not None and task is not None:
                bar.advance(task, loaded)
    if accounts:
        with database.unit_of_work() as session:
            create_demo_accounts(
                session, population=population, economy=economy, reference=reference, seed=seed
            )
    database.analyze_after_bulk_load()
    with database.reading() as session:
        members = count_members(session)
        businesses = count_businesses(session)
    alive = np.isnat(population.date_of_death)
    return SeedSummary(
        persons=persons,
        households=int(np.unique(population.dwelling[alive]).shape[0]),
        deceased=int((~alive).sum()),
        relations=int(population.rel_kind.shape[0]),
        businesses=businesses,
        members=members,
        employments=int(economy.emp_person.shape[0]),
        incomes=int(economy.inc_person.shape[0]),
        accounts=int(economy.acc_person.shape[0]),
    )


def count_seeded_persons(session: Session) -> int:
    """Persons loaded by completed seed runs."""
    return int(session.scalar(select(func.coalesce(func.sum(SeedRun.persons_loaded), 0))) or 0)
