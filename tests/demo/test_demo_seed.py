"""The synthetic country: deterministic, coherent, loaded through the registries' use cases."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from joinedup.core.db import Database
from joinedup.core.pagination import PageRequest
from joinedup.demo import COUNTRY_NAME, is_seeded, organisation, organisations, seed_country
from joinedup.demo.population import generate_population
from joinedup.exchange import MemberClass, MemberLevel, list_members
from joinedup.migrations import upgrade
from joinedup.registries import iban_problem, list_registries
from joinedup.registries.codes import inspect_personal_codes

REFERENCE = date(2026, 6, 15)
PERSONS = 2000


@pytest.fixture
def seeded(database: Database) -> Database:
    assert not is_seeded(database)
    summary = seed_country(
        database, persons=PERSONS, seed=7, progress=False, reference=REFERENCE, batch_persons=700
    )
    assert summary.persons == PERSONS
    assert is_seeded(database)
    return database


def _scalar(session: Session, sql: str) -> int:
    return int(session.execute(text(sql)).scalar_one())


def _digest(database: Database, limit: int = 300) -> str:
    with database.reading() as session:
        rows = session.execute(
            text(
                "SELECT p.personal_code, n.given_names, n.family_name, p.birth_date, p.sex,"
                " p.birth_place, a.street, a.house_number, a.postcode"
                " FROM person p JOIN person_name n ON n.person_id = p.id AND n.valid_to IS NULL"
                " LEFT JOIN residence r ON r.person_id = p.id AND r.superseded_at IS NULL"
                " AND r.valid_to IS NULL LEFT JOIN address a ON a.id = r.address_id"
                f" ORDER BY p.id LIMIT {limit}"
            )
        ).all()
    return hashlib.sha256(repr([tuple(str(v) for v in row) for row in rows]).encode()).hexdigest()


def test_the_country_is_seeded_with_its_government(seeded: Database) -> None:
    with seeded.reading() as session:
        assert _scalar(session, "SELECT count(*) FROM person") == PERSONS
        members = list_members(session, page=PageRequest(limit=500)).items
        levels = {m.level for m in members}
        classes = {m.member_class for m in members}
        assert levels == {MemberLevel.NATIONAL, MemberLevel.REGIONAL, MemberLevel.LOCAL}
        assert classes == {MemberClass.GOV, MemberClass.COM, MemberClass.NGO}
        assert len(members) == len(organisations())
        by_code = {m.member_code: m for m in members}
        social = by_code[organisation("social-insurance").member_code]
        assert social.parent_member_code == organisation("ministry-social").member_code
        bank = organisation("bank")
        assert bank.name.startswith(COUNTRY_NAME)
        # Partners are businesses too: their registration code is their member code.
        assert (
            _scalar(
                session,
                f"SELECT count(*) FROM business WHERE registration_code = '{bank.member_code}'",
            )
            == 1
        )
        owners = {r.code: r.owner_member_code for r in list_registries(session)}
        assert owners["population"] == organisation("population-register").member_code
        assert owners["employment"] == organisation("tax-board").member_code
        assert (
            _scalar(
                session, "SELECT count(*) FROM outbox_event WHERE name = 'population.imported.v1'"
            )
            == 3
        )
        assert (
            _scalar(
                session,
                "SELECT count(*) FROM outbox_event WHERE name = 'population.birth_registered.v1'",
            )
            == 0
        )


def test_the_population_is_coherent(seeded: Database) -> None:
    with seeded.reading() as session:

        def zero(sql: str) -> None:
            assert _scalar(session, sql) == 0, sql

        codes = session.execute(text("SELECT personal_code, birth_date, sex FROM person")).all()
        report = inspect_personal_codes(np.array([c for c, _, _ in codes]))
        assert not report.invalid.any()
        assert (
            report.birth_date == np.array([str(b) for _, b, _ in codes], dtype="datetime64[D]")
        ).all()
        assert (report.sex == np.array([s for _, _, s in codes])).all()
        # Children are younger than their parents, by at least 18 years here.
        zero(
            "SELECT count(*) FROM relation r JOIN person p ON p.id = r.person_id"
            " JOIN person c ON c.id = r.related_person_id"
            " WHERE r.kind = 'parent'"
            " AND (p.birth_date >= c.birth_date OR r.valid_from <> c.birth_date)"
        )
        parents = session.execute(
            text(
                "SELECT p.birth_date, c.birth_date FROM relation r"
                " JOIN person p ON p.id = r.person_id"
                " JOIN person c ON c.id = r.related_person_id WHERE r.kind = 'parent'"
            )
        ).all()
        gaps = [
            (date.fromisoformat(str(c)) - date.fromisoformat(str(p))).days / 365.25
            for p, c in parents
        ]
        assert min(gaps) >= 18
        # The dead died after they were born; their home and marriage ended by then.
        zero(
            "SELECT count(*) FROM person"
            " WHERE date_of_death IS NOT NULL AND date_of_death < birth_date"
        )
        zero(
            "SELECT count(*) FROM residence r JOIN person p ON p.id = r.person_id"
            " WHERE p.date_of_death IS NOT NULL"
            " AND (r.valid_to IS NULL OR r.valid_to > p.date_of_death)"
        )
        zero(
            "SELECT count(*) FROM relation r"
            " JOIN person p ON p.id IN (r.person_id, r.related_person_id)"
            " WHERE r.kind <> 'parent' AND p.date_of_death IS NOT NULL"
            " AND (r.valid_to IS NULL OR r.valid_to > p.date_of_death)"
        )
        assert _scalar(session, "SELECT count(*) FROM person WHERE date_of_death IS NOT NULL") > 0
        # Everybody alive lives somewhere (every household has an address), once.
        zero(
            "SELECT count(*) FROM person p WHERE p.date_of_death IS NULL"
            " AND (SELECT count(*) FROM residence r WHERE r.person_id = p.id"
            " AND r.valid_to IS NULL AND r.superseded_at IS NULL) <> 1"
        )
        # Incomes only for the employed, in months their employment covers.
        zero(
            "SELECT count(*) FROM monthly_income i WHERE NOT EXISTS (SELECT 1 FROM employment e"
            " WHERE e.person_id = i.person_id AND e.business_id = i.business_id"
            " AND e.valid_from < date(i.period || '-01', '+1 month')"
            " AND (e.valid_to IS NULL OR e.valid_to > date(i.period || '-01')))"
            if seeded.dialect == "sqlite"
            else "SELECT count(*) FROM monthly_income i"
            " WHERE NOT EXISTS (SELECT 1 FROM employment e"
            " WHERE e.person_id = i.person_id AND e.business_id = i.business_id"
            " AND e.valid_from < to_date(i.period, 'YYYY-MM') + interval '1 month'"
            " AND (e.valid_to IS NULL OR e.valid_to > to_date(i.period, 'YYYY-MM')))"
        )
        zero(
            "SELECT count(*) FROM employment e JOIN business b ON b.id = e.business_id"
            " WHERE e.valid_from < b.registered_on"
        )
        # Twelve months of income, money in whole cents.
        assert _scalar(session, "SELECT count(DISTINCT period) FROM monthly_income") == 12
        zero("SELECT count(*) FROM monthly_income WHERE amount < 0")
        # Payment accounts: adults who are alive, with valid IBANs.
        ibans = session.execute(text("SELECT iban FROM payment_account")).scalars().all()
        assert ibans
        assert all(iban_problem(i) is None for i in ibans)
        zero(
            "SELECT count(*) FROM payment_account a JOIN person p ON p.id = a.person_id"
            " WHERE p.date_of_death IS NOT NULL"
        )


def test_the_population_looks_like_a_country() -> None:
    population = generate_population(np.random.default_rng(3), persons=20_000, reference=REFERENCE)
    today = np.datetime64(REFERENCE, "D")
    age = (today - population.birth_date).astype(np.int64) / 365.25
    alive = np.isnat(population.date_of_death)
    assert age.min() >= 0
    assert age[alive].max() <= 105
    assert 0.15 < (age[alive] < 18).mean() < 0.30, "children"
    assert 0.12 < (age[alive] >= 65).mean() < 0.30, "the elderly"
    assert 0.03 < (~alive).mean() < 0.10, "people who died"
    children = population.role == 2
    birth_years = population.birth_date[children].astype("datetime64[Y]").astype(int) + 1970
    assert birth_years.max() - birth_years.min() >= 19, "births across the last twenty years"
    # Household shapes: two parents with children, single parents, couples, people alone.
    kinds = np.bincount(population.group_type, minlength=6)
    assert (kinds > 0).all()
    rel_kinds = set(population.rel_kind.tolist())
    assert rel_kinds == {"parent", "spouse", "partner"}
    assert {"divorce", "death"} <= set(population.rel_reason.tolist())


def test_the_same_seed_gives_the_same_country(tmp_path: Path) -> None:
    digests = []
    for name in ("a", "b", "c"):
        url = f"sqlite:///{tmp_path / name}.db"
        upgrade(url)
        database = Database(url)
        try:
            seed_country(
                database,
                persons=600,
                seed=11 if name != "c" else 12,
                progress=False,
                reference=REFERENCE,
            )
            digests.append(_digest(database))
        finally:
            database.dispose()
    assert digests[0] == digests[1]
    assert digests[0] != digests[2]


def test_generation_is_deterministic_in_memory() -> None:
    first = generate_population(np.random.default_rng(5), persons=3000, reference=REFERENCE)
    again = generate_population(np.random.default_rng(5), persons=3000, reference=REFERENCE)
    assert (first.personal_code == again.personal_code).all()
    assert (first.given_names == again.given_names).all()
    assert (first.birth_date == again.birth_date).all()


def test_seeding_again_adds_people_with_new_codes(
    sqlite_database: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_country(sqlite_database, persons=500, seed=1, progress=True, reference=REFERENCE)
    assert "Seeding the synthetic country" in capsys.readouterr().err
    seed_country(sqlite_database, persons=500, seed=1, progress=False, reference=REFERENCE)
    with sqlite_database.reading() as session:
        assert _scalar(session, "SELECT count(*) FROM person") == 1000
        assert _scalar(session, "SELECT count(DISTINCT personal_code) FROM person") == 1000
        assert (
            _scalar(session, "SELECT count(*) FROM demo_seed_run WHERE completed_at IS NOT NULL")
            == 2
        )
        assert _scalar(session, "SELECT count(*) FROM exchange_member") == len(organisations())


@pytest.mark.parametrize(("persons", "seed"), [(300, 4242), (100, 1), (1000, 99)])
def test_small_countries_seed_for_any_seed(
    sqlite_database: Database, persons: int, seed: int
) -> None:
    """Small populations once drew the same person twice for one business (chair = owner)."""
    summary = seed_country(
        sqlite_database, persons=persons, seed=seed, progress=False, reference=date(2025, 6, 1)
    )
    assert summary.persons == persons
    with sqlite_database.reading() as session:
        repeats = _scalar(
            session,
            "SELECT COUNT(*) FROM (SELECT business_id, person_id FROM business_representative "
            "GROUP BY business_id, person_id HAVING COUNT(*) > 1) AS repeated",
        )
    assert repeats == 0


def test_the_planner_knows_the_country_once_it_is_seeded(seeded: Database) -> None:
    """On PostgreSQL a country just loaded has its tables' statistics read (``ANALYZE``):
    without them the planner took its tables for empty ones and a re-evaluation's extract ran
    as a loop over two of them (minutes for 50,000 persons). SQLite plans without."""
    with seeded.reading() as session:
        if seeded.dialect == "postgresql":
            persons = session.execute(
                text("SELECT reltuples FROM pg_class WHERE oid = 'person'::regclass")
            ).scalar_one()
            assert persons == PERSONS
        else:
            statistics = "SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'"
            assert session.execute(text(statistics)).scalar_one() == 0
